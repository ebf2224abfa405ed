"""Search spaces: from a spec and a model's architecture to points a trial can train."""

from autopeft.models.arch import Architecture
from autopeft.space.base import Hyperparameters, Point, SearchSpace
from autopeft.space.lora import LoraSpace
from autopeft.spec import LoraSpaceSpec


def build_space(spec: LoraSpaceSpec, arch: Architecture) -> SearchSpace:
    """The search space the spec describes, sized against ``arch``."""
    return LoraSpace(spec, arch)


__all__ = ["Hyperparameters", "Point", "SearchSpace", "LoraSpace", "build_space"]
