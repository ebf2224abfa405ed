"""The wording every view shares (the console, the HTML report, the figures' labels and the
trackers): how a configuration, a reference and a baseline are described, and the warnings.
Plain strings, so that every view reads them without loading another view."""

from __future__ import annotations

import math
import statistics

from autopeft.methods import describe_component
from autopeft.results.view import ResultView
from autopeft.spec.rate_grids import grid_name
from autopeft.store.records import ReferenceRecord, TrialRecord, tuned_references

RELIABLE_IMPORTANCE_TRIALS = 10  # fANOVA's forest wants at least this many completed trials, and 2 per parameter

# Cost objectives shown when a study optimizes them: column title and format.
COST_COLUMNS = {
    "peak_memory_mb": ("peak MB", "{:,.0f}"),
    "throughput": ("examples/s", "{:.1f}"),
    "latency_overhead": ("latency +%", "{:+.1%}"),
}


def configuration_rows(
    rows: list[tuple[str, TrialRecord | ReferenceRecord]], label: str, metric: str, objectives: list[str] = ()
) -> tuple[list[str], list[list[str]]]:
    """Column titles and formatted cells of a table of configurations (the console's and the
    HTML report's): label, the confirmed metric where the confirmation stage ran, the proxy's
    metric, trainable parameters, % of base, cost objectives, method, lr."""
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


def trial_counts(result: ResultView) -> str:
    """The study's counts as ``search``, ``show`` and the report say them: trials that count
    (an interrupted trial ran again under a later number, so it is neither counted nor failed),
    the Pareto set, failed, stopped early, interrupted, run again after a worker died."""
    interrupted = sum(1 for t in result.trials if t.interrupted)
    pending = sum(1 for t in result.trials if t.interrupted and ran_again_as(t, result.trials) is None)
    running = sum(1 for t in result.trials if t.state == "running")  # live, or left by a killed search
    failed = sum(1 for t in result.trials if t.state == "fail") - interrupted
    stopped = sum(1 for t in result.trials if t.state == "pruned")
    rerun = [str(t.number) for t in result.trials if t.attempts > 1]
    counted = sum(1 for t in result.trials if t.counts)
    return (
        f"{counted} trial{'s' * (counted != 1)}, {len(result.pareto)} on the Pareto set, {failed} failed"
        + (f", {stopped} stopped early" if stopped else "")
        + (f", {interrupted - pending} interrupted and run again" if interrupted - pending else "")
        + (f", {pending} interrupted (run again on resume)" if pending else "")
        + (f", {running} running or cut off (a resume runs them again)" if running else "")
        + (f", {len(rerun)} ran again after their worker died ({', '.join(rerun)})" if rerun else "")
    )


def ran_again_as(trial: TrialRecord, trials: list[TrialRecord]) -> int | None:
    """The trial an interrupted one ran again as: the first later trial with its parameters
    (the store queues the point to run next), or None while it waits for a resume."""
    return next((t.number for t in trials if t.number > trial.number and t.params == trial.params), None)


def trial_state(trial: TrialRecord, trials: list[TrialRecord]) -> str:
    """A trial's state in words, with why it failed or where an interrupted one ran again."""
    if trial.interrupted:
        again = ran_again_as(trial, trials)
        return "interrupted, " + ("runs again on resume" if again is None else f"ran again as trial {again}")
    if trial.state == "fail":
        return f"failed: {trial.fail_reason or 'no reason kept'}"
    return {"pruned": "stopped early", "complete": "complete"}.get(trial.state, trial.state)


def trial_table(result: ResultView) -> tuple[list[str], list[list[str]]]:
    """Column titles and cells of the report's table of every trial: number, state, whether it
    is on the Pareto set, method, each objective, trainable parameters and the hyperparameters."""
    front = {t.number for t in result.pareto}
    measured = [name for name in result.objectives if name != "trainable_params"]
    rates = sorted({name for t in result.trials for name in ((t.point or {}).get("hyperparameters") or {})})

    def measurement(trial: TrialRecord, name: str) -> str:
        if name not in trial.values:
            return "-"
        return COST_COLUMNS[name][1].format(trial.values[name]) if name in COST_COLUMNS else f"{trial.values[name]:.4f}"

    def rate(trial: TrialRecord, name: str) -> str:
        value = ((trial.point or {}).get("hyperparameters") or {}).get(name)
        return "-" if value is None else f"{value:.2e}" if isinstance(value, float) else str(value)

    rows = [
        [
            str(t.number),
            trial_state(t, result.trials),
            "yes" if t.number in front else "",
            describe_point(t.point) if t.point else "-",
            *[measurement(t, name) for name in measured],
            "-" if t.trainable_params is None else f"{t.trainable_params:,}",
            *[rate(t, name) for name in rates],
        ]
        for t in result.trials
    ]
    titles = [COST_COLUMNS[name][0] if name in COST_COLUMNS else f"val {name}" for name in measured]
    return ["trial", "state", "Pareto", "method", *titles, "trainable params", *rates], rows


def importance_warning(completed: int, parameters: int) -> str | None:
    """A warning when fANOVA's importances rest on too few completed trials for the number of
    parameters it fits (fewer than ``RELIABLE_IMPORTANCE_TRIALS``, or than two per parameter)."""
    wanted = max(RELIABLE_IMPORTANCE_TRIALS, 2 * parameters)
    if completed >= wanted:
        return None
    return (
        f"these importances are not reliable: fANOVA fitted {parameters} parameters on {completed} completed "
        f"trials, where at least {wanted} are needed ({RELIABLE_IMPORTANCE_TRIALS}, and two per parameter). "
        "Fix: run more trials (`autopeft search --resume STUDY --trials N`), or search fewer parameters"
    )


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


def reference_comparison(reference: ReferenceRecord, result: ResultView) -> str:
    """How the search's completed trials stand against one reference: the best metric at the
    reference's size or smaller, and the fewest trainable parameters at its metric or better."""
    if reference.failed:
        return f"reference {reference.name} failed: {reference.fail_reason}"
    metric, objective = result.metric, result.objective(result.metric)
    confirmed = [t for t in result.trials if t.confirmed is not None and t.confirmed.mean(metric) is not None]
    on_confirmed = bool(confirmed) and reference.confirmed is not None and reference.confirmed.mean(metric) is not None

    def value_of(record: TrialRecord | ReferenceRecord) -> float:
        """The confirmed mean where both sides were confirmed (like with like), else the proxy's one run."""
        return record.confirmed.mean(metric) if on_confirmed else record.values[metric]

    def goodness(trial: TrialRecord) -> float:
        return objective.maximized(value_of(trial))

    size, score = reference.trainable_params, value_of(reference)
    done = confirmed if on_confirmed else [t for t in result.trials if t.state == "complete"]
    kind = "confirmed " if on_confirmed else ""
    parts = [f"{reference.name}: {kind}{metric} {score:.4f} with {size:,} trainable params"]
    no_larger = [t for t in done if t.trainable_params <= size]
    if no_larger:
        best = max(no_larger, key=goodness)
        value = value_of(best)
        parts.append(
            f"best {kind}trial at its size or smaller: {best.number}, {metric} {value:.4f} ({value - score:+.4f}) "
            f"with {best.trainable_params / size:.2g}x its parameters"
        )
    else:
        parts.append("no trial is as small")
    as_good = [t for t in done if goodness(t) >= objective.maximized(score)]
    if as_good:
        smallest = min(as_good, key=lambda t: t.trainable_params)
        parts.append(
            f"smallest {kind}trial at its {metric} or better: {smallest.number}, "
            f"{smallest.trainable_params / size:.2g}x its parameters"
        )
    else:
        parts.append(f"no trial reaches its {metric}")
    rows = result.validation_rows if metric == "accuracy" else None
    if rows:
        parts.append(f"one accuracy's standard error on {rows:,} validation rows: {accuracy_noise(score, rows):.4f}")
    return "; ".join(parts)


def reference_lines(result: ResultView) -> list[str]:
    """One comparison line per tuned reference, saying what its learning-rate grid cost."""
    lines = []
    for reference, grid in tuned_references(result.references, result.objective(result.metric)):
        tuned = f" (the best of {grid} learning-rate settings, {grid} proxy trainings)" if grid > 1 else ""
        added = [r.extended for r in result.references if r.extended and grid_name(r.name) == grid_name(reference.name)]
        if added:  # driver/reference_grid.py: it peaked at an edge of the spec's grid
            tuned = tuned[:-1] + f"; grid extended {len(added)} time(s): {'; '.join(added)})"
        lines.append(reference_comparison(reference, result) + tuned)
    return lines


def describe_point(point: dict) -> str:
    """e.g. ``lora x12 + parallel x6``: each method and how many modules (prefix: layers) it
    places, as the method describes itself."""
    components = point.get("components") or [
        {"method": point.get("method", "?"), "settings": point.get("settings", {})}
    ]
    return " + ".join(describe_component(c["method"], c.get("settings", {})) for c in components)


def baseline_name(task: str) -> str:
    """What a study's baseline is: the untuned model for language modelling, else a trivial
    predictor (majority class, mean value)."""
    return "untuned model" if task == "causal_lm" else "trivial predictor"


def accuracy_noise(rate: float, rows: int) -> float:
    """The standard error of an accuracy of ``rate`` measured on ``rows`` validation rows."""
    return math.sqrt(rate * (1 - rate) / rows)


def noise_warning(result: ResultView) -> str | None:
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
    if result.validation_classes == 1:  # not the model's fault: no metric can rank on one class
        return (
            f"the {result.validation_rows:,} validation rows scored hold one class only, so the validation "
            f"{result.metric} cannot tell a model that learns the task from one that always answers that class, "
            "and the Pareto set ranks nothing. Fix: give data.validation rows of every class (or raise "
            "budget.eval_examples, if it cuts a validation file sorted by class)"
        )
    maximize = result.objective(result.metric).maximize
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
