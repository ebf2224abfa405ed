"""Executors run trials; the driver (StudyRun) keeps the sampler and the study storage.

The driver asks the sampler for up to ``capacity`` trials, submits them, and records each
result as it comes back, so a parallel executor keeps its workers busy while the sampler
sees the running trials as pending points.
"""

from __future__ import annotations

import logging
import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from autopeft.errors import TrialFailed
from autopeft.space.base import Point
from autopeft.trial import TrialContext, TrialOutcome, run_trial


@dataclass(frozen=True)
class TrialRequest:
    """One trial to run: its number in the study, the point and the seed."""

    number: int
    point: Point
    seed: int


@dataclass(frozen=True)
class TrialResult:
    """A finished trial: its outcome, or why it failed."""

    number: int
    outcome: TrialOutcome | None = None
    fail_reason: str | None = None


def execute(request: TrialRequest, context: TrialContext, **hooks: Any) -> TrialResult:
    """Run one trial; any failure becomes a result with its reason, never an exception,
    so a broken trial cannot take the study down."""
    try:
        outcome = run_trial(request.point, context, seed=request.seed, **hooks)
    except TrialFailed as failure:
        return TrialResult(request.number, fail_reason=failure.reason)
    except Exception as error:
        logging.getLogger("autopeft").debug("trial %d failed\n%s", request.number, traceback.format_exc())
        return TrialResult(request.number, fail_reason=f"{type(error).__name__}: {error}")
    return TrialResult(request.number, outcome)


class Executor(ABC):
    """Runs submitted trials; ``wait`` hands back finished ones."""

    capacity: int = 1  # trials that run at once

    @abstractmethod
    def submit(self, request: TrialRequest) -> None:
        """Start a trial (or queue it)."""

    @abstractmethod
    def wait(self) -> list[TrialResult]:
        """Block until at least one submitted trial has finished; return the finished ones."""

    def close(self) -> None:  # noqa: B027 (optional: most executors hold nothing to release)
        """Release workers."""
