"""One trial: materialize a point on the base model, train it by proxy, measure it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from autopeft.data.encoding import EncodedSplit
from autopeft.methods import build_model, count_parameters
from autopeft.space.base import Point
from autopeft.spec import BudgetSpec
from autopeft.training import train_proxy


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a study shares: loaded once, reused by each trial."""

    base_model: nn.Module
    base_model_path: str
    base_parameters: int
    train: EncodedSplit
    validation: EncodedSplit
    budget: BudgetSpec


@dataclass(frozen=True)
class TrialOutcome:
    """A finished trial's measurements (objectives are read from here by name)."""

    measurements: dict[str, float]
    trainable_params: int
    percent_of_base: float
    train_seconds: float
    steps: int
    stopped_early: bool = False


def run_trial(
    point: Point,
    context: TrialContext,
    seed: int,
    on_step: Callable[[int, float], None] | None = None,
    rungs: list[int] | None = None,
    on_rung: Callable[[int, dict[str, float]], bool] | None = None,
) -> TrialOutcome:
    """Build ``point`` with PEFT on a copy of the base model, train it, and measure it.

    ``on_rung(step, measurements)`` is asked at each rung whether training goes on.
    """
    model = build_model(context.base_model, point)
    trainable, _ = count_parameters(model)

    def measure(metrics: dict[str, float]) -> dict[str, float]:
        return dict(metrics, trainable_params=float(trainable))

    rung_callback = None if on_rung is None else (lambda step, metrics: on_rung(step, measure(metrics)))
    result = train_proxy(
        model,
        context.train,
        context.validation,
        point.hyperparameters,
        context.budget,
        seed,
        on_step=on_step,
        rungs=rungs,
        on_rung=rung_callback,
    )
    return TrialOutcome(
        measure(result.metrics),
        trainable,
        100.0 * trainable / context.base_parameters,
        result.train_seconds,
        result.steps,
        result.stopped_early,
    )
