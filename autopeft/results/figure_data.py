"""What a study's figures show, as plain data: the charting modules (``figures`` for the HTML
report, ``figure_files`` for PNGs) draw the same numbers from here."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from optuna.distributions import BaseDistribution, CategoricalDistribution

from autopeft.methods import component_placements, find_method
from autopeft.results.view import ResultView
from autopeft.results.wording import describe_point, tuned_references
from autopeft.store.records import ReferenceRecord, TrialRecord

MAX_PLACEMENT_MAPS = 12  # Pareto configurations drawn in the placement map (best first)
MAPS_PER_ROW = 4
COLOURS = {"trials": "#9aa5b1", "pareto": "#1f6feb", "references": "#d1242f"}
LOG_OBJECTIVES = {"trainable_params", "peak_memory_mb", "perplexity"}  # log axes: the optimizer compares them so
_LAYER_INDEX = re.compile(r"\.(\d+)\.")


@dataclass(frozen=True)
class FrontPoint:
    """One configuration on the metric-against-parameters plane."""

    label: str  # "trial 3", "lora-r8-qv"
    trainable_params: int
    metric: float
    description: str  # e.g. "lora x12, lr 1.0e-03"
    on_front: bool = False


@dataclass(frozen=True)
class Front:
    """Every completed trial, the Pareto set (by size) and the tuned references.

    ``is_plane`` says whether the study's objectives are exactly the metric and trainable
    parameters, so that the Pareto set is a front on this plane (drawn as a staircase);
    with other or more objectives it is only marked."""

    metric: str
    trials: list[FrontPoint]
    pareto: list[FrontPoint]
    references: list[FrontPoint]
    is_plane: bool = True


@dataclass(frozen=True)
class PlacementMap:
    """Where one configuration places its modules: ``sizes[row][layer]`` is the rank, width or
    number of virtual tokens of the method and module role of ``rows[row]`` in that layer
    (None where nothing is placed)."""

    label: str
    layers: list[int]
    rows: list[str]
    sizes: list[list[float | None]]


@dataclass(frozen=True)
class History:
    """One objective by trial number (completed trials), with the best value so far."""

    objective: str
    numbers: list[int]
    values: list[float]
    best: list[float]


@dataclass(frozen=True)
class Axis:
    """One axis of the parallel-coordinates view: a value per trial (NaN where the trial does
    not use the parameter), drawn at ``ticks`` labelled ``labels``; a log-scaled parameter's
    values and ticks are log10, a categorical one's are its choices' positions."""

    name: str
    values: list[float]
    ticks: list[float]
    labels: list[str]


@dataclass(frozen=True)
class Coordinates:
    """The searched parameters and the objectives of every completed trial, one axis each."""

    trials: list[int]
    axes: list[Axis]
    metric: str
    scores: list[float]  # the task metric, the lines' colour
    parameters: int  # how many of ``axes`` are parameters (the objectives follow)


def _point_label(record: TrialRecord | ReferenceRecord) -> str:
    rate = record.point["hyperparameters"]["learning_rate"] if record.point else None
    return describe_point(record.point or {}) + (f", lr {rate:.1e}" if rate is not None else "")


def front(result: ResultView) -> Front:
    """The data of the Pareto-front plot: completed trials, the front, tuned references."""
    metric = result.metric
    on_front = {record.number for record in result.pareto}

    def point(record: TrialRecord) -> FrontPoint:
        return FrontPoint(
            f"trial {record.number}",
            record.trainable_params,
            record.values[metric],
            _point_label(record),
            record.number in on_front,
        )

    done = [point(t) for t in result.trials if t.state == "complete" and metric in t.values]
    pareto = sorted((p for p in done if p.on_front), key=lambda p: p.trainable_params)
    references = [
        FrontPoint(reference.name, reference.trainable_params, reference.values[metric], _point_label(reference))
        for reference, _ in tuned_references(result.references, result.objective(metric))
        if not reference.failed
    ]
    return Front(metric, done, pareto, references, result.objectives == [metric, "trainable_params"])


def module_slot(name: str) -> tuple[int, str] | None:
    """(layer index, module role) of a full module name, from its last numbered segment:
    ``bert.encoder.layer.3.attention.self.query`` -> (3, ``attention.self.query``)."""
    found = list(_LAYER_INDEX.finditer(f"{name}."))
    if not found:
        return None
    last = found[-1]
    return int(last.group(1)), f"{name}."[last.end() :].rstrip(".")


def placement_map(
    label: str, point: dict, layers: list[int] | None = None, rows: list[str] | None = None
) -> PlacementMap:
    """The placement map of one stored point (components of every method, rows named
    ``METHOD · ROLE``), over the given ``layers`` and ``rows`` or else those it places."""
    cells: dict[tuple[str, int], float] = {}
    for component in point.get("components") or []:
        definition = find_method(component["method"])
        method_label = (definition.label or definition.name) if definition else component["method"]
        for name, size in component_placements(component["method"], component.get("settings", {})).items():
            slot = module_slot(name)
            if slot is not None:
                cells[(f"{method_label} · {slot[1]}", slot[0])] = float(size)
    rows = sorted({row for row, _ in cells}) if rows is None else rows
    layers = sorted({layer for _, layer in cells}) if layers is None else layers
    return PlacementMap(label, layers, rows, [[cells.get((row, layer)) for layer in layers] for row in rows])


def pareto_placements(result: ResultView) -> list[PlacementMap]:
    """Placement maps of the Pareto configurations that place something (the best
    ``MAX_PLACEMENT_MAPS`` by the task metric), each drawn over every layer and row that any
    trial or reference placed, so they compare at a glance and show what the search left out."""
    seen = [placement_map("", r.point or {}) for r in [*result.trials, *result.references]]
    layers = sorted({layer for m in seen for layer in m.layers})
    rows = sorted({row for m in seen for row in m.rows})
    maps = [placement_map(f"trial {r.number}", r.point or {}, layers, rows) for r in result.pareto[:MAX_PLACEMENT_MAPS]]
    return [m for m in maps if any(size is not None for row in m.sizes for size in row)]


def grid_shape(maps: int) -> tuple[int, int]:
    """(rows, columns) of the placement maps' grid."""
    columns = min(MAPS_PER_ROW, maps)
    return math.ceil(maps / columns), columns


def failed_trials(result: ResultView) -> list[tuple[str, str]]:
    """(trial or reference, reason) for every failed trial and reference; an interrupted trial
    did not fail (its point ran again), as the counts say."""
    failed = [t for t in result.trials if t.state == "fail" and not t.interrupted]
    rows = [(f"trial {t.number}", t.fail_reason or "") for t in failed]
    rows += [(f"reference {r.name}", r.fail_reason or "") for r in result.references if r.failed]
    return rows


def histories(result: ResultView) -> list[History]:
    """Each objective by trial number over the completed trials, and the best so far in its
    direction (more accuracy, fewer parameters)."""
    done = [t for t in result.trials if t.state == "complete"]
    drawn = []
    for objective in (result.objective(name) for name in result.objectives):
        measured = [t for t in done if objective.name in t.values]
        values = [t.values[objective.name] for t in measured]
        pick = max if objective.maximize else min
        best = [pick(values[: index + 1]) for index in range(len(values))]
        drawn.append(History(objective.name, [t.number for t in measured], values, best))
    return drawn


def log_ticks(low: float, high: float) -> list[float]:
    """Readable ticks of a log axis from ``low`` to ``high`` (both positive): the first of
    powers of ten, 1-2-5, 1-2-3-5 and 1-1.5-2-3-4-5-7 steps that puts three ticks in the range
    (none crowd: neighbours are at least a tenth of a decade apart), else three ticks spread
    over it at two significant digits (a range inside one step)."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for steps in ((1,), (1, 2, 5), (1, 2, 3, 5), (1, 1.5, 2, 3, 4, 5, 7)):
        ticks = [m * 10.0**k for k in range(first, last + 1) for m in steps if low <= m * 10.0**k <= high]
        if len(ticks) >= 3:
            return ticks
    return [float(f"{low * (high / low) ** share:.2g}") for share in (0.15, 0.5, 0.85)]


def tick_label(value: float) -> str:
    """A tick's number as a person writes it: 10,000, 0.001, 2e-05."""
    return f"{value:,.0f}" if value >= 1 and value == round(value) else f"{value:g}"


def _axis(name: str, values: list, distribution: BaseDistribution | None, log: bool = False) -> Axis:
    """An axis of one parameter or objective: categorical choices at their positions (the
    distribution's order), log scales in log10 with readable ticks, other numbers as they are.
    A trial that does not use the parameter sits at "unused" below the rest (plotly draws a
    NaN as a stray line)."""
    if isinstance(distribution, CategoricalDistribution) or any(isinstance(v, (str, bool)) for v in values):
        choices = list(distribution.choices) if isinstance(distribution, CategoricalDistribution) else []
        choices += [v for v in dict.fromkeys(values) if v is not None and v not in choices]
        positions = [None if v is None else float(choices.index(v)) for v in values]
        ticks, labels = [float(i) for i in range(len(choices))], [str(c) for c in choices]
    else:
        seen = [float(v) for v in values if v is not None]
        if (log or getattr(distribution, "log", False)) and seen and min(seen) > 0:
            positions = [None if v is None else math.log10(v) for v in values]
            ticks = log_ticks(min(seen), max(seen))
            ticks, labels = [math.log10(t) for t in ticks], [tick_label(t) for t in ticks]
        elif None in values:  # ticks of its own, to add "unused" to
            positions = [None if v is None else float(v) for v in values]
            ticks = sorted(set(seen)) if len(set(seen)) <= 8 else [float(f"{v:.3g}") for v in _spread(seen)]
            labels = [tick_label(t) for t in ticks]
        else:
            return Axis(name, [float(v) for v in values], [], [])
    if None in positions:
        drawn = [p for p in positions if p is not None] + ticks
        unused = min(drawn) - 0.25 * ((max(drawn) - min(drawn)) or 1.0)
        positions = [unused if p is None else p for p in positions]
        ticks, labels = [unused, *ticks], ["unused", *labels]
    return Axis(name, positions, ticks, labels)


def _spread(values: list[float], count: int = 5) -> list[float]:
    """``count`` evenly spaced values from the smallest to the largest."""
    low, high = min(values), max(values)
    return [low + (high - low) * i / (count - 1) for i in range(count)]


def coordinates(result: ResultView, distributions: dict[str, BaseDistribution]) -> Coordinates:
    """The parallel-coordinates data: one axis per parameter that differs among the completed
    trials (a trial's unused parameters, stored as placeholders, are left blank), in the
    search space's order, then one per objective."""
    done = [t for t in result.trials if t.state == "complete" and result.metric in t.values]
    names = list(dict.fromkeys([*distributions, *(name for t in done for name in t.params)]))
    axes = []
    for name in names:
        values = [t.used_params.get(name) for t in done]
        if len({repr(v) for v in values if v is not None}) > 1:
            axes.append(_axis(name, values, distributions.get(name)))
    parameters = len(axes)
    for objective in (result.objective(name) for name in result.objectives):
        name = objective.name
        values = [t.trainable_params if name == "trainable_params" else t.values.get(name) for t in done]
        axes.append(_axis(name, values, None, log=name in LOG_OBJECTIVES))
    scores = [t.values[result.metric] for t in done]
    return Coordinates([t.number for t in done], axes, result.metric, scores, parameters)
