"""The observer protocol: what a search tells a display or tracker as it runs (all hooks are
called in the driver process)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from autopeft.store.records import Confirmation, ReferenceRecord, TrialRecord

if TYPE_CHECKING:
    from autopeft.executors.base import TrialRequest
    from autopeft.store.study import StudyStore


class SearchObserver:
    """Hooks for showing progress; the default shows nothing. Subclass it to plug in your own
    display or tracking: every hook is called in the driver process, in this order."""

    def on_start(
        self, store: StudyStore, done: int, total: int, baseline: dict[str, float], references: int = 0
    ) -> None:
        """The run begins: ``done`` of ``total`` trials finished, ``references`` references to train."""

    def on_trial_start(self, number: int) -> None:
        """Trial ``number`` was asked for (it trains next, or fails at once if over budget)."""

    def on_step(self, step: int, loss: float) -> None:
        """A training step of the running trial (local executor only)."""

    def on_run_step(self, request: TrialRequest, step: int, loss: float) -> None:
        """A training step of ``request`` (a trial, a reference or a confirmation run), under any
        executor: each step of a local run (right after ``on_step``), the latest about once a
        second of each run on a Ray worker (several run at once there)."""

    def on_trial_end(self, record: TrialRecord) -> None:
        """A trial was recorded, finished or failed (right after ``on_start``, with no
        ``on_trial_start``, for one a killed search had finished but not recorded)."""

    def on_reference_start(self, name: str) -> None:
        """A reference configuration starts training."""

    def on_reference_end(self, record: ReferenceRecord) -> None:
        """A reference was recorded."""

    def on_time_up(self, hours: float, not_started: int) -> None:
        """The wall-clock budget (``budget.hours``) ran out; ``not_started`` trials will not start."""

    def on_confirmation_start(self, runs: int, seeds: int) -> None:
        """The confirmation stage starts ``runs`` trainings (``seeds`` per chosen configuration)."""

    def on_confirmation_run_start(self, key: str, seed: int) -> None:
        """A confirmation run of ``key`` (``trial N``, ``reference NAME``) with ``seed`` starts training."""

    def on_confirmation_end(self, key: str, confirmation: Confirmation, seed: int) -> None:
        """The confirmation run of ``key`` with ``seed`` was recorded; ``confirmation`` holds
        ``key``'s runs so far (``confirmation.run_of(seed)`` is this one)."""

    # -- live tracking: trackers log these; a display may ignore them --------------------

    def on_trial_losses(self, key: str, losses: Sequence[float]) -> None:
        """The training losses of ``key`` (``trial N``, ``reference NAME``, or a confirmation
        run's ``confirmation_run_key``) by step (``losses[i]`` is step i+1's), right before its
        end is recorded; under any executor, so a tracker that got no ``on_step`` (Ray) still
        has the curve."""

    def on_interrupted(self) -> None:
        """The search was stopped (Ctrl-C, SIGTERM): the trials in flight end unfinished."""


class ObserverGroup(SearchObserver):
    """Several observers as one (a console and a tracker): each hook goes to each, in order."""

    def __init__(self, observers: list[SearchObserver]) -> None:
        self.observers = list(observers)

    def _each(self, hook: str, *args: Any) -> None:
        for observer in self.observers:
            getattr(observer, hook)(*args)

    def on_start(
        self, store: StudyStore, done: int, total: int, baseline: dict[str, float], references: int = 0
    ) -> None:
        self._each("on_start", store, done, total, baseline, references)

    def on_trial_start(self, number: int) -> None:
        self._each("on_trial_start", number)

    def on_step(self, step: int, loss: float) -> None:
        self._each("on_step", step, loss)

    def on_run_step(self, request: TrialRequest, step: int, loss: float) -> None:
        self._each("on_run_step", request, step, loss)

    def on_trial_end(self, record: TrialRecord) -> None:
        self._each("on_trial_end", record)

    def on_reference_start(self, name: str) -> None:
        self._each("on_reference_start", name)

    def on_reference_end(self, record: ReferenceRecord) -> None:
        self._each("on_reference_end", record)

    def on_time_up(self, hours: float, not_started: int) -> None:
        self._each("on_time_up", hours, not_started)

    def on_confirmation_start(self, runs: int, seeds: int) -> None:
        self._each("on_confirmation_start", runs, seeds)

    def on_confirmation_run_start(self, key: str, seed: int) -> None:
        self._each("on_confirmation_run_start", key, seed)

    def on_confirmation_end(self, key: str, confirmation: Confirmation, seed: int) -> None:
        self._each("on_confirmation_end", key, confirmation, seed)

    def on_trial_losses(self, key: str, losses: Sequence[float]) -> None:
        self._each("on_trial_losses", key, losses)

    def on_interrupted(self) -> None:
        self._each("on_interrupted")

    def close(self) -> None:
        for observer in self.observers:
            close = getattr(observer, "close", None)
            if close is not None:
                close()
