"""Showing a study to a person: progress while it runs, the Pareto set as a table."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from autopeft.driver.observer import SearchObserver
from autopeft.results.result import SearchResult
from autopeft.results.wording import baseline_name, configuration_rows, noise_warning, reference_lines
from autopeft.store.records import Confirmation, ReferenceRecord, TrialRecord
from autopeft.store.study import StudyStore


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


class ConsoleObserver(SearchObserver):
    """A progress bar over trials and steps, and one line per finished trial."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.trials_task = None
        self.steps_task = None
        self.running: list[str] = []  # what is in flight: "trial 3", "reference lora-r8-qv" (more than one under Ray)
        self.metric = "accuracy"

    def on_start(
        self, store: StudyStore, done: int, total: int, baseline: dict[str, float], references: int = 0
    ) -> None:
        self.metric = store.objectives[0].name
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
        self.progress.start()
        self.trials_task = self.progress.add_task("trials", total=total + references, completed=done)
        self.steps_task = self.progress.add_task("steps", total=store.spec.budget.steps)

    def on_trial_start(self, number: int) -> None:
        self._started(f"trial {number}")

    def on_reference_start(self, name: str) -> None:
        self._started(f"reference {name}")

    def _started(self, label: str) -> None:
        self.running.append(label)
        self.progress.reset(self.steps_task, description=self._running_line())

    def _ended(self, label: str) -> None:
        self.progress.advance(self.trials_task)
        if label in self.running:
            self.running.remove(label)
            if self.running:
                self.progress.update(self.steps_task, description=self._running_line())

    def _running_line(self) -> str:
        if len(self.running) == 1:
            return self.running[0]
        return f"{len(self.running)} running ({', '.join(self.running)})"

    def on_reference_end(self, record: ReferenceRecord) -> None:
        self._ended(f"reference {record.name}")
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
            f"wall-clock budget of {hours:g} h used: {not_started} trials not started; "
            "`autopeft search --resume STUDY` runs them",
            highlight=False,
            soft_wrap=True,
        )

    def on_confirmation_start(self, runs: int, seeds: int) -> None:
        self.console.print(f"confirmation: {runs} more trainings ({seeds} new seeds each)", highlight=False)

    def on_confirmation_end(self, key: str, confirmation: Confirmation) -> None:
        latest = confirmation.runs[-1] if confirmation.runs else {}
        shown = f"{self.metric} {latest[self.metric]:.4f}" if self.metric in latest else "failed"
        self.console.print(f"confirm {key} (run {len(confirmation.seeds)}): {shown}", highlight=False)

    def on_step(self, step: int, loss: float) -> None:
        self.progress.update(self.steps_task, completed=step, description=f"loss {loss:.3f}")

    def on_trial_end(self, record: TrialRecord) -> None:
        self._ended(f"trial {record.number}")
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
        self.progress.stop()


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
    interrupted = sum(1 for t in result.trials if t.interrupted)
    failed = sum(1 for t in result.trials if t.state == "fail") - interrupted
    stopped = sum(1 for t in result.trials if t.state == "pruned")
    rerun = [str(t.number) for t in result.trials if t.attempts > 1]
    counted = sum(1 for t in result.trials if t.counts)  # an interrupted trial ran again under a later number
    console.print(
        f"{counted} trials, {len(result.pareto)} on the Pareto set, {failed} failed"
        + (f", {stopped} stopped early" if stopped else "")
        + (f", {interrupted} interrupted and run again" if interrupted else "")
        + (f", {len(rerun)} ran again after their worker died ({', '.join(rerun)})" if rerun else "")
    )
    if result.hypervolume_history:
        console.print(hypervolume_line(result.hypervolume_history), highlight=False, soft_wrap=True)
    warning = noise_warning(result)
    if warning:
        (warnings or console).print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    console.print(f"study: {result.study_dir}", highlight=False, soft_wrap=True)
