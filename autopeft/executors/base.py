"""Executors run trials; the driver (the search loop) keeps the sampler and the study storage.

The driver asks the sampler for up to ``capacity`` trials, submits them, and records each
result as it comes back, so a parallel executor keeps its workers busy while the sampler
sees the running trials as pending points.
"""

from __future__ import annotations

import logging
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from autopeft.errors import TrialFailed
from autopeft.proxy.trial import TrialContext, TrialOutcome, run_trial
from autopeft.space.base import Point


@dataclass(frozen=True)
class TrialRequest:
    """One trial to run: its number in the study, the point and the seed.

    A spec's reference configuration runs as a request too, named by ``reference`` and
    numbered below zero (apart from the study's trials); it always trains every step.
    """

    number: int
    point: Point
    seed: int
    reference: str | None = None
    start_by: float | None = None  # time.time() past which a queued request is handed back unrun
    steps: int | None = None  # train this many steps instead of the budget's (the confirmation stage)
    confirms: str | None = None  # the configuration a confirmation run trains again (``trial N``, ``reference X``)

    @property
    def trains_in_full(self) -> bool:
        """References and confirmation runs train every step (no rung stops them)."""
        return self.reference is not None or self.confirms is not None


@dataclass(frozen=True)
class TrialResult:
    """A finished trial: its outcome, or why it failed."""

    number: int
    outcome: TrialOutcome | None = None
    fail_reason: str | None = None
    attempts: int = 1  # more than one when a worker died mid-trial and the trial ran again
    rungs: dict[str, dict[str, float]] = field(default_factory=dict)  # step -> measurements at each rung
    worker: str | None = None  # where it ran, as node:pid (remote executors)
    not_started: bool = False  # handed back unrun: it waited in a queue past its ``start_by``
    losses: tuple[float, ...] = ()  # the training loss of each step, in order (trackers log the curve)


Judge = Callable[[int, Mapping[str, float]], bool]  # (rung step, measurements) -> whether training goes on
StepHook = Callable[[TrialRequest, int, float], None]  # (the run, step, loss): progress for displays


def execute(
    request: TrialRequest,
    context: TrialContext,
    *,
    rungs: list[int] | None = None,
    judge: Judge | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> TrialResult:
    """Run one trial; any failure becomes a result with its reason, never an exception,
    so a broken trial cannot take the study down. With ``judge``, the trial is scored at
    ``rungs`` (successive halving) and the scores come back with the result."""
    scores: dict[str, dict[str, float]] = {}

    def on_rung(step: int, measurements: Mapping[str, float]) -> bool:
        scores[str(step)] = dict(measurements)
        return judge(step, measurements)

    losses: list[float] = []

    def step(number: int, loss: float) -> None:
        losses.append(loss)
        if on_step is not None:
            on_step(number, loss)

    hooks: dict[str, Any] = {"on_step": step, "steps": request.steps}
    if judge is not None and not request.trains_in_full:
        hooks |= {"rungs": rungs, "on_rung": on_rung}
    try:
        outcome = run_trial(request.point, context, seed=request.seed, **hooks)
    except Exception as error:  # TrialFailed carries its own reason; anything else is named by its type
        logging.getLogger("autopeft").debug("trial %d failed\n%s", request.number, traceback.format_exc())
        reason = error.reason if isinstance(error, TrialFailed) else f"{type(error).__name__}: {error}"
        return TrialResult(request.number, fail_reason=reason, rungs=scores, losses=tuple(losses))
    return TrialResult(request.number, outcome, rungs=scores, losses=tuple(losses))


class Executor(ABC):
    """Runs submitted trials; ``wait`` hands back finished ones."""

    capacity: int = 1  # trials that run at once
    on_step: StepHook | None = None  # where an executor with remote workers reports their steps (the driver sets it)

    @abstractmethod
    def submit(self, request: TrialRequest) -> None:
        """Start a trial (or queue it)."""

    @abstractmethod
    def wait(self) -> list[TrialResult]:
        """Block until at least one submitted trial has finished; return the finished ones."""

    def close(self) -> None:  # noqa: B027 (optional: most executors hold nothing to release)
        """Release workers."""
