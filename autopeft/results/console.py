"""Showing a study to a person: progress while it runs, the Pareto set as a table."""

from __future__ import annotations

import math
import statistics

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from autopeft.driver.observer import SearchObserver
from autopeft.methods import describe_component
from autopeft.results.result import SearchResult
from autopeft.spec.objectives import OBJECTIVES
from autopeft.store.records import Confirmation, tuned_references
from autopeft.store.study import ReferenceRecord, StudyStore, TrialRecord

# Cost objectives shown when a study optimizes them: column title and format.
COST_COLUMNS = {
    "peak_memory_mb": ("peak MB", "{:,.0f}"),
    "throughput": ("examples/s", "{:.1f}"),
    "latency_overhead": ("latency +%", "{:+.1%}"),
}


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


def configuration_rows(
    rows: list[tuple[str, TrialRecord | ReferenceRecord]], label: str, metric: str, objectives: list[str] = ()
) -> tuple[list[str], list[list[str]]]:
    """Column titles and formatted cells of a table of configurations (the console's and the
    HTML report's): label, metric, trainable parameters, % of base, cost objectives, method, lr."""
    costs = [name for name in objectives if name in COST_COLUMNS]
    confirmed = any(record.confirmed is not None for _, record in rows)
    proxy = f"proxy val {metric}" if confirmed else f"val {metric}"  # one run of the search, as it was picked
    columns = [label, *([f"confirmed {metric}"] if confirmed else []), proxy, "trainable params", "% of base"]
    columns += [COST_COLUMNS[c][0] for c in costs]
    cells = [
        [
            name,
            *([confirmed_cell(record, metric)] if confirmed else []),
            f"{record.values[metric]:.4f}",
            f"{record.trainable_params:,}",
            f"{record.percent_of_base:.3f}",
            *[COST_COLUMNS[cost][1].format(record.values[cost]) for cost in costs],
            describe_point(record.point or {}),
            f"{record.point['hyperparameters']['learning_rate']:.2e}",
        ]
        for name, record in rows
    ]
    return [*columns, "method", "lr"], cells


def confirmed_cell(record: TrialRecord | ReferenceRecord, metric: str) -> str:
    """The confirmation runs' mean, their standard error between seeds and how many ran: "-"
    for a configuration the stage did not choose."""
    confirmation = record.confirmed
    mean = None if confirmation is None else confirmation.mean(metric)
    if mean is None:
        return "-"
    error = confirmation.standard_error(metric)
    spread = "" if error is None else f" ± {error:.4f}"
    return f"{mean:.4f}{spread} (n={len(confirmation.scores(metric))})"


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


def reference_comparison(reference: ReferenceRecord, result: SearchResult) -> str:
    """How the search's completed trials stand against one reference: the best metric at the
    reference's size or smaller, and the fewest trainable parameters at its metric or better."""
    if reference.failed:
        return f"reference {reference.name} failed: {reference.fail_reason}"
    metric, objective = result.metric, OBJECTIVES[result.metric]
    size, score = reference.trainable_params, reference.values[metric]

    def goodness(trial: TrialRecord) -> float:
        return objective.maximized(trial.values[metric])

    done = [t for t in result.trials if t.state == "complete"]
    parts = [f"{reference.name}: {metric} {score:.4f} with {size:,} trainable params"]
    no_larger = [t for t in done if t.trainable_params <= size]
    if no_larger:
        best = max(no_larger, key=goodness)
        value = best.values[metric]
        parts.append(
            f"best trial at its size or smaller: {best.number}, {metric} {value:.4f} ({value - score:+.4f}) "
            f"with {best.trainable_params / size:.2g}x its parameters"
        )
    else:
        parts.append("no trial is as small")
    as_good = [t for t in done if goodness(t) >= objective.maximized(score)]
    if as_good:
        smallest = min(as_good, key=lambda t: t.trainable_params)
        parts.append(
            f"smallest trial at its {metric} or better: {smallest.number}, "
            f"{smallest.trainable_params / size:.2g}x its parameters"
        )
    else:
        parts.append(f"no trial reaches its {metric}")
    rows = result.validation_rows if metric == "accuracy" else None
    if rows:
        parts.append(f"one accuracy's standard error on {rows:,} validation rows: {accuracy_noise(score, rows):.4f}")
    return "; ".join(parts)


def reference_lines(result: SearchResult) -> list[str]:
    """One comparison line per tuned reference, saying what its learning-rate grid cost."""
    lines = []
    for reference, grid in tuned_references(result.references, result.metric):
        tuned = f" (the best of {grid} learning-rate settings, {grid} proxy trainings)" if grid > 1 else ""
        lines.append(reference_comparison(reference, result) + tuned)
    return lines


def describe_point(point: dict) -> str:
    """e.g. ``lora x12 + parallel x6``: each method and how many modules (prefix: layers) it
    places, as the method describes itself."""
    components = point.get("components") or [
        {"method": point.get("method", "?"), "settings": point.get("settings", {})}
    ]
    return " + ".join(describe_component(c["method"], c.get("settings", {})) for c in components)


def hypervolume_line(history: list[tuple[int, float]], width: int = 12) -> str:
    """The hypervolume after each trial that changed it (the last ``width`` changes)."""
    changes, last = [], None
    for number, value in history:
        if last is None or value > last + 1e-12:
            changes.append(f"#{number} {value:.4g}")
            last = value
    shown = changes[-width:]
    return "hypervolume by trial: " + ("... " if len(changes) > width else "") + ", ".join(shown)


def baseline_name(task: str) -> str:
    """What a study's baseline is: the untuned model for language modelling, else a trivial
    predictor (majority class, mean value)."""
    return "untuned model" if task == "causal_lm" else "trivial predictor"


def accuracy_noise(rate: float, rows: int) -> float:
    """The standard error of an accuracy of ``rate`` measured on ``rows`` validation rows."""
    return math.sqrt(rate * (1 - rate) / rows)


def noise_warning(result: SearchResult) -> str | None:
    """A warning when the task metric cannot tell the trials apart, so the Pareto set ranks noise.

    Two signs of it: no completed trial clearly beats the baseline (the model does not learn
    the task within the proxy budget); or, for accuracy over 5 or more trials, the trials'
    accuracies spread no wider than the validation split's own noise (MiniLM on RTE at the
    default proxy: a standard deviation of 0.011 against 0.013). "Clearly" means by more
    than two standard errors for accuracy; other metrics only need to improve.
    """
    values = [t.values[result.metric] for t in result.trials if t.state == "complete"]
    if not values or not result.baseline or result.metric not in result.baseline:
        return None
    maximize = OBJECTIVES[result.metric].maximize
    base = result.baseline[result.metric]
    best = max(values) if maximize else min(values)
    rows = result.validation_rows if result.metric == "accuracy" else None
    margin = 2 * accuracy_noise(base, rows) if rows else 0.0
    fix = (
        "Fix: raise budget.steps (and budget.max_length or budget.train_examples if they cut the data), "
        "widen the learning-rate ranges, or take a larger model"
    )
    if (best - base if maximize else base - best) <= margin:
        by = f" by more than noise ({margin:.4f} on {rows:,} validation rows)" if margin else ""
        return (
            f"no trial beat the {baseline_name(result.task)}'s validation {result.metric} {base:.4f}{by}; "
            f"the best reached {best:.4f}. The model does not learn this task within the proxy budget, "
            f"so the Pareto set ranks noise. {fix}"
        )
    if rows and len(values) >= 5:
        spread, noise = statistics.stdev(values), accuracy_noise(statistics.mean(values), rows)
        if spread <= noise:
            return (
                f"the trials' validation accuracies differ no more than noise (standard deviation {spread:.4f}, "
                f"against {noise:.4f} for one accuracy on {rows:,} rows): the proxy cannot tell these "
                f"configurations apart, so the Pareto set's order by accuracy is noise. {fix}"
            )
    return None


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


def print_result(console: Console, result: SearchResult) -> None:
    """A study's answer as ``search`` and ``show`` print it: the Pareto set and references, a
    line of counts, warnings, and ``study: PATH`` last (scripts read that line)."""
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
        console.print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    console.print(f"study: {result.study_dir}", highlight=False, soft_wrap=True)
