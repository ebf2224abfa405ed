"""Task types: classification, regression and causal-LM instruction tuning."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autopeft.tasks.base import Task
from autopeft.tasks.causal_lm import CausalLMTask
from autopeft.tasks.classification import ClassificationTask
from autopeft.tasks.regression import RegressionTask

if TYPE_CHECKING:
    from autopeft.spec import DataSpec

TASKS: dict[str, type[Task]] = {t.name: t for t in (ClassificationTask, RegressionTask, CausalLMTask)}


def task_for(spec: DataSpec) -> Task:
    """The task the data spec names."""
    return TASKS[spec.task](spec)


__all__ = ["TASKS", "CausalLMTask", "ClassificationTask", "RegressionTask", "Task", "task_for"]
