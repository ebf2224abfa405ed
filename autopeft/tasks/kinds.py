"""What the spec, the reports and export know of each task without loading it (the task
classes import torch): its name, metrics, default metric and PEFT task type. The task
classes take their names and metrics from here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskKind:
    """A task as the spec names it: ``metrics`` its validation pass returns, the one a study
    optimizes unless told otherwise, and PEFT's task type for its models."""

    name: str
    metrics: tuple[str, ...]
    default_metric: str
    peft_task_type: str


CLASSIFICATION = TaskKind(
    "classification", ("accuracy", "f1", "mcc", "balanced_accuracy", "macro_f1", "eval_loss"), "accuracy", "SEQ_CLS"
)
REGRESSION = TaskKind("regression", ("pearson", "spearman", "eval_loss"), "pearson", "SEQ_CLS")
CAUSAL_LM = TaskKind("causal_lm", ("eval_loss", "perplexity"), "perplexity", "CAUSAL_LM")
TASK_KINDS: dict[str, TaskKind] = {kind.name: kind for kind in (CLASSIFICATION, REGRESSION, CAUSAL_LM)}
