"""Where a running search stands, for progress displays: what is done and what is left, what
trains now (its identity, step and loss), the time elapsed and an ETA. Plain strings, so the
live terminal display and the status lines of a piped or logged search say the same."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autopeft.results.wording import describe_point

if TYPE_CHECKING:
    from autopeft.executors.base import TrialRequest  # its module loads the proxy (torch)


def run_label(request: TrialRequest) -> str:
    """How the lines name a run: ``trial 3``, ``reference lora-r8-qv``, ``confirm trial 2``."""
    if request.reference is not None:
        return f"reference {request.reference}"
    if request.confirms is not None:
        return f"confirm {request.confirms}"
    return f"trial {request.number}"


def clock_time(seconds: float) -> str:
    """``4:05``, or ``1:02:03`` from an hour on."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class Running:
    """A run in flight: known by its label from its start, by its configuration from its first step."""

    label: str
    identity: str = ""  # the configuration, e.g. "lora x5"
    step: int = 0
    steps: int | None = None
    loss: float | None = None

    def line(self) -> str:
        """e.g. ``trial 3 (lora x5) step 120/450 loss 0.691``."""
        named = f"{self.label} ({self.identity})" if self.identity else self.label
        of = f"/{self.steps}" if self.steps else ""
        return f"{named} step {self.step}{of}" + ("" if self.loss is None else f" loss {self.loss:.3f}")


class SearchProgress:
    """Counts of finished trials, references and confirmation runs against their totals, the
    runs in flight, and the ETA: the runs left times the mean wall time per run finished in
    this session (measured from the first start, so trials in parallel under Ray count as the
    time between finishes), known once one has finished."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.began = clock()
        self.steps: int | None = None  # the budget's steps (a confirmation run may train its own number)
        self.done = {"trial": 0, "reference": 0, "confirmation run": 0}
        self.total = dict(self.done)
        self.running: dict[str, Running] = {}
        self.first_start: float | None = None
        self.finished = 0  # runs started and finished in this session: what the ETA is measured on
        self.last_finish: float | None = None

    def start(self, done: int, trials: int, references: int, steps: int) -> None:
        self.began, self.steps = self.clock(), steps
        self.done["trial"], self.total["trial"], self.total["reference"] = done, trials, references

    def confirmations(self, runs: int) -> None:
        self.total["confirmation run"] = runs

    def started(self, label: str) -> Running:
        if self.first_start is None:
            self.first_start = self.clock()
        return self.running.setdefault(label, Running(label, steps=self.steps))

    def stepped(self, request: TrialRequest, step: int, loss: float) -> Running:
        run = self.running.get(run_label(request)) or self.started(run_label(request))
        if not run.identity:
            run.identity = describe_point(request.point.to_dict())
        run.steps = request.steps or self.steps
        run.step, run.loss = step, loss
        return run

    def ended(self, label: str, kind: str) -> None:
        """``label`` finished; ``kind`` is trial, reference or confirmation run. A run that never
        started in this session (a killed search's trial, recorded now) counts as done but not
        for the ETA."""
        self.done[kind] += 1
        if self.running.pop(label, None) is not None:
            self.finished += 1
            self.last_finish = self.clock()

    def left(self) -> int:
        return sum(max(self.total[kind] - self.done[kind], 0) for kind in self.total)

    def eta(self) -> float | None:
        """Seconds until every run is done; None until one has finished in this session."""
        left = self.left()
        if not self.finished or not left:
            return None
        per_run = (self.last_finish - self.first_start) / self.finished
        counting_down = per_run * left - (self.clock() - self.last_finish)
        return max(counting_down, per_run * max(left - len(self.running), 0))

    def counts(self) -> str:
        """e.g. ``3 of 10 trials, 1 of 1 reference``: each kind the run has, done of its total."""
        parts = [
            f"{self.done[kind]} of {total} {kind}{'' if total == 1 else 's'}"
            for kind, total in self.total.items()
            if total or kind == "trial"
        ]
        return ", ".join(parts)

    def timing(self) -> str:
        """e.g. ``2:31 elapsed, ETA 4:10`` (no ETA before a run has finished)."""
        eta = self.eta()
        return f"{clock_time(self.clock() - self.began)} elapsed" + ("" if eta is None else f", ETA {clock_time(eta)}")

    def in_flight(self) -> str:
        """The runs that train now, and how many more were handed out and have not stepped yet."""
        stepping = [run.line() for run in self.running.values() if run.step]
        waiting = len(self.running) - len(stepping)
        return ", ".join(stepping + ([f"{waiting} starting"] if waiting else []))

    def status(self) -> str:
        """One line with all of it, for a log: ``trial 3 (lora x5) step 120/450 loss 0.691; 3 of
        10 trials, 1 of 1 reference; 2:31 elapsed, ETA 4:10``."""
        return "; ".join(part for part in (self.in_flight(), self.counts(), self.timing()) if part)
