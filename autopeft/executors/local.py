"""The local executor: one trial at a time, in this process."""

from __future__ import annotations

from collections.abc import Callable

from autopeft.executors.base import Executor, TrialRequest, TrialResult


class LocalExecutor(Executor):
    """Runs each submitted trial with ``run`` when asked to wait (the driver's own process,
    so step progress and successive-halving rungs reach the driver directly)."""

    capacity = 1

    def __init__(self, run: Callable[[TrialRequest], TrialResult]) -> None:
        self._run = run
        self._queue: list[TrialRequest] = []

    def submit(self, request: TrialRequest) -> None:
        self._queue.append(request)

    def wait(self) -> list[TrialResult]:
        return [self._run(self._queue.pop(0))]
