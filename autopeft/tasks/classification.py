"""Single-sentence and sentence-pair classification (SST-2, RTE, MRPC style)."""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from autopeft.data.encoding import EncodedSplit, tokenizer_features
from autopeft.data.source import Columns
from autopeft.errors import SpecError
from autopeft.tasks.base import Task
from autopeft.tasks.custom_metrics import CustomMetric, custom_scores
from autopeft.tasks.kinds import CLASSIFICATION
from autopeft.tasks.metrics import classification_metrics


class SequenceTask(Task):
    """Shared by classification and regression: one or two text columns and a label column."""

    peft_task_type = "SEQ_CLS"
    model_classes = ("ForSequenceClassification",)
    auto_class = "AutoModelForSequenceClassification"
    # A checkpoint whose head has another size (a classifier reused for regression, or for
    # other labels) gets a fresh head of the right size.
    loading_options = MappingProxyType({"ignore_mismatched_sizes": True})

    def required_columns(self) -> dict[str, str]:
        columns = {"data.text": self.columns.text, "data.label": self.columns.label}
        if self.columns.text_pair is not None:
            columns["data.text_pair"] = self.columns.text_pair
        return columns

    def targets(self, dataset: Any) -> torch.Tensor:
        """The label column as the tensor the model's loss expects."""
        raise NotImplementedError

    def encode(self, dataset: Any, tokenizer: Any, max_length: int) -> EncodedSplit:
        texts = list(dataset[self.columns.text])
        pairs = list(dataset[self.columns.text_pair]) if self.columns.text_pair else None
        encoded = tokenizer(texts, pairs, truncation=True, max_length=max_length)
        return EncodedSplit(tokenizer_features(encoded), self.targets(dataset), {"input_ids": tokenizer.pad_token_id})

    def model_kwargs(self, label_names: list[str]) -> dict[str, Any]:
        return {"num_labels": len(label_names)}


class ClassificationTask(SequenceTask):
    """Labels of any type become class ids 0..k-1, in sorted order of the train labels (a
    hub dataset's ClassLabel keeps its own ids and names)."""

    name = CLASSIFICATION.name
    metrics = CLASSIFICATION.metrics
    default_metric = CLASSIFICATION.default_metric

    def __init__(self, columns: Columns | None = None, custom_metrics: tuple[CustomMetric, ...] = ()) -> None:
        super().__init__(columns, custom_metrics)
        self.num_labels = 0

    def prepare(self, train: Any, validation: Any, field: str = "data.validation") -> tuple[Any, Any, list[str]]:
        train, validation, _ = super().prepare(train, validation, field)
        feature = train.features[self.columns.label]
        if hasattr(feature, "names") and hasattr(feature, "str2int"):  # datasets.ClassLabel
            return self._class_label(train, validation, list(feature.names), field)
        values = sorted({label_key(v) for v in train[self.columns.label]}, key=lambda v: (isinstance(v, str), v))
        numbers, words = [v for v in values if not isinstance(v, str)], [v for v in values if isinstance(v, str)]
        if numbers and words:  # 0 and "neg" would be two classes of one meaning: a head that cannot learn it
            raise SpecError(
                "data.label",
                f"column '{self.columns.label}' mixes numbers {numbers[:3]} and text {words[:3]}",
                "write every label one way (all numbers or all text)",
            )
        names = [str(v) for v in values]
        if len(names) < 2:
            raise SpecError(
                "data.label",
                f"column '{self.columns.label}' has fewer than two distinct labels",
                "point it at the label column",
            )
        index = {name: i for i, name in enumerate(names)}

        def encode(split: Any, field: str) -> Any:
            column = [str(label_key(v)) for v in split[self.columns.label]]
            unknown = set(column) - set(index)
            if unknown:
                raise SpecError(
                    field,
                    f"labels {sorted(unknown)[:5]} do not occur in train (train's labels: {names[:10]})",
                    "make both splits share one label set",
                )
            return split.remove_columns(self.columns.label).add_column(self.columns.label, [index[v] for v in column])

        self.num_labels = len(names)
        return encode(train, "data.train"), encode(validation, field), names

    def _class_label(self, train: Any, validation: Any, names: list[str], field: str) -> tuple[Any, Any, list[str]]:
        for split, named in ((train, "data.train"), (validation, field)):
            if min(split[self.columns.label]) < 0:
                raise SpecError(named, "some rows have no label (-1, as in GLUE's test splits)", "use a labelled split")
        self.num_labels = len(names)
        return train, validation, names

    def targets(self, dataset: Any) -> torch.Tensor:
        return torch.tensor(list(dataset[self.columns.label]), dtype=torch.long)

    def _label_count(self, labels: torch.Tensor) -> int:
        """Classes of the head (known after ``prepare``), or at least those the labels show."""
        return max(self.num_labels, int(labels.max()) + 1)

    def predictions(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.argmax(-1)

    def score(
        self, predictions: torch.Tensor | None, labels: torch.Tensor | None, mean_loss: float
    ) -> dict[str, float]:
        num_labels = self._label_count(labels)
        return classification_metrics(predictions.numpy(), labels.numpy(), num_labels) | {"eval_loss": mean_loss}

    def baseline(self, train: EncodedSplit, validation: EncodedSplit) -> dict[str, float]:
        """Always predicting train's most common class; the loss of a uniform guess."""
        majority = int(torch.bincount(train.labels).argmax())
        predicted = np.full(len(validation), majority)
        num_labels = self._label_count(validation.labels)
        labels = validation.labels.numpy()
        scores = classification_metrics(predicted, labels, num_labels) | {"eval_loss": math.log(num_labels)}
        return scores | custom_scores(self.custom_metrics, predicted, labels)


def label_key(value: Any) -> Any:
    """A label as a class: 1.0 and 1 are the same class (a CSV or a pandas export writes floats)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
