"""The Weights & Biases tracker: W&B has no nesting, so a study is a group (named after it) of
one run per trial, reference and confirmation run, opened when it starts, and one run of job type ``study``
(its id kept in the study, so a resume goes on in it) that gets the Pareto set and report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autopeft.results.result import SearchResult
from autopeft.results.tracker_base import Tracker, import_tracker, pareto_rows, report_files
from autopeft.store.study import StudyStore

if TYPE_CHECKING:
    from autopeft.results.html import ReportFiles


class WandbTracker(Tracker):
    """One W&B run per trial, reference and confirmation run, grouped by the study's name (project: the one
    given, else ``WANDB_PROJECT``, else W&B's own default)."""

    service = "wandb"

    def __init__(self, project: str | None = None, log_every: int | None = None) -> None:
        super().__init__(log_every)
        self.wandb = import_tracker("wandb", "wandb")
        self.project = project
        self.group: str | None = None
        self.study_run: Any = None

    def _init(self, name: str, job_type: str, config: dict, **resume: Any) -> Any:
        return self.wandb.init(
            project=self.project or None,
            group=self.group,
            name=name,
            job_type=job_type,
            config=config,
            reinit="create_new",
            **resume,
        )

    def _start_study(self, store: StudyStore, baseline: dict[str, float]) -> None:
        self.group = store.spec.name
        earlier = store.tracker_run(self.service)
        config = {"study": str(store.path), "model": store.spec.model, "sampler": store.spec.sampler}
        resume = {"id": earlier["id"], "resume": "allow"} if earlier else {}
        self.study_run = self._init(f"{self.group} (study)", "study", config, **resume)
        if not earlier:
            store.set_tracker_run(self.service, {"id": self.study_run.id, "group": self.group})
        self.study_run.summary.update({f"baseline_{k}": v for k, v in baseline.items()})

    def _open_run(self, key: str, tags: dict[str, Any]) -> Any:
        config = {name.removeprefix("autopeft."): value for name, value in tags.items() if name != "autopeft.kind"}
        return self._init(key, tags["autopeft.kind"], config)

    def _log_losses(self, run: Any, points: list[tuple[int, float]]) -> None:
        for step, value in points:
            run.log({"loss": value}, step=step)

    def _log_end(self, run: Any, params: dict, metrics: dict, tags: dict, step: int) -> None:
        run.config.update(params, allow_val_change=True)
        run.log(metrics)
        run.summary.update({key.removeprefix("autopeft."): value for key, value in tags.items()})
        run.finish(exit_code=1 if tags["autopeft.state"] == "fail" else 0)

    def _terminate(self, run: Any, status: str) -> None:
        """W&B has no KILLED state: a stopped run is marked preempting and exits with code 1."""
        if status == "KILLED":
            run.mark_preempting()
        run.finish(exit_code=1)

    def _end_study(self, status: str) -> None:
        if self.study_run is not None:
            self._terminate(self.study_run, status)
            self.study_run = None

    def _finish(self, result: SearchResult, report: ReportFiles | None) -> None:
        """The study run gets the Pareto set as a table and the report as HTML and images."""
        run = self.study_run
        if run is None:
            return
        rows = pareto_rows(result)
        columns = list(rows[0]) if rows else ["trial"]
        run.log({"pareto": self.wandb.Table(columns=columns, data=[[row.get(c) for c in columns] for row in rows])})
        run.summary["pareto_size"] = len(rows)
        for path in report_files(report):
            if path.suffix == ".html":
                run.log({"report": self.wandb.Html(path.read_text(encoding="utf-8"), inject=False)})
            else:
                run.log({path.stem: self.wandb.Image(str(path))})
        run.finish()
        self.study_run = None
