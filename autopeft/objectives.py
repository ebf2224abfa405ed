"""Objectives: which measurement a study optimizes, in which direction, in which geometry."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from optuna.study import StudyDirection


def _identity(value: float) -> float:
    return value


def _log_count(value: float) -> float:
    return math.log10(1.0 + value)


@dataclass(frozen=True)
class Objective:
    """A named measurement of a trial and whether more is better.

    ``scale`` is the geometry the optimizer compares trials in: trainable parameters on
    a log scale, so halving a small adapter counts as much as halving a large one.
    """

    name: str
    direction: StudyDirection
    label: str
    scale: Callable[[float], float] = _identity

    @property
    def maximize(self) -> bool:
        return self.direction == StudyDirection.MAXIMIZE

    def maximized(self, value: float) -> float:
        """The value in the optimizer's geometry, larger is better."""
        scaled = self.scale(value)
        return scaled if self.maximize else -scaled


OBJECTIVES: dict[str, Objective] = {
    "accuracy": Objective("accuracy", StudyDirection.MAXIMIZE, "val accuracy"),
    "trainable_params": Objective("trainable_params", StudyDirection.MINIMIZE, "trainable params", _log_count),
}


def objectives_for(names: list[str]) -> list[Objective]:
    """The objectives named in a spec, in its order."""
    return [OBJECTIVES[name] for name in names]


def maximized_vector(objectives: list[Objective], measurements: Mapping[str, float]) -> np.ndarray:
    """A trial's measurements as one row of maximized objective values."""
    return np.array([o.maximized(measurements[o.name]) for o in objectives])
