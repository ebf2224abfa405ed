"""Objectives: which measurement a study optimizes, in which direction, in which geometry.

A study names its objectives in the spec (``objectives: [accuracy, trainable_params]``)
or by a preset in the repository's ``objectives/`` folder (``objectives: memory``; shipped in
the package as ``autopeft.spec.presets.objectives``, ``AUTOPEFT_OBJECTIVES`` names another folder),
where ``metric`` stands for the task's own metric (accuracy, Pearson, perplexity).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from autopeft.errors import SpecError
from autopeft.spec.presets import preset_folder
from autopeft.spec.yaml_io import read_preset

if TYPE_CHECKING:
    import numpy as np

TASK_METRIC = "metric"  # in presets and specs: the task's default metric


class Direction(str, Enum):
    """optuna's study directions by name, which optuna takes as they are; its own enum would load
    optuna (and numpy) for every reader of a spec."""

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


def _identity(value: float) -> float:
    return value


def _log_count(value: float) -> float:
    return math.log10(1.0 + value)


def _log(value: float) -> float:
    return math.log(max(value, 1e-12))


@dataclass(frozen=True)
class Objective:
    """A named measurement of a trial and whether more is better.

    ``scale`` is the geometry the optimizer compares trials in: counts, memory and
    perplexity on a log scale, so halving a small adapter counts as much as halving a large one.
    """

    name: str
    direction: Direction
    label: str
    scale: Callable[[float], float] = _identity
    task_metric: bool = False  # measured on the validation split (rather than a cost)

    @property
    def maximize(self) -> bool:
        return self.direction.name == "MAXIMIZE"  # optuna's StudyDirection is read the same

    def maximized(self, value: float) -> float:
        """The value in the optimizer's geometry, larger is better."""
        scaled = self.scale(value)
        return scaled if self.maximize else -scaled


_MAX, _MIN = Direction.MAXIMIZE, Direction.MINIMIZE
OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective("accuracy", _MAX, "val accuracy", task_metric=True),
        Objective("f1", _MAX, "val F1", task_metric=True),
        Objective("mcc", _MAX, "val MCC", task_metric=True),
        Objective("balanced_accuracy", _MAX, "val balanced accuracy", task_metric=True),
        Objective("macro_f1", _MAX, "val macro F1", task_metric=True),
        Objective("pearson", _MAX, "val Pearson", task_metric=True),
        Objective("spearman", _MAX, "val Spearman", task_metric=True),
        Objective("eval_loss", _MIN, "val loss", task_metric=True),
        Objective("perplexity", _MIN, "val perplexity", _log, task_metric=True),
        Objective("trainable_params", _MIN, "trainable params", _log_count),
        Objective("peak_memory_mb", _MIN, "peak train MB", _log),
        Objective("throughput", _MAX, "train examples/s"),
        Objective("latency_overhead", _MIN, "latency overhead"),
    )
}


def objectives_for(names: list[str], custom: Mapping[str, str] | None = None) -> list[Objective]:
    """The objectives named in a spec, in its order; ``custom``: the direction (maximize or
    minimize) of each custom metric by name."""
    custom = custom or {}
    return [OBJECTIVES[name] if name not in custom else custom_objective(name, custom[name]) for name in names]


def custom_objective(name: str, direction: str) -> Objective:
    """A custom metric as an objective: measured on the validation split, compared as it is."""
    return Objective(name, Direction[direction.upper()], f"val {name}", task_metric=True)


def maximized_vector(objectives: list[Objective], measurements: Mapping[str, float]) -> np.ndarray:
    """A trial's measurements as one row of maximized objective values."""
    import numpy as np

    return np.array([o.maximized(measurements[o.name]) for o in objectives])


def dominates(a: list[float], b: list[float]) -> bool:
    """Whether maximized vector ``a`` is at least as good as ``b`` everywhere and better somewhere."""
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(x > y for x, y in zip(a, b, strict=True))


def load_objective_preset(name: str) -> list[str]:
    """The objective names of the preset ``name`` (or of the YAML file at that path)."""
    path, raw = read_preset(
        name, preset_folder("objectives"), "objectives", "objectives", "a YAML file path, or a list of objective names"
    )
    names = raw.get("objectives") if isinstance(raw, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SpecError(
            "objectives", "a preset holds a list of objective names", "see objectives/default.yaml", str(path)
        )
    return names


def resolve_objectives(
    names: list[str] | str,
    task_metrics: tuple[str, ...],
    default_metric: str,
    task: str,
    custom: Mapping[str, str] | None = None,
) -> list[str]:
    """Concrete objective names: a preset loaded, ``metric`` replaced by the task's metric, each
    checked (``custom``: the custom metrics' names, known too)."""
    custom = custom or {}
    if isinstance(names, str):
        known = names in OBJECTIVES or names in custom or names == TASK_METRIC
        names = [names] if known else load_objective_preset(names)
    resolved = [default_metric if name == TASK_METRIC else name for name in names]
    for name in resolved:
        if name in custom:
            continue
        if ":" in name:
            raise SpecError(
                "objectives",
                f"custom metric '{name}' has no direction",
                f'write {{metric: "{name}", direction: maximize}} (or minimize)',
            )
        if name not in OBJECTIVES:
            raise SpecError(
                "objectives", f"unknown objective '{name}'", f"use {TASK_METRIC} or one of: {', '.join(OBJECTIVES)}"
            )
        if OBJECTIVES[name].task_metric and name not in task_metrics:
            raise SpecError(
                "objectives",
                f"'{name}' is not a metric of {task} tasks",
                f"use one of: {', '.join(task_metrics)} (or {TASK_METRIC})",
            )
    if len(set(resolved)) != len(resolved):
        raise SpecError("objectives", f"an objective is named twice in {resolved}", "name each objective once")
    if resolved[0] not in custom and not OBJECTIVES[resolved[0]].task_metric:
        raise SpecError("objectives", f"the first objective is '{resolved[0]}'", "put the task metric first")
    return resolved
