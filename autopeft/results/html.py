"""``autopeft report``: one self-contained HTML page of a study (plotly.js inlined, so it opens
with no network), and PNGs of the Pareto front and the placement map beside it.

The page shows the Pareto front against every trial with the tuned references marked, the
hypervolume history, each objective by trial, the trials' parameters in parallel coordinates
and the metric against each parameter, where the Pareto configurations place their modules,
parameter (and, when the study narrowed its space, module) importances, the references'
comparison lines, the Pareto set and every trial as tables (each sorts by a click on a column's
header), and every failed trial with its reason.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import optuna
import plotly.graph_objects as go
import plotly.offline

from autopeft.data.atomic import write_atomic
from autopeft.results import figure_data, figure_files, figures, table_sort
from autopeft.results.report_target import check_report_target
from autopeft.results.result import SearchResult
from autopeft.results.wording import (
    baseline_name,
    configuration_rows,
    importance_warning,
    noise_warning,
    reference_lines,
    trial_counts,
    trial_table,
)
from autopeft.store.study import StudyStore

REPORT_FILE = "report.html"
FRONT_PNG = "pareto-front.png"
PLACEMENT_PNG = "placement.png"
logger = logging.getLogger(__name__)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; padding: 0 1.5em; max-width: 1200px; color: #1f2328; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { padding: 3px 10px; border-bottom: 1px solid #eee; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } .warning { color: #9a6700; }
"""


@dataclass(frozen=True)
class ReportFiles:
    """What ``write_report`` wrote."""

    html: Path
    front_png: Path | None
    placement_png: Path | None


def write_report(study_dir: str | Path, out: str | Path | None = None) -> ReportFiles:
    """Write the study's HTML report (default ``STUDY/report.html``) and its PNGs beside it."""
    store = StudyStore.open(study_dir, read_only=True)
    result = SearchResult.from_store(store)
    if out is not None:  # a place the user named: never a folder, never over a file autopeft did not write
        out = Path(out).resolve()  # where the files land: `mine/report.html/../out` puts the PNGs in mine/
        check_report_target(out, [out.with_name(FRONT_PNG), out.with_name(PLACEMENT_PNG)])
    out = out if out is not None else store.path / REPORT_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    front = figure_data.front(result)
    maps = figure_data.pareto_placements(result)
    sections = [_summary(store, result)]
    if front.trials or front.references:
        sections.append(_figure("front", "Pareto front", figures.front_figure(front)))
    if result.hypervolume_history:
        sections.append(_figure("hypervolume", "Hypervolume", figures.hypervolume_figure(result.hypervolume_history)))
    if front.trials:
        sections.append(
            _figure("history", "Objectives by trial", figures.history_figure(figure_data.histories(result)))
        )
        coordinates = figure_data.coordinates(result, _distributions(store))
        sections.append(_figure("coordinates", "Parallel coordinates", figures.coordinates_figure(coordinates)))
        if coordinates.parameters:
            sections.append(_figure("slices", "Metric by parameter", figures.slice_figure(coordinates)))
    if maps:
        sections.append(_figure("placement", "Placement", figures.placement_figure(maps)))
    sections.append(_importances(store, result))
    lines = reference_lines(result)
    if lines:
        sections.append(
            "<h2>References</h2><ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"
        )
    sections.append(_pareto_table(result))
    sections.append(table_sort.table_html("All trials", *trial_table(result)))
    sections.append(_failures(result))
    page = _page(store.spec.name, sections)
    write_atomic(out, page)  # whole or not at all: a kill or a full disk keeps the older report
    front_png = figure_files.front_png(front, out.with_name(FRONT_PNG)) if front.trials else None
    placement_png = figure_files.placement_png(maps, out.with_name(PLACEMENT_PNG)) if maps else None
    return ReportFiles(out, front_png, placement_png)


def _page(name: str, sections: list[str]) -> str:
    title = html.escape(f"autopeft study {name}")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}{table_sort.STYLE}</style><script>{plotly.offline.get_plotlyjs()}</script>"
        f"<script>{table_sort.SCRIPT}</script></head>"
        f"<body><h1>{title}</h1>{''.join(sections)}</body></html>\n"
    )


def _figure(key: str, heading: str, figure: go.Figure) -> str:
    body = figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"figure-{key}")
    return f'<h2>{html.escape(heading)}</h2><section class="figure" data-figure="{key}">{body}</section>'


def _summary(store: StudyStore, result: SearchResult) -> str:
    spec = store.spec
    facts = [
        f"model {spec.model}, task {spec.data.task}, objectives: {', '.join(result.objectives)}",
        trial_counts(result),
    ]
    if result.baseline and result.metric in result.baseline:
        rows = f" on {result.validation_rows:,} validation rows" if result.validation_rows else ""
        facts.append(
            f"{baseline_name(result.task)}'s validation {result.metric}: {result.baseline[result.metric]:.4f}{rows}"
        )
    facts.append(f"study folder: {result.study_dir}; written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    warning = noise_warning(result)
    body = "".join(f"<li>{html.escape(fact)}</li>" for fact in facts)
    if warning:
        body += f'<li class="warning">warning: {html.escape(warning)}</li>'
    return f"<h2>Study</h2><ul>{body}</ul>"


def _importances(store: StudyStore, result: SearchResult) -> str:
    parts = []
    complete = [t for t in result.trials if t.state == "complete"]
    if len(complete) >= 2:
        figure = figures.parameter_importance_figure(store.study, result.objectives)
        parts.append(_figure("importance", "Parameter importances", figure))
        # as many parameters as optuna's evaluator fits: those every trial of the study has
        parameters = len(optuna.search_space.intersection_search_space(store.study.get_trials(deepcopy=False)))
        warning = importance_warning(len(complete), parameters)
        if warning:
            parts.append(f'<p class="warning">warning: {html.escape(warning)}</p>')
    else:
        parts.append("<h2>Parameter importances</h2><p>Fewer than two completed trials: nothing to compare.</p>")
    if result.importance:
        figure = figures.module_importance_figure(result.importance, result.switched_off)
        parts.append(_figure("modules", "Module importance scores", figure))
    return "".join(parts)


def _pareto_table(result: SearchResult) -> str:
    rows = [(str(record.number), record) for record in result.pareto]
    return table_sort.table_html("Pareto set", *configuration_rows(rows, "trial", result.metric, result.objectives))


def _failures(result: SearchResult) -> str:
    rows = [[what, reason] for what, reason in figure_data.failed_trials(result)]
    if not rows:
        return "<h2>Failed trials</h2><p>None.</p>"
    return table_sort.table_html("Failed trials", ["trial", "reason"], rows)


def _distributions(store: StudyStore) -> dict[str, optuna.distributions.BaseDistribution]:
    """Every searched parameter's distribution, in the order the trials first used them."""
    distributions: dict[str, optuna.distributions.BaseDistribution] = {}
    for trial in store.study.get_trials(deepcopy=False):
        for name, distribution in trial.distributions.items():
            distributions.setdefault(name, distribution)
    return distributions


def write_report_quietly(study_dir: str | Path) -> ReportFiles | None:
    """The report at the end of a search: a failure to draw it is logged, never fails the search."""
    try:
        return write_report(study_dir)
    except Exception as error:  # noqa: BLE001 - the study is intact; only its picture is missing
        logger.warning("the study's report was not written: %s. Fix: run `autopeft report %s`", error, study_dir)
        return None
