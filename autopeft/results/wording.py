"""The wording every view shares (the console, the HTML report, the figures' labels and the
trackers): how a configuration, a reference and a baseline are described, and the warnings.
Plain strings, so that every view reads them without loading another view."""

from __future__ import annotations

import math
import statistics

from autopeft.methods import describe_component
from autopeft.results.result import SearchResult
from autopeft.spec.objectives import OBJECTIVES
from autopeft.store.records import ReferenceRecord, TrialRecord, tuned_references

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


def reference_comparison(reference: ReferenceRecord, result: SearchResult) -> str:
    """How the search's completed trials stand against one reference: the best metric at the
    reference's size or smaller, and the fewest trainable parameters at its metric or better."""
    if reference.failed:
        return f"reference {reference.name} failed: {reference.fail_reason}"
    metric, objective = result.metric, OBJECTIVES[result.metric]
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
    if result.validation_classes == 1:  # not the model's fault: no metric can rank on one class
        return (
            f"the {result.validation_rows:,} validation rows scored hold one class only, so the validation "
            f"{result.metric} cannot tell a model that learns the task from one that always answers that class, "
            "and the Pareto set ranks nothing. Fix: give data.validation rows of every class (or raise "
            "budget.eval_examples, if it cuts a validation file sorted by class)"
        )
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
