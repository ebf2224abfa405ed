"""What a task type decides: which columns it reads, how it tokenizes, which model head it
trains, and how a validation pass becomes metrics.

The training loop and the search never look at the task type; they ask the task.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import torch
from torch import nn

from autopeft.data.encoding import EncodedSplit
from autopeft.data.held_out import check_held_out
from autopeft.data.loading import load_splits
from autopeft.data.source import Columns, DataSource
from autopeft.tasks.custom_metrics import CustomMetric, custom_scores


class Task(ABC):
    """One task type; instances hold the columns the examples keep their fields in."""

    name: ClassVar[str]
    metrics: ClassVar[tuple[str, ...]]  # every metric ``score`` returns
    default_metric: ClassVar[str]  # the metric a study optimizes unless told otherwise
    # PEFT's TaskType for this task's models, and the endings of those models' class names
    # (what ``load_model`` returns): the one place that ties a head to PEFT's task type.
    peft_task_type: ClassVar[str]
    model_classes: ClassVar[tuple[str, ...]]
    auto_class: ClassVar[str]  # transformers' Auto class that ``load_model`` and ``load_skeleton`` use
    loading_options: ClassVar[Mapping[str, Any]] = MappingProxyType({})  # from_pretrained's, beyond the config

    def __init__(self, columns: Columns | None = None, custom_metrics: tuple[CustomMetric, ...] = ()) -> None:
        self.columns = columns or Columns()
        self.custom_metrics = custom_metrics  # the user's, computed beside ``metrics``

    @abstractmethod
    def required_columns(self) -> dict[str, str]:
        """Spec field -> column the data must have."""

    def prepare(self, train: Any, validation: Any, field: str = "data.validation") -> tuple[Any, Any, list[str]]:
        """Both splits reduced to the columns used, labels made numeric; and the label names.
        ``field`` names the validation rows in errors (``--test`` when they are held-out rows)."""
        keep = list(dict.fromkeys(self.required_columns().values()))
        return train.select_columns(keep), validation.select_columns(keep), []

    @abstractmethod
    def encode(self, dataset: Any, tokenizer: Any, max_length: int) -> EncodedSplit:
        """Token ids (unpadded, truncated to ``max_length``) and targets of every row."""

    def load_model(self, path: str, label_names: list[str], **options: Any) -> nn.Module:
        """The base model with this task's head (transformers' Auto class for it); ``options``
        go to ``from_pretrained`` (dtype, quantization)."""
        import transformers

        auto = getattr(transformers, self.auto_class)
        options = {**self.model_kwargs(label_names), **self.loading_options, **options, "trust_remote_code": False}
        return auto.from_pretrained(path, **options)  # never a model folder's own code

    def model_kwargs(self, label_names: list[str]) -> dict[str, Any]:
        """Configuration values the task's head needs (its number of outputs)."""
        return {}

    def load_skeleton(self, path: str, label_names: list[str]) -> nn.Module:
        """What ``load_model`` returns, on the meta device: every module with its shape, no
        weights. Enough to discover the architecture and count parameters exactly, so a
        7B model's space is checked in megabytes and seconds."""
        import transformers

        config = transformers.AutoConfig.from_pretrained(
            path, **self.model_kwargs(label_names), trust_remote_code=False
        )
        with torch.device("meta"):
            return getattr(transformers, self.auto_class).from_config(config)

    def loss_weight(self, batch: dict[str, torch.Tensor]) -> int:
        """How many targets the batch's mean loss averages over."""
        return len(batch["input_ids"])

    def predictions(self, logits: torch.Tensor) -> torch.Tensor | None:
        """What ``score`` compares with the labels; None when only the loss counts."""
        return None

    @abstractmethod
    def score(
        self, predictions: torch.Tensor | None, labels: torch.Tensor | None, mean_loss: float
    ) -> dict[str, float]:
        """Every metric of ``metrics`` for one validation pass."""

    def measure(
        self, predictions: torch.Tensor | None, labels: torch.Tensor | None, mean_loss: float
    ) -> dict[str, float]:
        """What a validation (or test) pass reports: ``score`` and the custom metrics."""
        scores = self.score(predictions, labels, mean_loss)
        if not self.custom_metrics:
            return scores
        return scores | custom_scores(self.custom_metrics, predictions.numpy(), labels.numpy())

    @abstractmethod
    def baseline(self, train: EncodedSplit, validation: EncodedSplit) -> dict[str, float] | None:
        """Metrics of a trivial predictor (majority class, mean value); None when the base
        model itself is the baseline (language modelling), scored by the caller."""


@dataclass(frozen=True)
class TaskData:
    """Train and validation rows (labels numeric), the label names and the task."""

    train: Any  # datasets.Dataset
    validation: Any  # datasets.Dataset
    label_names: list[str]
    task: Task

    @property
    def num_labels(self) -> int:
        return len(self.label_names)


def load_task_data(source: DataSource, task: Task, seed: int = 0, field: str = "data.validation") -> TaskData:
    """Load the train and validation splits of ``source``, check they hold the task's columns,
    and shape them for ``task``; ``seed`` carves the validation split when ``source`` asks for
    a fraction of train; ``field`` names the validation source in errors. Validation rows that
    do not come from the carving are checked to be held out (as the task reads them: labels
    that the task takes as one class are equal)."""
    train, validation = load_splits(source, task.required_columns(), seed, field)
    train, validation, names = task.prepare(train, validation, field)
    if source.validation is not None:
        check_held_out(train, validation, field, "data.train")
    return TaskData(train, validation, names, task)
