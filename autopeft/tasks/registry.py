"""The task classes by name (each is described, without torch, in ``kinds``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autopeft.data.source import Columns
from autopeft.errors import SpecError
from autopeft.tasks.base import Task
from autopeft.tasks.causal_lm import CausalLMTask
from autopeft.tasks.classification import ClassificationTask, SequenceTask
from autopeft.tasks.custom_metrics import CustomMetric
from autopeft.tasks.regression import RegressionTask

if TYPE_CHECKING:
    from torch import nn

TASKS: dict[str, type[Task]] = {t.name: t for t in (ClassificationTask, RegressionTask, CausalLMTask)}


def task_for(name: str, columns: Columns | None = None, custom_metrics: tuple[CustomMetric, ...] = ()) -> Task:
    """The task called ``name`` (a key of TASKS), reading ``columns`` (the defaults if None),
    computing ``custom_metrics`` too."""
    if name not in TASKS:
        raise SpecError("data.task", f"unknown task '{name}'", f"use one of: {', '.join(TASKS)}")
    return TASKS[name](columns, custom_metrics)


def peft_task_type(model_class: type[nn.Module]) -> str:
    """PEFT's task type for models of ``model_class``: that of the task whose models they are
    (by class name, e.g. ...ForCausalLM), or sequence classification's when none claims them."""
    name = model_class.__name__
    claimed = (task.peft_task_type for task in TASKS.values() if name.endswith(task.model_classes))
    return next(claimed, SequenceTask.peft_task_type)
