"""Custom metrics in the spec: an objective written as ``{metric: "module:function", direction:
maximize}`` (optionally ``name:``, by default the function's name) is measured on every
validation pass as ``fn(predictions, labels) -> float`` (see ``autopeft.tasks.custom_metrics``).

The spec keeps each under ``data.metrics`` (name -> function and direction) and names it in
``objectives``, so that a study's stored spec, an export's recipe and ``autopeft train`` carry it
with the data it is computed on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import field_validator

from autopeft.errors import SpecError
from autopeft.space.language import Strict
from autopeft.spec.objectives import OBJECTIVES
from autopeft.tasks.custom_metrics import FIELD, CustomMetric

_FUNCTION = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
_WRITTEN = 'write {metric: "module:function", direction: maximize} (or minimize)'


class CustomMetricSpec(Strict):
    """One custom metric: the function computing it and whether more is better."""

    function: str
    direction: Literal["maximize", "minimize"]

    @field_validator("function")
    @classmethod
    def _module_colon_function(cls, function: str) -> str:
        if not _FUNCTION.fullmatch(function):
            raise ValueError(f"{function!r} is not module:function. Fix: write e.g. mypkg.metrics:exact_match")
        return function


def custom_metrics(metrics: Mapping[str, CustomMetricSpec]) -> tuple[CustomMetric, ...]:
    """The spec's custom metrics as the tasks compute them."""
    return tuple(CustomMetric(name, metric.function) for name, metric in metrics.items())


def directions(metrics: Mapping[str, CustomMetricSpec]) -> dict[str, str]:
    """Each custom metric's direction by name (what ``objectives_for`` takes)."""
    return {name: metric.direction for name, metric in metrics.items()}


def check_custom_metrics(metrics: Mapping[str, CustomMetricSpec], task: str) -> None:
    """Import each custom metric and try it on tiny inputs: a bad one is a spec error before
    any data or model loads."""
    for metric in custom_metrics(metrics):
        metric.check(task)


def lift_custom_objectives(raw: dict[str, Any], task: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The raw spec with each objective written as a mapping moved to ``data.metrics`` (and
    named in ``objectives``); and every custom metric's direction by name, checked."""
    data = raw.get("data")
    data = data.model_dump() if hasattr(data, "model_dump") else dict(data or {})
    metrics = dict(data.get("metrics") or {})
    objectives = raw.get("objectives")
    if isinstance(objectives, list) and any(isinstance(entry, Mapping) for entry in objectives):
        names = []
        for entry in objectives:
            name, metric = _written(entry) if isinstance(entry, Mapping) else (entry, None)
            if metric is not None:
                metrics[name] = metric
            names.append(name)
        raw = raw | {"objectives": names, "data": data | {"metrics": metrics}}
    directions = {}
    for name, metric in metrics.items():
        direction = metric.get("direction") if isinstance(metric, Mapping) else getattr(metric, "direction", None)
        if name in OBJECTIVES:
            raise SpecError(
                FIELD, f"custom metric name '{name}' is a built-in objective", "give it a `name:` of its own"
            )
        if task == "causal_lm":
            raise SpecError(
                FIELD,
                f"custom metric '{name}': causal_lm scores only the loss",
                "use a classification or regression task",
            )
        directions[name] = direction
    return raw, directions


def _written(entry: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    unknown = sorted(set(entry) - {"metric", "direction", "name"})
    if unknown:
        raise SpecError(FIELD, f"unknown key '{unknown[0]}' in {dict(entry)}", _WRITTEN + ", name: optional")
    function, direction = entry.get("metric"), entry.get("direction")
    if not isinstance(function, str) or not _FUNCTION.fullmatch(function):
        raise SpecError(FIELD, f"{dict(entry)} names no module:function as its metric", _WRITTEN)
    if direction not in ("maximize", "minimize"):
        given = "no direction" if direction is None else f"direction {direction!r}"
        raise SpecError(FIELD, f"custom metric {function} has {given}", _WRITTEN)
    name = entry.get("name") or function.rpartition(":")[2]
    return name, {"function": function, "direction": direction}
