"""What every experiment tracker does the same way: when each run opens and ends, which steps'
losses it logs, and what a trial's run holds at its end. The services' own calls are in
``mlflow_tracker`` and ``wandb_tracker``."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopeft.driver.observer import SearchObserver
from autopeft.errors import UsageError
from autopeft.results.result import SearchResult
from autopeft.results.wording import describe_point
from autopeft.store.confirmations import confirmation_run_key, reference_key, trial_key
from autopeft.store.records import Confirmation, ReferenceRecord, TrialRecord
from autopeft.store.study import StudyStore

if TYPE_CHECKING:
    from autopeft.results.html import ReportFiles

logger = logging.getLogger("autopeft.results.tracking")
LOSS_POINTS = 20  # by default a run's loss is logged about this many times (every budget.steps / 20 steps)
Record = TrialRecord | ReferenceRecord
Contents = tuple[dict, dict, dict]  # a run's parameters, metrics and tags


def import_tracker(module: str, package: str) -> Any:
    """The tracking library, or a one-line usage error saying how to install it."""
    try:
        return __import__(module)
    except ImportError:
        raise UsageError(
            f"--report-to {module}: {package} is not installed. Fix: pip install {package} "
            "(or autopeft[tracking]), or pass --report-to none"
        ) from None


def run_contents(record: Record, kind: str) -> Contents:
    """(parameters, metrics, tags) of one finished trial or reference."""
    failed = record.state == "fail" if isinstance(record, TrialRecord) else record.failed
    params = record.used_params if isinstance(record, TrialRecord) else {}
    if record.point:
        params["learning_rate"] = record.point["hyperparameters"]["learning_rate"]
        params["head_learning_rate"] = record.point["hyperparameters"]["head_learning_rate"]
    metrics = {name: value for name, value in record.values.items() if isinstance(value, (int, float))}
    if record.trainable_params is not None:
        metrics["trainable_params"] = record.trainable_params
    if record.train_seconds is not None:
        metrics["train_seconds"] = record.train_seconds
    tags = {
        "autopeft.kind": kind,
        "autopeft.state": "fail" if failed else getattr(record, "state", "complete"),
        "autopeft.configuration": describe_point(record.point or {}),
    }
    if record.fail_reason:
        tags["autopeft.fail_reason"] = record.fail_reason[:5000]
    return params, metrics, tags


def confirmation_tags(key: str, seed: int) -> dict[str, Any]:
    """A confirmation run's tags from its start: the configuration it confirms (``trial N``,
    ``reference NAME``) and its seed, so a run stopped before its end still says which it was."""
    return {"autopeft.kind": "confirmation", "autopeft.confirms": key, "autopeft.seed": seed}


def confirmation_contents(key: str, seed: int, confirmation: Confirmation) -> Contents:
    """(parameters, metrics, tags) of the finished confirmation run of ``key`` with ``seed``."""
    measurements, fail_reason = confirmation.run_of(seed)
    params = {"seed": seed, "steps": confirmation.steps}
    metrics = {name: value for name, value in measurements.items() if isinstance(value, (int, float))}
    tags = confirmation_tags(key, seed) | {"autopeft.state": "fail" if fail_reason else "complete"}
    if fail_reason:
        tags["autopeft.fail_reason"] = fail_reason[:5000]
    return params, metrics, tags


def loss_points(losses: Sequence[float], every: int, first_step: int = 1) -> list[tuple[int, float]]:
    """The loss curve as logged: each ``every`` steps, the mean loss of those steps at the last
    one's number (as transformers' Trainer logs every ``logging_steps``); a shorter last window
    ends at the last step."""
    points = []
    for start in range(0, len(losses), every):
        window = losses[start : start + every]
        points.append((first_step + start + len(window) - 1, sum(window) / len(window)))
    return points


def pareto_rows(result: SearchResult) -> list[dict[str, Any]]:
    return [
        {
            "trial": r.number,
            **r.values,
            "trainable_params": r.trainable_params,
            "configuration": describe_point(r.point or {}),
        }
        for r in result.pareto
    ]


def report_files(report: ReportFiles | None) -> list[Path]:
    if report is None:
        return []
    return [p for p in (report.html, report.front_png, report.placement_png) if p is not None]


class Tracker(SearchObserver):
    """A search logged somewhere else, live: a trial's (or reference's, or confirmation run's)
    run opens when it starts, gets the training loss every ``log_every`` steps (default: ~20
    points a run) and, at the end, its parameters, metrics, ``train_seconds``, and the state
    FINISHED or FAILED. A stopped search ends its open runs KILLED. What fails to log is a
    warning, never the search's end."""

    service = "tracker"

    def __init__(self, log_every: int | None = None) -> None:
        self.log_every = log_every
        self.every = log_every or 1
        self.runs: dict[str, Any] = {}  # key (trial N, reference X) -> the service's run, open since it started
        self.live: set[str] = set()  # keys whose losses were logged as they trained (local executor)
        self.current: str | None = None  # the run on_step's losses belong to (the local executor runs one)
        self.window: list[float] = []  # the current run's losses since its last logged point
        self.last_step = 0

    def _safely(self, what: str, action: Callable[..., Any], *args: Any) -> Any:
        try:
            return action(*args)
        except Exception as error:  # noqa: BLE001 - a tracking outage must not end a search
            logger.warning(
                "%s: logging %s failed (%s: %s); the search goes on", self.service, what, type(error).__name__, error
            )
            return None

    # -- the observer hooks ------------------------------------------------------------

    def on_start(
        self, store: StudyStore, done: int, total: int, baseline: dict[str, float], references: int = 0
    ) -> None:
        self.every = self.log_every or max(1, math.ceil(store.spec.budget.steps / LOSS_POINTS))
        self._safely("the study", self._start_study, store, baseline)

    def on_trial_start(self, number: int) -> None:
        self._begin(trial_key(number))

    def on_reference_start(self, name: str) -> None:
        self._begin(reference_key(name))

    def on_step(self, step: int, loss: float) -> None:
        if self.current is None:
            return  # between runs: none of them is training
        self.live.add(self.current)  # its curve is logged from here, not again from on_trial_losses
        self.window.append(loss)
        self.last_step = step
        if step % self.every == 0:
            self._flush()

    def on_trial_losses(self, key: str, losses: Sequence[float]) -> None:
        if key in self.live:
            return  # logged as it trained
        run = self._run(key)
        if run is not None:
            self._safely(key, self._log_losses, run, loss_points(losses, self.every))

    def on_trial_end(self, record: TrialRecord) -> None:
        self._end(trial_key(record.number), run_contents(record, "trial"), record.steps or 0)

    def on_reference_end(self, record: ReferenceRecord) -> None:
        self._end(reference_key(record.name), run_contents(record, "reference"), 0)  # a reference keeps no step count

    def on_confirmation_run_start(self, key: str, seed: int) -> None:
        self._begin(confirmation_run_key(key, seed), confirmation_tags(key, seed))

    def on_confirmation_end(self, key: str, confirmation: Confirmation, seed: int) -> None:
        """The run of ``seed`` ends; a resume never trains a recorded run again, so each
        confirmation run is logged once, in the study's run that ``--resume`` goes on in."""
        contents = confirmation_contents(key, seed, confirmation)
        self._end(confirmation_run_key(key, seed), contents, confirmation.steps)

    def on_interrupted(self) -> None:
        """Every open run, and the study's, ends KILLED (a resume goes on in the study's run)."""
        self._close_all("KILLED")

    def finish(self, result: SearchResult, report: ReportFiles | None = None) -> None:
        """Log the Pareto set and the report's files at the end of a search; the study's run
        ends FINISHED (a run still open was handed back unrun: KILLED)."""
        for key in list(self.runs):
            self._safely(key, self._terminate, self.runs.pop(key), "KILLED")
        self._safely("the Pareto set and report", self._finish, result, report)

    def close(self) -> None:
        """A search that ends without ``finish`` (an error) leaves its open runs FAILED."""
        self._close_all("FAILED")

    # -- the bookkeeping ---------------------------------------------------------------

    def _begin(self, key: str, tags: dict[str, Any] | None = None) -> None:
        self.current, self.window, self.last_step = key, [], 0
        self._run(key, tags)

    def _run(self, key: str, tags: dict[str, Any] | None = None) -> Any:
        """``key``'s open run, opened now if it is not (its start was not seen, or failed to log),
        tagged ``tags`` (by default its kind: the key's first word, ``trial`` or ``reference``)."""
        if key not in self.runs:
            run = self._safely(key, self._open_run, key, tags or {"autopeft.kind": key.partition(" ")[0]})
            if run is not None:
                self.runs[key] = run
        return self.runs.get(key)

    def _flush(self) -> None:
        if self.window and self.current in self.runs:
            point = (self.last_step, sum(self.window) / len(self.window))
            self._safely(self.current, self._log_losses, self.runs[self.current], [point])
        self.window = []

    def _end(self, key: str, contents: Contents, step: int) -> None:
        if key == self.current:
            self._flush()  # the last steps' window
            self.current = None
        run = self._run(key)
        self.runs.pop(key, None)
        if run is not None:
            self._safely(key, self._log_end, run, *contents, step)

    def _close_all(self, status: str) -> None:
        self.current = None
        for key in list(self.runs):
            self._safely(key, self._terminate, self.runs.pop(key), status)
        self._safely(f"the study's end ({status})", self._end_study, status)

    # -- the service's calls -----------------------------------------------------------

    def _start_study(self, store: StudyStore, baseline: dict[str, float]) -> None:
        """Open the study's run (or go on in the one a killed search left)."""
        raise NotImplementedError

    def _open_run(self, key: str, tags: dict[str, Any]) -> Any:
        """A new run named ``key``, started now and running, with ``tags`` (``autopeft.kind`` among them)."""
        raise NotImplementedError

    def _log_losses(self, run: Any, points: list[tuple[int, float]]) -> None:
        """``loss`` at each (step, value)."""
        raise NotImplementedError

    def _log_end(self, run: Any, params: dict, metrics: dict, tags: dict, step: int) -> None:
        """The finished run's parameters, metrics (at ``step``) and tags; it ends FINISHED, or
        FAILED where its ``autopeft.state`` tag is ``fail``."""
        raise NotImplementedError

    def _terminate(self, run: Any, status: str) -> None:
        """End ``run`` as ``status`` (KILLED or FAILED)."""
        raise NotImplementedError

    def _end_study(self, status: str) -> None:
        """End the study's run as ``status`` (KILLED or FAILED), if it is open."""
        raise NotImplementedError

    def _finish(self, result: SearchResult, report: ReportFiles | None) -> None:
        raise NotImplementedError
