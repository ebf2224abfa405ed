"""Base models: loading them and finding their layers and module roles."""

from autopeft.models.arch import Architecture, discover_architecture
from autopeft.models.loading import load_base_model, resolve_model_path

__all__ = ["Architecture", "discover_architecture", "load_base_model", "resolve_model_path"]
