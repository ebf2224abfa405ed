"""Metrics the user writes: ``fn(predictions, labels) -> float`` named as ``module:function``.

``predictions`` are what the task compares with the labels (class ids, the argmax of the logits,
for classification; the predicted numbers for regression), ``labels`` the true ones, both numpy
arrays over the scored validation (or test) rows. The function is imported where it is called
(a Ray worker imports it too) and must return a finite number for any predictions, constant
ones included (the baseline's trivial predictor is constant).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autopeft.errors import SpecError, TrialFailed

if TYPE_CHECKING:
    import numpy as np

FIELD = "objectives"  # where the user names a custom metric (the spec keeps it as data.metrics)
_IMPORTABLE = "install its package, or put its folder on PYTHONPATH (on every Ray worker too)"


def probes(task: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Tiny inputs a metric is tried on when the spec is read: varied and constant predictions
    (numpy loads here, not for every reader of a spec)."""
    import numpy as np

    if task == "classification":
        labels = np.array([0, 1, 0, 0])
        return [(np.array([0, 1, 1, 0]), labels), (np.zeros(4, dtype=np.int64), labels)]
    labels = np.array([0.0, 1.0, 0.5, 0.5], dtype=np.float32)
    return [(np.array([0.1, 0.9, 0.4, 0.2], dtype=np.float32), labels), (np.full(4, 0.5, dtype=np.float32), labels)]


@dataclass(frozen=True)
class CustomMetric:
    """A metric named ``name`` in the study, computed by ``function`` (``module:function``)."""

    name: str
    function: str

    def load(self) -> Callable[[np.ndarray, np.ndarray], float]:
        """The function, imported; a one-line SpecError when it cannot be."""
        module_name, _, attribute = self.function.partition(":")
        where = f"custom metric '{self.name}' ({self.function})"
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # noqa: BLE001 - whatever the module raised while importing
            raise SpecError(FIELD, f"{where}: module {module_name} does not import ({error})", _IMPORTABLE) from None
        found = getattr(module, attribute, None)
        if found is None:
            raise SpecError(FIELD, f"{where}: {module_name} has no '{attribute}'", "name a function of the module")
        if not callable(found):
            raise SpecError(FIELD, f"{where}: {module_name}.{attribute} is not callable", "name a function")
        return found

    def __call__(self, predictions: np.ndarray, labels: np.ndarray) -> float:
        """The metric on these rows; a trial fails (with this reason) when it raises or is not a
        finite number (the trivial predictor's baseline too: one line, not the function's traceback)."""
        try:
            value = self.load()(predictions, labels)
        except Exception as error:  # noqa: BLE001 - whatever the user's function raised
            raise TrialFailed(
                f"custom metric '{self.name}' ({self.function}) raised {type(error).__name__}: {error}"
            ) from error
        try:
            number = math.nan if isinstance(value, (str, bytes)) else float(value)  # "0.5" is not a score
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise TrialFailed(f"custom metric '{self.name}' ({self.function}) returned {value!r}, not a finite number")
        return number

    def check(self, task: str) -> None:
        """Import the function and try it on tiny inputs of ``task``'s kind (at spec time,
        before any data or model loads)."""
        self.load()
        for predictions, labels in probes(task):
            try:
                self(predictions, labels)
            except Exception as error:  # noqa: BLE001 - the user's function, on our probe
                raise SpecError(
                    FIELD,
                    f"custom metric '{self.name}' ({self.function}) fails on predictions {predictions.tolist()} "
                    f"and labels {labels.tolist()}: {error}",
                    "make fn(predictions: np.ndarray, labels: np.ndarray) return a finite float for any rows",
                ) from None


def custom_scores(metrics: tuple[CustomMetric, ...], predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Every custom metric on one pass's predictions."""
    return {metric.name: metric(predictions, labels) for metric in metrics}
