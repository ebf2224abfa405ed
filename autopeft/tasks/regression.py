"""Regression on one or two texts (STS-B style): one output, mean squared error."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from autopeft.data.encoding import EncodedSplit
from autopeft.errors import SpecError
from autopeft.tasks.classification import SequenceTask
from autopeft.tasks.custom_metrics import custom_scores
from autopeft.tasks.kinds import REGRESSION
from autopeft.tasks.metrics import correlation_metrics


class RegressionTask(SequenceTask):
    name = REGRESSION.name
    metrics = REGRESSION.metrics
    default_metric = REGRESSION.default_metric

    def prepare(self, train: Any, validation: Any, field: str = "data.validation") -> tuple[Any, Any, list[str]]:
        train, validation, _ = super().prepare(train, validation, field)
        for split, named in ((train, "data.train"), (validation, field)):
            try:
                [float(v) for v in split[self.columns.label]]
            except (TypeError, ValueError):
                raise SpecError(
                    "data.label",
                    f"column '{self.columns.label}' of {named} holds values that are not numbers",
                    "point data.label at a numeric column, or use task: classification",
                ) from None
        return train, validation, []

    def model_kwargs(self, label_names: list[str]) -> dict[str, Any]:
        return {"num_labels": 1, "problem_type": "regression"}

    def targets(self, dataset: Any) -> torch.Tensor:
        return torch.tensor([float(v) for v in dataset[self.columns.label]], dtype=torch.float32)

    def predictions(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.squeeze(-1).float()

    def score(
        self, predictions: torch.Tensor | None, labels: torch.Tensor | None, mean_loss: float
    ) -> dict[str, float]:
        return correlation_metrics(predictions.numpy(), labels.numpy()) | {"eval_loss": mean_loss}

    def baseline(self, train: EncodedSplit, validation: EncodedSplit) -> dict[str, float]:
        """Always predicting train's mean: no correlation, the labels' spread as loss."""
        mean, labels = float(train.labels.mean()), validation.labels.numpy()
        loss = float(np.mean((labels - mean) ** 2))
        custom = custom_scores(self.custom_metrics, np.full(len(labels), mean, dtype=labels.dtype), labels)
        return {"pearson": 0.0, "spearman": 0.0, "eval_loss": loss} | custom
