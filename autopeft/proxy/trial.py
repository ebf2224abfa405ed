"""One trial: materialize a point on the base model, train it by proxy, measure it."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import nn

from autopeft.data.encoding import EncodedSplit
from autopeft.methods import build_model, count_parameters
from autopeft.proxy.budget import ProxyBudget
from autopeft.proxy.devices import autocast, autocast_dtype, to_device
from autopeft.proxy.measure import latency_overhead
from autopeft.proxy.training import train_proxy
from autopeft.space.base import Point
from autopeft.tasks import Task


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a study shares: loaded once, reused by each trial."""

    base_model: nn.Module  # on ``device``
    base_model_path: str
    base_parameters: int
    train: EncodedSplit
    validation: EncodedSplit
    budget: ProxyBudget
    task: Task
    device: torch.device = torch.device("cpu")
    measure_latency: bool = False  # only when an objective needs it: it costs forward passes


@dataclass(frozen=True)
class TrialOutcome:
    """A finished trial's measurements (objectives are read from here by name)."""

    measurements: dict[str, float]
    trainable_params: int
    percent_of_base: float
    train_seconds: float
    steps: int
    stopped_early: bool = False


def measure_latency(model: nn.Module, context: TrialContext) -> float:
    """Latency overhead of ``model`` over the base model on one validation batch."""
    rows = list(range(min(len(context.validation), context.budget.batch_size * 2)))
    batch = to_device(context.validation.batch(rows), context.device)
    dtype = autocast_dtype(context.device, context.budget.precision)
    return latency_overhead(
        context.base_model, model, batch, context.device, context=lambda: autocast(context.device, dtype)
    )


def run_trial(
    point: Point,
    context: TrialContext,
    seed: int,
    on_step: Callable[[int, float], None] | None = None,
    rungs: list[int] | None = None,
    on_rung: Callable[[int, dict[str, float]], bool] | None = None,
    steps: int | None = None,
) -> TrialOutcome:
    """Build ``point`` on a copy of the base model, train it, and measure it.

    ``seed`` sets the adapter's first weights and the batch order; the base model's fresh
    head is the study's (seeded when it loaded). Latency is measured before training: it
    depends on the modules placed, not on their values. ``on_rung(step, measurements)`` is
    asked at each rung whether training goes on. ``steps`` overrides the budget's (the
    confirmation stage may train longer than the proxy).
    """
    torch.manual_seed(seed)  # the adapter's first weights: the trial's seed alone, not what ran before it
    model = build_model(context.base_model, point)
    try:
        trainable, _ = count_parameters(model)
        costs = {"trainable_params": float(trainable)}
        if context.measure_latency:
            costs["latency_overhead"] = measure_latency(model, context)

        def measure(metrics: dict[str, float]) -> dict[str, float]:
            return metrics | costs

        rung_callback = None if on_rung is None else (lambda step, metrics: on_rung(step, measure(metrics)))
        result = train_proxy(
            model,
            context.train,
            context.validation,
            point.hyperparameters,
            context.budget if steps is None else replace(context.budget, steps=steps),
            seed,
            context.task,
            context.device,
            on_step=on_step,
            rungs=rungs,
            on_rung=rung_callback,
        )
    finally:
        del model
        if context.device.type == "cuda":
            gc.collect()
            torch.cuda.empty_cache()  # several trials may share this GPU
    return TrialOutcome(
        measure(result.metrics),
        trainable,
        100.0 * trainable / context.base_parameters,
        result.train_seconds,
        result.steps,
        result.stopped_early,
    )
