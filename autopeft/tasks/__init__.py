"""Task types: classification, regression and causal-LM instruction tuning.

``kinds`` describes them without torch (what the spec and the read side need); the names
below load the task classes (and torch) on first use (PEP 562).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from autopeft.tasks.kinds import TASK_KINDS, TaskKind

_LAZY = {
    "TASKS": "autopeft.tasks.registry",
    "task_for": "autopeft.tasks.registry",
    "peft_task_type": "autopeft.tasks.registry",
    "Task": "autopeft.tasks.base",
    "TaskData": "autopeft.tasks.base",
    "load_task_data": "autopeft.tasks.base",
    "CausalLMTask": "autopeft.tasks.causal_lm",
    "ClassificationTask": "autopeft.tasks.classification",
    "RegressionTask": "autopeft.tasks.regression",
    "Columns": "autopeft.data.source",
}

__all__ = [
    "TASKS",
    "TASK_KINDS",
    "CausalLMTask",
    "ClassificationTask",
    "Columns",
    "RegressionTask",
    "Task",
    "TaskData",
    "TaskKind",
    "load_task_data",
    "peft_task_type",
    "task_for",
]

if TYPE_CHECKING:
    from autopeft.data.source import Columns
    from autopeft.tasks.base import Task, TaskData, load_task_data
    from autopeft.tasks.causal_lm import CausalLMTask
    from autopeft.tasks.classification import ClassificationTask
    from autopeft.tasks.registry import TASKS, peft_task_type, task_for
    from autopeft.tasks.regression import RegressionTask


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'autopeft.tasks' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
