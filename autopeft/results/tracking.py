"""Experiment tracking: a search logged to MLflow or Weights & Biases as it runs.

Both trackers are ``SearchObserver``s (``autopeft.driver.observer``), the interface any display or
tracker plugs into: ``search(..., observer=ObserverGroup([console, MLflowTracker()]))``.
Each trial, reference and confirmation run is a run of its own, opened when it starts: its
training loss every ``log_every`` steps (default: about 20 points a run) as it trains (under
Ray, where the trial runs in a worker, the losses come back with its result and are logged at
its end, with their step numbers), then its parameters, metrics, ``train_seconds``, trainable
parameters, state and fail reason (a confirmation run: the configuration it confirms, its seed
and metrics), and it ends FINISHED or FAILED. ``finish(result, report)`` logs the Pareto
set and the HTML report at the end. MLflow nests the runs under one parent run for the study;
W&B has no nesting, so the runs share a group named after the study, and the Pareto set and
report go to one more run of job type ``study`` in that group. The study's run is
kept in the study (``StudyStore.tracker_run``): ``--resume`` goes on in it. A stopped search
(Ctrl-C, SIGTERM) ends its open runs and the study's KILLED (W&B: preempting, exit code 1).

Where they log is the libraries' own business: ``MLFLOW_TRACKING_URI`` (default: MLflow's
local store), ``WANDB_MODE=offline``, ``WANDB_PROJECT`` and the like. A failure to log (a
tracking server down) is a warning: the search goes on, and its study is complete anyway.
From Python, call ``finish(result, write_report(result.study_dir))`` after ``search`` (the CLI
does), or ``close()`` if the search failed.
"""

from __future__ import annotations

from autopeft.errors import UsageError
from autopeft.results.mlflow_tracker import MLflowTracker
from autopeft.results.tracker_base import Tracker
from autopeft.results.tracking_probe import check_tracking_server
from autopeft.results.wandb_tracker import WandbTracker

__all__ = ["TRACKERS", "MLflowTracker", "Tracker", "WandbTracker", "make_tracker"]

TRACKERS = ("mlflow", "wandb")


def make_tracker(name: str) -> Tracker | None:
    """The tracker ``--report-to NAME`` asks for (None for ``none``)."""
    if name == "none":
        return None
    if name not in TRACKERS:
        raise UsageError(f"--report-to: unknown tracker {name!r}. Fix: use {', '.join(TRACKERS)} or none")
    if name == "mlflow":
        check_tracking_server()  # seconds, where MLflow would retry a dead server for minutes
    return MLflowTracker() if name == "mlflow" else WandbTracker()
