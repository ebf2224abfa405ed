"""The report's interactive figures, drawn with plotly (and optuna's own importance plot)."""

from __future__ import annotations

import math
from typing import Any

import optuna
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from autopeft.results.figure_data import (
    COLOURS,
    LOG_OBJECTIVES,
    Coordinates,
    Front,
    FrontPoint,
    History,
    PlacementMap,
    grid_shape,
    log_ticks,
    tick_label,
)
from autopeft.spec.rate_grids import grid_name

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 50}}


def _scatter(points: list[FrontPoint], name: str, **style: Any) -> go.Scatter:
    return go.Scatter(
        x=[p.trainable_params for p in points],
        y=[p.metric for p in points],
        name=name,
        text=[f"{p.label}: {p.description}" for p in points],
        hovertemplate="%{text}<br>%{x:,} trainable params<br>%{y:.4f}<extra></extra>",
        **style,
    )


def front_figure(front: Front) -> go.Figure:
    """Every completed trial, the Pareto set (a staircase when it is a front on this plane),
    the tuned references marked."""
    figure = go.Figure()
    figure.add_trace(_scatter(front.trials, "trials", mode="markers", marker={"color": COLOURS["trials"], "size": 8}))
    pareto_style = {"mode": "lines+markers", "line": {"shape": "hv"}} if front.is_plane else {"mode": "markers"}
    figure.add_trace(
        _scatter(front.pareto, "Pareto set", marker={"color": COLOURS["pareto"], "size": 10}, **pareto_style)
    )
    if front.references:
        figure.add_trace(
            _scatter(
                front.references,
                "references (tuned)",
                mode="markers+text",
                textposition="top center",
                # the reference as the spec names it (its tuned rates are in the hover text), drawn
                # past the plot's edge rather than cut there
                texttemplate=[grid_name(p.label) for p in front.references],
                cliponaxis=False,
                marker={"color": COLOURS["references"], "size": 12, "symbol": "x"},
            )
        )
    sizes = [p.trainable_params for p in [*front.trials, *front.references]]
    ticks = log_ticks(min(sizes), max(sizes)) if sizes else []  # the PNG's ticks, not plotly's crowded 1..9 steps
    figure.update_layout(
        title="Pareto front: validation " + front.metric + " against trainable parameters",
        xaxis={
            "title": "trainable parameters",
            "type": "log",
            "tickvals": ticks,
            "ticktext": [tick_label(t) for t in ticks],
        },
        yaxis={"title": f"validation {front.metric}"},
        **_LAYOUT,
    )
    return figure


def hypervolume_figure(history: list[tuple[int, float]]) -> go.Figure:
    """The hypervolume of the completed trials after each trial."""
    figure = go.Figure(
        go.Scatter(
            x=[number for number, _ in history],
            y=[value for _, value in history],
            mode="lines+markers",
            name="hypervolume",
            line={"shape": "hv"},
        )
    )
    figure.update_layout(
        title="Hypervolume by trial (in the optimizer's geometry, against the study's fixed reference point)",
        xaxis={"title": "trial"},
        yaxis={"title": "hypervolume"},
        **_LAYOUT,
    )
    return figure


def placement_figure(maps: list[PlacementMap]) -> go.Figure:
    """One heatmap per Pareto configuration: layers across, method and module role down,
    coloured by log2 of the rank, width or virtual tokens, so that methods of very different
    sizes share one scale (blank: not placed)."""
    rows, columns = grid_shape(len(maps))
    figure = make_subplots(
        rows=rows, cols=columns, subplot_titles=[m.label for m in maps], shared_yaxes=True, horizontal_spacing=0.02
    )
    sizes = sorted({v for m in maps for row in m.sizes for v in row if v is not None})
    for index, placement in enumerate(maps):
        figure.add_trace(
            go.Heatmap(
                z=[[None if v is None else math.log2(v) for v in row] for row in placement.sizes],
                customdata=placement.sizes,
                x=[f"L{layer}" for layer in placement.layers],
                y=placement.rows,
                coloraxis="coloraxis",
                hovertemplate=f"{placement.label}<br>%{{y}} in %{{x}}: %{{customdata}}<extra></extra>",
                xgap=1,
                ygap=1,
            ),
            row=index // columns + 1,
            col=index % columns + 1,
        )
    ticks = {"tickvals": [math.log2(v) for v in sizes], "ticktext": [f"{v:g}" for v in sizes]}
    figure.update_layout(
        title="Placement of the Pareto configurations (colour: rank, width or virtual tokens)",
        coloraxis={"colorscale": "Viridis", "colorbar": {"title": "size", **ticks}},
        height=140 + rows * (60 + 28 * len(maps[0].rows)),
        **_LAYOUT,
    )
    figure.update_layout(margin={"l": 220})
    figure.update_yaxes(autorange="reversed")  # rows top to bottom in their order, as the PNG draws them
    return figure


def history_figure(histories: list[History]) -> go.Figure:
    """Each objective by trial number, one panel each, with the best value so far as a step line."""
    figure = make_subplots(
        rows=len(histories), cols=1, shared_xaxes=True, subplot_titles=[h.objective for h in histories]
    )
    for row, history in enumerate(histories, start=1):
        for name, values, style in (
            ("trial", history.values, {"mode": "markers", "marker": {"color": COLOURS["trials"], "size": 8}}),
            ("best so far", history.best, {"mode": "lines", "line": {"color": COLOURS["pareto"], "shape": "hv"}}),
        ):
            figure.add_trace(
                go.Scatter(
                    x=history.numbers,
                    y=values,
                    name=f"{history.objective}: {name}",
                    hovertemplate=f"trial %{{x}}<br>{history.objective} {name}: %{{y:.4g}}<extra></extra>",
                    **style,
                ),
                row=row,
                col=1,
            )
        if history.objective in LOG_OBJECTIVES:
            figure.update_yaxes(type="log", row=row, col=1)
    figure.update_xaxes(title="trial", row=len(histories), col=1)
    figure.update_layout(
        title="Objectives by trial (completed trials; line: the best so far)",
        height=120 + 220 * len(histories),
        showlegend=False,
        **_LAYOUT,
    )
    return figure


def coordinates_figure(data: Coordinates) -> go.Figure:
    """Parallel coordinates: one line per completed trial across its parameters and objectives,
    coloured by the task metric (drag along an axis to select; a trial's unused parameter is blank)."""
    dimensions = [
        {
            "label": axis.name,
            "values": axis.values,
            **({"tickvals": axis.ticks, "ticktext": axis.labels} if axis.ticks else {}),
        }
        for axis in data.axes
    ]
    figure = go.Figure(
        go.Parcoords(
            dimensions=dimensions,
            line={"color": data.scores, "colorscale": "Viridis", "showscale": True, "colorbar": {"title": data.metric}},
        )
    )
    figure.update_layout(
        title=f"Parameters and objectives of the completed trials (colour: validation {data.metric})",
        height=520,
        **_LAYOUT,
    )
    figure.update_layout(margin={"l": 60, "r": 60, "t": 110, "b": 40})
    return figure


def parameter_importance_figure(study: optuna.Study, objectives: list[str], shown: int = 15) -> go.Figure:
    """optuna's fANOVA importances of the searched parameters, one bar group per objective
    (the ``shown`` most important per objective). An objective that did not vary among the
    trials has no importances; the title names it. optuna sees a parameter a trial does not
    use at its placeholder value (see ``unused_params``), so a per-layer size can borrow
    importance from the placement that decides whether it is used."""
    figure, flat = go.Figure(), []
    for index, name in enumerate(objectives):
        try:
            scores = optuna.importance.get_param_importances(
                study,
                evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
                target=lambda t, i=index: t.values[i],
            )
        except (RuntimeError, ValueError):  # no variance, or too few trials for this objective
            flat.append(name)
            continue
        top = list(scores.items())[:shown][::-1]
        figure.add_trace(
            go.Bar(
                x=[value for _, value in top],
                y=[param for param, _ in top],
                orientation="h",
                name=name,
                hovertemplate=f"{name}: %{{y}} %{{x:.3f}}<extra></extra>",
            )
        )
    note = f" ({', '.join(flat)}: no variance among the trials)" if flat else ""
    figure.update_layout(
        title=f"Parameter importances per objective (optuna, fANOVA){note}",
        xaxis={"title": "importance"},
        barmode="group",
        height=160 + 20 * shown,
        **_LAYOUT,
    )
    figure.update_layout(margin={"l": 180})
    return figure


def module_importance_figure(scores: dict[str, float], switched_off: list[str]) -> go.Figure:
    """The importance scores of the placeable modules, switched-off ones marked."""
    names = sorted(scores, key=scores.get)
    off = set(switched_off)
    figure = go.Figure(
        go.Bar(
            x=[scores[name] for name in names],
            y=names,
            orientation="h",
            marker={"color": ["#d1242f" if name in off else "#1f6feb" for name in names]},
            hovertemplate="%{y}: %{x:.3g}<extra></extra>",
            name="importance",
        )
    )
    figure.update_layout(
        title="Module importance scores (red: switched off before the search)",
        xaxis={"title": "score", "type": "log"},
        height=120 + 18 * len(names),
        **_LAYOUT,
    )
    figure.update_layout(margin={"l": 320})
    return figure


def slice_figure(data: Coordinates, columns: int = 4) -> go.Figure:
    """The task metric against each searched parameter, one panel each (optuna's slice plot),
    points coloured by trial number: a parameter that matters shows a trend in its panel."""
    parameters = data.axes[: data.parameters]
    rows = math.ceil(len(parameters) / columns)
    figure = make_subplots(
        rows=rows, cols=columns, subplot_titles=[axis.name for axis in parameters], shared_yaxes=True
    )
    for index, axis in enumerate(parameters):
        row, col = index // columns + 1, index % columns + 1
        figure.add_trace(
            go.Scatter(
                x=axis.values,
                y=data.scores,
                customdata=data.trials,
                mode="markers",
                name=axis.name,
                marker={"color": data.trials, "coloraxis": "coloraxis", "size": 8},
                hovertemplate=f"trial %{{customdata}}<br>{data.metric} %{{y:.4f}}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        if axis.ticks:
            figure.update_xaxes(tickvals=axis.ticks, ticktext=axis.labels, row=row, col=col)
    figure.update_layout(
        title=f"Validation {data.metric} against each parameter (colour: trial number)",
        coloraxis={"colorscale": [[0, "#9ecae1"], [1, "#08306b"]], "colorbar": {"title": "trial"}},  # none white
        height=160 + 220 * rows,
        showlegend=False,
        **_LAYOUT,
    )
    figure.update_layout(margin={"t": 90})
    return figure
