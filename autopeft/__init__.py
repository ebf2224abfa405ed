"""autopeft: search PEFT configurations (method, placement, size, learning rates) for a model and task.

The names below are imported on first use (PEP 562), so that ``import autopeft`` and the
``autopeft --help`` command stay fast: torch, transformers and PEFT load only when needed.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from autopeft.errors import AutopeftError, SpecError, TrialFailed

__version__ = "0.1.0"

_LAZY = {
    "SearchResult": "autopeft.results.result",
    "load_study": "autopeft.results.result",
    "resume": "autopeft.api",
    "search": "autopeft.api",
    "SearchObserver": "autopeft.driver.observer",
    "export_trial": "autopeft.finetune.export",
    "export_reference": "autopeft.finetune.export",
    "train_exported": "autopeft.finetune.train",
    "load_adapter": "autopeft.methods",
    "save_adapter": "autopeft.methods",
    "StudySpec": "autopeft.spec",
    "load_spec": "autopeft.spec",
    "parse_spec": "autopeft.spec",
}

__all__ = [
    "AutopeftError",
    "SearchObserver",
    "SearchResult",
    "SpecError",
    "StudySpec",
    "TrialFailed",
    "__version__",
    "export_reference",
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

if TYPE_CHECKING:
    from autopeft.api import resume, search
    from autopeft.driver.observer import SearchObserver
    from autopeft.finetune.export import export_reference, export_trial
    from autopeft.finetune.train import train_exported
    from autopeft.methods import load_adapter, save_adapter
    from autopeft.results.result import SearchResult, load_study
    from autopeft.spec import StudySpec, load_spec, parse_spec


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'autopeft' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
