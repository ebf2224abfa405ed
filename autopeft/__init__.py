"""autopeft: search PEFT configurations (method, placement, size, learning rates) for a model and task."""

from autopeft.api import SearchResult, load_study, resume, search
from autopeft.errors import AutopeftError, SpecError, TrialFailed
from autopeft.export import export_trial
from autopeft.finetune import train_exported
from autopeft.methods import load_adapter, save_adapter
from autopeft.spec import StudySpec, load_spec, parse_spec

__version__ = "0.1.0"

__all__ = [
    "AutopeftError",
    "SpecError",
    "TrialFailed",
    "SearchResult",
    "StudySpec",
    "export_trial",
    "load_adapter",
    "load_spec",
    "load_study",
    "parse_spec",
    "resume",
    "save_adapter",
    "search",
    "train_exported",
]
