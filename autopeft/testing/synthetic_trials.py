"""Stand-in trials for testing and benchmarking executors: they take a fixed time and train
nothing, so a test or benchmark measures scheduling, not training.

``SleepingTrials`` is a worker setup (see ``autopeft.executors.ray.WorkerSetup``): Ray ships
it to each worker, which calls it once and then runs trials with what it returns.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autopeft.executors.base import Judge, TrialRequest, TrialResult
from autopeft.proxy.trial import TrialOutcome


def synthetic_outcome(request: TrialRequest, metric: str, seconds: float) -> TrialOutcome:
    """A repeatable outcome for a point: a score in [0.5, 1) and a parameter count from its hash."""
    digest = hashlib.sha256(json.dumps(request.point.to_dict(), sort_keys=True).encode()).digest()
    score = 0.5 + 0.5 * int.from_bytes(digest[:4], "big") / 2**32
    params = 1_000 + int.from_bytes(digest[4:8], "big") % 1_000_000
    measurements = {metric: score, "trainable_params": float(params)}
    return TrialOutcome(measurements, params, params / 1e6, seconds, 1)


@dataclass(frozen=True)
class SleepingTrials:
    """Each trial sleeps ``seconds`` in ``steps`` steps (reported to ``on_step`` with a falling
    loss) and returns ``synthetic_outcome``. Trials numbered in
    ``crash`` kill their worker process (SIGKILL) instead, as a lost node would; those in
    ``crash_once`` do so only the first time (marked by a file in ``marks``). With
    ``setup_fails_after_a_crash``, a worker set up after any crash fails its setup, as a node
    that lost its copy of the model would: Ray cannot restart it."""

    seconds: float = 1.0
    steps: int = 1
    metric: str = "accuracy"
    crash: frozenset[int] = field(default_factory=frozenset)
    crash_once: frozenset[int] = field(default_factory=frozenset)
    marks: str | None = None  # a folder every worker can write to
    setup_fails_after_a_crash: bool = False

    def __call__(self, judge: Judge | None = None) -> Callable[..., TrialResult]:
        if self.setup_fails_after_a_crash and any(Path(self.marks or ".").glob("crashed-*")):
            raise RuntimeError("setup failed: the model is gone from this node")
        return self.run

    def run(self, request: TrialRequest, on_step: Callable[[int, float], None] | None = None) -> TrialResult:
        if request.number in self.crash or (request.number in self.crash_once and self._first_time(request.number)):
            if self.setup_fails_after_a_crash:
                self._first_time(request.number)  # the mark that breaks the next setup
            os.kill(os.getpid(), signal.SIGKILL)
        for step in range(1, self.steps + 1):
            time.sleep(self.seconds / self.steps)
            if on_step is not None:
                on_step(step, 1.0 / step)
        return TrialResult(request.number, synthetic_outcome(request, self.metric, self.seconds))

    def _first_time(self, number: int) -> bool:
        mark = Path(self.marks or ".") / f"crashed-{number}"
        if mark.exists():
            return False
        mark.touch()
        return True
