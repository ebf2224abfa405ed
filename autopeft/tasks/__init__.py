"""Task types: classification, regression and causal-LM instruction tuning."""

from __future__ import annotations

from autopeft.data.source import Columns
from autopeft.errors import SpecError
from autopeft.tasks.base import Task, TaskData, load_task_data
from autopeft.tasks.causal_lm import CausalLMTask
from autopeft.tasks.classification import ClassificationTask
from autopeft.tasks.regression import RegressionTask

TASKS: dict[str, type[Task]] = {t.name: t for t in (ClassificationTask, RegressionTask, CausalLMTask)}


def task_for(name: str, columns: Columns | None = None) -> Task:
    """The task called ``name`` (a key of TASKS), reading ``columns`` (the defaults if None)."""
    if name not in TASKS:
        raise SpecError("data.task", f"unknown task '{name}'", f"use one of: {', '.join(TASKS)}")
    return TASKS[name](columns)


__all__ = [
    "TASKS",
    "CausalLMTask",
    "ClassificationTask",
    "Columns",
    "RegressionTask",
    "Task",
    "TaskData",
    "load_task_data",
    "task_for",
]
