"""Showing a study to a person: progress while it runs, the Pareto set as a table."""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from autopeft.driver.observer import SearchObserver
from autopeft.errors import resume_command
from autopeft.results.progress import SearchProgress, clock_time
from autopeft.results.result import SearchResult
from autopeft.results.wording import (
    baseline_name,
    configuration_rows,
    noise_warning,
    reference_lines,
    trial_counts,
)
from autopeft.store.records import Confirmation, ReferenceRecord, TrialRecord
from autopeft.store.study import StudyStore

if TYPE_CHECKING:
    from autopeft.executors.base import TrialRequest  # its module loads the proxy (torch)


def pareto_table(
    records: list[TrialRecord], metric: str = "accuracy", title: str = "Pareto set", objectives: list[str] = ()
) -> Table:
    """Trial id, validation metric, trainable parameters, % of the base model, and any other
    cost ``objectives`` (peak memory, throughput, latency overhead)."""
    return _configuration_table([(str(r.number), r) for r in records], "trial", metric, title, objectives)


def reference_table(references: list[ReferenceRecord], metric: str = "accuracy", objectives: list[str] = ()) -> Table:
    """The spec's reference configurations, in the Pareto table's columns (failed ones left out)."""
    rows = [(r.name, r) for r in references if not r.failed]
    return _configuration_table(rows, "reference", metric, "References", objectives)


def _configuration_table(
    rows: list[tuple[str, TrialRecord | ReferenceRecord]], label: str, metric: str, title: str, objectives: list[str]
) -> Table:
    columns, cells = configuration_rows(rows, label, metric, objectives)
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column == "method" else "right")
    for row in cells:
        table.add_row(*row)
    return table


def hypervolume_line(history: list[tuple[int, float]], width: int = 12) -> str:
    """The hypervolume after each trial that changed it (the last ``width`` changes)."""
    changes, last = [], None
    for number, value in history:
        if last is None or value > last + 1e-12:
            changes.append(f"#{number} {value:.4g}")
            last = value
    shown = changes[-width:]
    return "hypervolume by trial: " + ("... " if len(changes) > width else "") + ", ".join(shown)


class _Timing(ProgressColumn):
    """The overall row's elapsed time and ETA, read at each refresh (so both tick between steps)."""

    def __init__(self, state: SearchProgress) -> None:
        super().__init__()
        self.state = state

    def render(self, task: Task) -> Text:
        return Text(self.state.timing() if task.fields.get("overall") else "")


class ConsoleObserver(SearchObserver):
    """Progress while a search runs, and one line per finished trial.

    In a terminal (or a notebook) a live display: a row of counts with the elapsed time and
    ETA, and a bar per run in flight (``trial 3 (lora x5) step 120/450 loss 0.691``). Piped or
    logged (Slurm, nohup), where a live display would print nothing until the end, a plain
    ``status:`` line with the same at a step at most every ``status_every`` seconds instead.
    """

    def __init__(
        self, console: Console | None = None, status_every: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.console = console or Console()
        self.state = SearchProgress(clock)
        self.clock = clock
        self.status_every = status_every
        self.last_status = clock()
        self.live = self.console.is_terminal or self.console.is_jupyter
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), _Timing(self.state), console=self.console, transient=True
        )
        self.overall: TaskID | None = None
        self.bars: dict[str, TaskID] = {}  # run label -> its bar
        self.metric = "accuracy"
        self.study_dir = None  # the study's folder, once the run starts (the time-up line names it)

    def on_start(
        self, store: StudyStore, done: int, total: int, baseline: dict[str, float], references: int = 0
    ) -> None:
        self.metric = store.objectives[0].name
        self.study_dir = store.path
        self.console.print(
            f"study {store.spec.name!r} in {store.path}: {done} of {total} trials done; "
            f"{baseline_name(store.spec.data.task)}'s validation {self.metric} {baseline[self.metric]:.3f}"
        )
        importance = store.importance()
        if importance is not None:
            scores, switched_off = importance
            self.console.print(
                f"importance: {len(scores) - len(switched_off)} of {len(scores)} placeable modules kept "
                f"(by {store.importance_score().replace('_', ' ')}), {len(switched_off)} switched off",
                highlight=False,
                soft_wrap=True,
            )
        self.state.start(done, total, references, store.spec.budget.steps)
        self.last_status = self.clock()
        if self.live:
            self.progress.start()
            self.overall = self.progress.add_task("", overall=True)
            self._show()

    def on_trial_start(self, number: int) -> None:
        self.state.started(f"trial {number}")
        self._show()

    def on_reference_start(self, name: str) -> None:
        self.state.started(f"reference {name}")
        self._show()

    def on_run_step(self, request: TrialRequest, step: int, loss: float) -> None:
        self.state.stepped(request, step, loss)
        self._show()

    def _ended(self, label: str, kind: str) -> None:
        self.state.ended(label, kind)
        self._show(status=False)  # the run's own line follows

    def _show(self, status: bool = True) -> None:
        """The live display redrawn from the state, or a status line when one is due."""
        if not self.live:
            if status and self.clock() - self.last_status >= self.status_every:
                self.last_status = self.clock()
                self.console.print(f"status: {self.state.status()}", highlight=False, soft_wrap=True)
            return
        if self.overall is None:
            return
        total = sum(self.state.total.values())
        self.progress.update(
            self.overall, description=self.state.counts(), total=total, completed=sum(self.state.done.values())
        )
        stepping = {label: run for label, run in self.state.running.items() if run.step}
        for label in [label for label in self.bars if label not in stepping]:
            self.progress.remove_task(self.bars.pop(label))
        for label, run in stepping.items():
            if label in self.bars:
                self.progress.update(self.bars[label], description=run.line(), total=run.steps, completed=run.step)
            else:
                self.bars[label] = self.progress.add_task(run.line(), total=run.steps, completed=run.step)

    def on_reference_end(self, record: ReferenceRecord) -> None:
        self._ended(f"reference {record.name}", "reference")
        if record.failed:
            self.console.print(f"reference {record.name}: failed: {record.fail_reason}")
        else:
            self.console.print(
                f"reference {record.name}: {self.metric} {record.values[self.metric]:.4f}, "
                f"{record.trainable_params:,} trainable params ({record.percent_of_base:.3f}%), "
                f"{record.train_seconds:.1f}s"
            )

    def on_time_up(self, hours: float, not_started: int) -> None:
        self.console.print(
            f"wall-clock budget of {_span(hours * 3600)} used: {not_started} trials not started; "
            f"`{resume_command(self.study_dir)}` runs them",
            highlight=False,
            soft_wrap=True,
        )

    def on_confirmation_start(self, runs: int, seeds: int) -> None:
        self.state.confirmations(runs)
        self._show()
        self.console.print(f"confirmation: {runs} more trainings ({seeds} new seeds each)", highlight=False)

    def on_confirmation_end(self, key: str, confirmation: Confirmation, seed: int) -> None:
        self._ended(f"confirm {key}", "confirmation run")
        measurements, _ = confirmation.run_of(seed)
        shown = f"{self.metric} {measurements[self.metric]:.4f}" if self.metric in measurements else "failed"
        self.console.print(f"confirm {key} (run {len(confirmation.seeds)}): {shown}", highlight=False)

    def on_trial_end(self, record: TrialRecord) -> None:
        self._ended(f"trial {record.number}", "trial")
        if record.state == "complete":
            self.console.print(
                f"trial {record.number}: {self.metric} {record.values[self.metric]:.4f}, "
                f"{record.trainable_params:,} trainable params ({record.percent_of_base:.3f}%), "
                f"{record.train_seconds:.1f}s"
            )
        elif record.state == "pruned":
            self.console.print(
                f"trial {record.number}: stopped at step {record.steps} (successive halving): "
                f"{self.metric} {record.values[self.metric]:.4f}, {record.trainable_params:,} trainable params"
            )
        else:
            self.console.print(f"trial {record.number}: failed: {record.fail_reason}", highlight=False, soft_wrap=True)
        if record.attempts > 1:
            self.console.print(f"  (trial {record.number} ran {record.attempts} times: its worker died)")

    def close(self) -> None:
        if self.live:  # Live's stop, not Progress.stop: that one adds a blank line to a non-terminal stderr
            self.progress.live.stop()


def print_result(console: Console, result: SearchResult, warnings: Console | None = None) -> None:
    """A study's answer as ``search`` and ``show`` print it: the Pareto set and references, a
    line of counts, and ``study: PATH`` last (scripts read that line); its warning goes to
    ``warnings`` (the commands' stderr), else to ``console``."""
    if result.confirmed_pareto:  # the answer: confirmed means; the proxy's front below it, as found
        title = "Pareto set, confirmed (mean ± standard error over new seeds)"
        console.print(pareto_table(result.confirmed_pareto, result.metric, title, result.objectives))
    title = "Pareto set of the search (proxy: one run each)" if result.confirmed_pareto else "Pareto set"
    console.print(pareto_table(result.pareto, metric=result.metric, title=title, objectives=result.objectives))
    if any(not r.failed for r in result.references):
        console.print(reference_table(result.references, metric=result.metric, objectives=result.objectives))
    for line in reference_lines(result):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(trial_counts(result))
    if result.hypervolume_history:
        console.print(hypervolume_line(result.hypervolume_history), highlight=False, soft_wrap=True)
    warning = noise_warning(result)
    if warning:
        (warnings or console).print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    console.print(f"study: {shlex.quote(str(result.study_dir))}", highlight=False, soft_wrap=True)  # for a shell


def _span(seconds: float) -> str:
    """A duration as the user gave it: ``5 s`` under a minute, else ``4:05`` or ``1:02:03``."""
    return f"{seconds:.3g} s" if seconds < 60 else clock_time(seconds)
