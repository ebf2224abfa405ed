"""Experiment tracking: a search logged to MLflow or Weights & Biases as it runs.

Both trackers are ``SearchObserver``s (``autopeft.driver.loop``), the interface any display or
tracker plugs into: ``search(..., observer=ObserverGroup([console, MLflowTracker()]))``.
Each finished trial and reference becomes a run of its own (its parameters, metrics,
trainable parameters, state and fail reason); ``finish(result, report)`` logs the Pareto set
and the HTML report at the end. MLflow nests the trial runs under one parent run for the
study; W&B has no nesting, so the runs share a group named after the study, and the Pareto
set and report go to one more run of job type ``study`` in that group.

Where they log is the libraries' own business: ``MLFLOW_TRACKING_URI`` (default: MLflow's
local store), ``WANDB_MODE=offline``, ``WANDB_PROJECT`` and the like. A failure to log (a
tracking server down) is a warning: the search goes on, and its study is complete anyway.
From Python, call ``finish(result, write_report(result.study_dir))`` after ``search`` (the CLI
does), or ``close()`` if the search failed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopeft.driver.observer import SearchObserver
from autopeft.errors import UsageError
from autopeft.results.result import SearchResult
from autopeft.results.tracking_probe import check_tracking_server
from autopeft.results.wording import describe_point
from autopeft.store.records import ReferenceRecord, TrialRecord
from autopeft.store.study import StudyStore

if TYPE_CHECKING:
    from autopeft.results.html import ReportFiles

TRACKERS = ("mlflow", "wandb")
logger = logging.getLogger(__name__)
_BATCH = 100  # MLflow takes at most 100 parameters or tags per request


def _import(module: str, package: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise UsageError(
            f"--report-to {module}: {package} is not installed. Fix: pip install {package} "
            "(or autopeft[tracking]), or pass --report-to none"
        ) from None


def _run_contents(record: TrialRecord | ReferenceRecord, kind: str) -> tuple[dict, dict, dict]:
    """(parameters, metrics, tags) of one trial or reference."""
    failed = record.state == "fail" if isinstance(record, TrialRecord) else record.failed
    params = record.used_params if isinstance(record, TrialRecord) else {}
    if record.point:
        params["learning_rate"] = record.point["hyperparameters"]["learning_rate"]
        params["head_learning_rate"] = record.point["hyperparameters"]["head_learning_rate"]
    metrics = {name: value for name, value in record.values.items() if isinstance(value, (int, float))}
    if record.trainable_params is not None:
        metrics["trainable_params"] = record.trainable_params
    tags = {
        "autopeft.kind": kind,
        "autopeft.state": "fail" if failed else getattr(record, "state", "complete"),
        "autopeft.configuration": describe_point(record.point or {}),
    }
    if record.fail_reason:
        tags["autopeft.fail_reason"] = record.fail_reason[:5000]
    return params, metrics, tags


def _pareto_rows(result: SearchResult) -> list[dict[str, Any]]:
    return [
        {
            "trial": r.number,
            **r.values,
            "trainable_params": r.trainable_params,
            "configuration": describe_point(r.point or {}),
        }
        for r in result.pareto
    ]


def _report_files(report: ReportFiles | None) -> list[Path]:
    if report is None:
        return []
    return [p for p in (report.html, report.front_png, report.placement_png) if p is not None]


class Tracker(SearchObserver):
    """A search logged somewhere else: what fails to log is a warning, never the search's end."""

    service = "tracker"

    def _safely(self, what: str, action: Callable[..., None], *args: Any) -> None:
        try:
            action(*args)
        except Exception as error:  # noqa: BLE001 - a tracking outage must not end a search
            logger.warning(
                "%s: logging %s failed (%s: %s); the search goes on", self.service, what, type(error).__name__, error
            )

    def on_trial_end(self, record: TrialRecord) -> None:
        self._safely(f"trial {record.number}", self._log_run, f"trial {record.number}", record, "trial")

    def on_reference_end(self, record: ReferenceRecord) -> None:
        self._safely(f"reference {record.name}", self._log_run, f"reference {record.name}", record, "reference")

    def finish(self, result: SearchResult, report: ReportFiles | None = None) -> None:
        """Log the Pareto set and the report's files at the end of a search."""
        self._safely("the Pareto set and report", self._finish, result, report)

    def _log_run(self, name: str, record: TrialRecord | ReferenceRecord, kind: str) -> None:
        raise NotImplementedError

    def _finish(self, result: SearchResult, report: ReportFiles | None) -> None:
        raise NotImplementedError


class MLflowTracker(Tracker):
    """One MLflow parent run per search (experiment: the study's name unless given), one
    nested run per trial and reference."""

    service = "mlflow"

    def __init__(self, experiment: str | None = None) -> None:
        self.mlflow = _import("mlflow", "mlflow")
        self.client = self.mlflow.MlflowClient()
        self.experiment = experiment
        self.parent_id: str | None = None
        self.experiment_id: str | None = None

    def on_start(
        self, store: StudyStore, done: int, total: int, baseline: dict[str, float], references: int = 0
    ) -> None:
        self._safely("the study", self._start, store, baseline)

    def _start(self, store: StudyStore, baseline: dict[str, float]) -> None:
        name = self.experiment or store.spec.name
        found = self.client.get_experiment_by_name(name)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(name)
        spec = store.spec
        run = self.client.create_run(
            self.experiment_id,
            run_name=spec.name,
            tags={"autopeft.store.study": str(store.path), "autopeft.kind": "study"},
        )
        self.parent_id = run.info.run_id
        facts = {
            "model": spec.model,
            "task": spec.data.task,
            "sampler": spec.sampler,
            "trials": spec.trials,
            "objectives": ",".join(spec.objectives),
            "budget.steps": spec.budget.steps,
        }
        self._log(self.parent_id, facts, {f"baseline_{k}": v for k, v in baseline.items()}, {})
        self.client.log_text(self.parent_id, json.dumps(spec.model_dump(mode="json"), indent=1), "spec.json")

    def _log(self, run_id: str, params: dict, metrics: dict, tags: dict) -> None:
        Metric, Param, RunTag = self.mlflow.entities.Metric, self.mlflow.entities.Param, self.mlflow.entities.RunTag
        stamp = self.mlflow.utils.time.get_current_time_millis()
        metric_rows = [Metric(k, float(v), stamp, 0) for k, v in metrics.items()]
        param_rows = [Param(k, str(v)) for k, v in params.items()]
        tag_rows = [RunTag(k, str(v)) for k, v in tags.items()]
        for start in range(0, max(len(param_rows), len(tag_rows), 1), _BATCH):
            self.client.log_batch(
                run_id,
                metrics=metric_rows if start == 0 else [],
                params=param_rows[start : start + _BATCH],
                tags=tag_rows[start : start + _BATCH],
            )

    def _log_run(self, name: str, record: TrialRecord | ReferenceRecord, kind: str) -> None:
        if self.parent_id is None:
            return  # the study's run could not be made: on_start warned
        params, metrics, tags = _run_contents(record, kind)
        run = self.client.create_run(self.experiment_id, run_name=name, tags={"mlflow.parentRunId": self.parent_id})
        self._log(run.info.run_id, params, metrics, tags)
        self.client.set_terminated(run.info.run_id, "FAILED" if tags["autopeft.state"] == "fail" else "FINISHED")

    def _finish(self, result: SearchResult, report: ReportFiles | None) -> None:
        """The Pareto set (``pareto.json``, ``pareto_size``) and the report's files; the parent run ends."""
        if self.parent_id is None:
            return
        self.client.log_text(self.parent_id, json.dumps(_pareto_rows(result), indent=1), "pareto.json")
        self._log(self.parent_id, {}, {"pareto_size": len(result.pareto)}, {})
        for path in _report_files(report):
            self.client.log_artifact(self.parent_id, str(path), "report")
        self.client.set_terminated(self.parent_id, "FINISHED")
        self.parent_id = None

    def close(self) -> None:
        """A run that ends without ``finish`` (an error, Ctrl-C) leaves its parent run marked failed."""
        if self.parent_id is not None:
            self._safely("the failed search", self.client.set_terminated, self.parent_id, "FAILED")
            self.parent_id = None


class WandbTracker(Tracker):
    """One W&B run per trial and reference, grouped by the study's name (project: the one
    given, else ``WANDB_PROJECT``, else W&B's own default)."""

    service = "wandb"

    def __init__(self, project: str | None = None) -> None:
        self.wandb = _import("wandb", "wandb")
        self.project = project
        self.group: str | None = None

    def on_start(
        self, store: StudyStore, done: int, total: int, baseline: dict[str, float], references: int = 0
    ) -> None:
        self.group = store.spec.name

    def _init(self, name: str, job_type: str, config: dict) -> Any:
        return self.wandb.init(
            project=self.project or None,
            group=self.group,
            name=name,
            job_type=job_type,
            config=config,
            reinit="create_new",
        )

    def _log_run(self, name: str, record: TrialRecord | ReferenceRecord, kind: str) -> None:
        params, metrics, tags = _run_contents(record, kind)
        run = self._init(name, kind, params)
        run.log(metrics)
        run.summary.update({key.removeprefix("autopeft."): value for key, value in tags.items()})
        run.finish(exit_code=1 if tags["autopeft.state"] == "fail" else 0)

    def _finish(self, result: SearchResult, report: ReportFiles | None) -> None:
        """One run of job type ``study``: the Pareto set as a table, the report as HTML and images."""
        rows = _pareto_rows(result)
        run = self._init(f"{self.group} (study)", "study", {"study": str(result.study_dir)})
        columns = list(rows[0]) if rows else ["trial"]
        run.log({"pareto": self.wandb.Table(columns=columns, data=[[row.get(c) for c in columns] for row in rows])})
        run.summary["pareto_size"] = len(rows)
        for path in _report_files(report):
            if path.suffix == ".html":
                run.log({"report": self.wandb.Html(path.read_text(encoding="utf-8"), inject=False)})
            else:
                run.log({path.stem: self.wandb.Image(str(path))})
        run.finish()


def make_tracker(name: str) -> Tracker | None:
    """The tracker ``--report-to NAME`` asks for (None for ``none``)."""
    if name == "none":
        return None
    if name not in TRACKERS:
        raise UsageError(f"--report-to: unknown tracker {name!r}. Fix: use {', '.join(TRACKERS)} or none")
    if name == "mlflow":
        check_tracking_server()  # seconds, where MLflow would retry a dead server for minutes
    return MLflowTracker() if name == "mlflow" else WandbTracker()
