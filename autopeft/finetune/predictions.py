"""Each test row's prediction of a full training, kept beside its metrics.

Two configurations scored on the same test rows are compared row by row (a paired
comparison): a row both get right or both get wrong says nothing about their difference, so
the difference's standard error is far below that of two accuracies taken apart. That needs
every run's predictions, not only its score; they are small (a digit per row for
classification), so ``OUT/test_predictions.json`` keeps them with the labels and a digest of
the rows as the model saw them, which tells whether two runs scored the same rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autopeft.data.atomic import write_atomic
from autopeft.data.encoding import EncodedSplit
from autopeft.proxy.training import predict
from autopeft.tasks.base import Task

PREDICTIONS_FILE = "test_predictions.json"
DIGITS = 6  # a regression prediction's decimals


def compact(values: torch.Tensor) -> str | list[int] | list[float]:
    """Class ids as one string of digits when all are below 10 (else a list of ints); values
    rounded to ``DIGITS`` decimals."""
    if values.is_floating_point():
        return [round(float(v), DIGITS) for v in values.tolist()]
    ids = [int(v) for v in values.tolist()]
    return "".join(map(str, ids)) if all(0 <= v < 10 for v in ids) else ids


def expand(values: str | list) -> list:
    """``compact``'s inverse: the predictions (or labels) as a list, one per row."""
    return [int(v) for v in values] if isinstance(values, str) else list(values)


def scored_predictions(
    model: nn.Module, split: EncodedSplit, source: str, task: Task, batch_size: int, dtype: Any
) -> tuple[dict[str, float], dict[str, Any] | None]:
    """One pass over ``split`` (the test rows, from ``source``): its scores, as ``evaluate``
    scores them, and what ``PREDICTIONS_FILE`` keeps of it (None when the task predicts nothing
    per row: language modelling)."""
    where = next(model.parameters()).device
    predicted, mean_loss = predict(model, split, batch_size, task, where, dtype)
    scores = task.measure(predicted, split.labels, mean_loss)
    if predicted is None or split.labels is None:
        return scores, None
    kept = {
        "split": source,
        "rows": len(split),
        "digest": split.digest(),
        "predictions": compact(predicted),
        "labels": compact(split.labels),
        "scores": scores,
    }
    return scores, kept


def write_test_predictions(out_dir: Path, kept: dict[str, Any] | None) -> None:
    """Write ``out_dir/PREDICTIONS_FILE``; a run that kept none (no test split, or nothing per
    row) leaves no file from an earlier run in ``out_dir`` behind."""
    path = Path(out_dir) / PREDICTIONS_FILE
    if kept is None:
        path.unlink(missing_ok=True)
        return
    write_atomic(path, json.dumps(kept))


def read_predictions(out_dir: Path) -> dict[str, Any] | None:
    """A run's kept test predictions, or None when it kept none."""
    path = Path(out_dir) / PREDICTIONS_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def correct(kept: dict[str, Any]) -> list[float]:
    """Per row, 1.0 where a classification's prediction is its label, else 0.0."""
    return [float(p == y) for p, y in zip(expand(kept["predictions"]), expand(kept["labels"]), strict=True)]
