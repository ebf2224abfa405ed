"""What a study's figures show, as plain data: the charting modules (``figures`` for the HTML
report, ``figure_files`` for PNGs) draw the same numbers from here."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from autopeft.methods import component_placements, find_method
from autopeft.results.view import ResultView
from autopeft.results.wording import describe_point, tuned_references
from autopeft.store.records import ReferenceRecord, TrialRecord

MAX_PLACEMENT_MAPS = 12  # Pareto configurations drawn in the placement map (best first)
MAPS_PER_ROW = 4
COLOURS = {"trials": "#9aa5b1", "pareto": "#1f6feb", "references": "#d1242f"}
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
    """(trial or reference, reason) for every failed trial and reference."""
    rows = [(f"trial {t.number}", t.fail_reason or "") for t in result.trials if t.state == "fail"]
    rows += [(f"reference {r.name}", r.fail_reason or "") for r in result.references if r.failed]
    return rows
