"""The MLflow tracker: one parent run per study (kept in the study, so a resume goes on in it),
one nested run per trial, reference and confirmation run, opened when it starts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from autopeft.results.result import SearchResult
from autopeft.results.tracker_base import Tracker, import_tracker, pareto_rows, report_files
from autopeft.store.study import StudyStore

if TYPE_CHECKING:
    from autopeft.results.html import ReportFiles

_BATCH = 100  # MLflow takes at most 100 parameters or tags per request (and 1000 metrics)


class MLflowTracker(Tracker):
    """One MLflow parent run per study (experiment: the study's name unless given), one nested
    run per trial, reference and confirmation run."""

    service = "mlflow"

    def __init__(self, experiment: str | None = None, log_every: int | None = None) -> None:
        super().__init__(log_every)
        self.mlflow = import_tracker("mlflow", "mlflow")
        self.client = self.mlflow.MlflowClient()
        self.experiment = experiment
        self.parent_id: str | None = None
        self.experiment_id: str | None = None

    def _start_study(self, store: StudyStore, baseline: dict[str, float]) -> None:
        name = self.experiment or store.spec.name
        found = self.client.get_experiment_by_name(name)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(name)
        self.parent_id = self._earlier_run(store)
        if self.parent_id is not None:  # a resume: the same run goes on (its parameters are logged already)
            self.client.update_run(self.parent_id, status="RUNNING")
            return
        spec = store.spec
        run = self.client.create_run(
            self.experiment_id,
            run_name=spec.name,
            tags={"autopeft.store.study": str(store.path), "autopeft.kind": "study"},
        )
        self.parent_id = run.info.run_id
        store.set_tracker_run(self.service, {"run_id": self.parent_id, "experiment_id": self.experiment_id})
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

    def _earlier_run(self, store: StudyStore) -> str | None:
        """The study's parent run from an earlier search, if this tracking store holds it (in
        this experiment, not deleted)."""
        ids = store.tracker_run(self.service)
        if ids is None or ids.get("experiment_id") != self.experiment_id:
            return None
        try:
            run = self.client.get_run(ids["run_id"])
        except self.mlflow.exceptions.MlflowException:
            return None  # another tracking store than the earlier search's
        return run.info.run_id if run.info.lifecycle_stage == "active" else None

    def _log(self, run_id: str, params: dict, metrics: dict, tags: dict, step: int = 0) -> None:
        Metric, Param, RunTag = self.mlflow.entities.Metric, self.mlflow.entities.Param, self.mlflow.entities.RunTag
        stamp = self.mlflow.utils.time.get_current_time_millis()
        metric_rows = [Metric(k, float(v), stamp, step) for k, v in metrics.items()]
        param_rows = [Param(k, str(v)) for k, v in params.items()]
        tag_rows = [RunTag(k, str(v)) for k, v in tags.items()]
        for start in range(0, max(len(param_rows), len(tag_rows), 1), _BATCH):
            self.client.log_batch(
                run_id,
                metrics=metric_rows if start == 0 else [],
                params=param_rows[start : start + _BATCH],
                tags=tag_rows[start : start + _BATCH],
            )

    def _open_run(self, key: str, tags: dict[str, Any]) -> Any:
        if self.parent_id is None:
            return None  # the study's run could not be made: on_start warned
        tags = {"mlflow.parentRunId": self.parent_id} | {name: str(value) for name, value in tags.items()}
        return self.client.create_run(self.experiment_id, run_name=key, tags=tags).info.run_id

    def _log_losses(self, run: Any, points: list[tuple[int, float]]) -> None:
        stamp = self.mlflow.utils.time.get_current_time_millis()
        rows = [self.mlflow.entities.Metric("loss", value, stamp, step) for step, value in points]
        for start in range(0, len(rows), 1000):
            self.client.log_batch(run, metrics=rows[start : start + 1000])

    def _log_end(self, run: Any, params: dict, metrics: dict, tags: dict, step: int) -> None:
        self._log(run, params, metrics, tags, step=step)
        self.client.set_terminated(run, "FAILED" if tags["autopeft.state"] == "fail" else "FINISHED")

    def _terminate(self, run: Any, status: str) -> None:
        self.client.set_terminated(run, status)

    def _end_study(self, status: str) -> None:
        if self.parent_id is not None:
            self.client.set_terminated(self.parent_id, status)
            self.parent_id = None

    def _finish(self, result: SearchResult, report: ReportFiles | None) -> None:
        """The Pareto set (``pareto.json``, ``pareto_size``) and the report's files; the parent run ends."""
        if self.parent_id is None:
            return
        self.client.log_text(self.parent_id, json.dumps(pareto_rows(result), indent=1), "pareto.json")
        self._log(self.parent_id, {}, {"pareto_size": len(result.pareto)}, {})
        for path in report_files(report):
            self.client.log_artifact(self.parent_id, str(path), "report")
        self._end_study("FINISHED")
