"""PNG pictures of the Pareto front and the placement map, for papers and pull requests
(matplotlib, drawn off screen from the same data as the HTML report's figures; no pyplot,
so the process's plotting backend is left alone)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colors, ticker
from matplotlib.figure import Figure

from autopeft.data.atomic import replacing
from autopeft.results.figure_data import COLOURS, Front, PlacementMap, grid_shape, log_ticks, tick_label
from autopeft.results.report_target import PNG_METADATA


def front_png(front: Front, path: Path) -> Path:
    """The Pareto-front figure as a PNG."""
    return _save(front_picture(front), path)


def placement_png(maps: list[PlacementMap], path: Path) -> Path:
    """The placement maps of the Pareto configurations as one PNG."""
    return _save(placement_picture(maps), path)


def front_picture(front: Front) -> Figure:
    """Trials, the Pareto set (a staircase on this plane) and the tuned references."""
    figure = Figure(figsize=(7, 4.5), dpi=150)
    axes = figure.subplots()
    axes.scatter(
        [p.trainable_params for p in front.trials],
        [p.metric for p in front.trials],
        c=COLOURS["trials"],
        s=18,
        label="trials",
    )
    x, y = [p.trainable_params for p in front.pareto], [p.metric for p in front.pareto]
    if front.is_plane:
        axes.step(x, y, where="post", color=COLOURS["pareto"], marker="o", label="Pareto set")
    else:
        axes.scatter(x, y, color=COLOURS["pareto"], marker="o", label="Pareto set")
    if front.references:
        axes.scatter(
            [r.trainable_params for r in front.references],
            [r.metric for r in front.references],
            c=COLOURS["references"],
            marker="x",
            s=50,
            label="references (tuned)",
        )
    axes.set_xscale("log")
    axes.margins(x=0.08, y=0.12)
    low, high = axes.get_xlim()  # the view, margins included: ticks span it
    axes.xaxis.set_major_locator(ticker.FixedLocator(log_ticks(low, high)))
    axes.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: tick_label(value)))
    axes.xaxis.set_minor_formatter(ticker.NullFormatter())
    to_axes = axes.transData + axes.transAxes.inverted()
    for reference in front.references:  # each label on the side of its point that stays inside the axes
        x, y = to_axes.transform((reference.trainable_params, reference.metric))
        axes.annotate(
            reference.label,
            (reference.trainable_params, reference.metric),
            fontsize=7,
            xytext=(-4 if x > 0.5 else 4, -4 if y > 0.5 else 4),
            textcoords="offset points",
            ha="right" if x > 0.5 else "left",
            va="top" if y > 0.5 else "bottom",
        )
    axes.set_xlabel("trainable parameters")
    axes.set_ylabel(f"validation {front.metric}")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return figure


def placement_picture(maps: list[PlacementMap]) -> Figure:
    """One map per Pareto configuration, colour on a log scale of the size; rows top to bottom
    in the maps' order, as the HTML report's map draws them."""
    rows, columns = grid_shape(len(maps))
    height = 0.8 + rows * (0.5 + 0.28 * len(maps[0].rows))
    figure = Figure(figsize=(3 + 2.2 * columns, height), dpi=150)
    grid = figure.subplots(rows, columns, squeeze=False, sharey=True)
    sizes = [v for m in maps for row in m.sizes for v in row if v is not None]
    scale = colors.LogNorm(vmin=min(sizes), vmax=max(max(sizes), min(sizes) * 1.01))
    image = None
    for index, axes in enumerate(grid.flat):
        if index >= len(maps):
            axes.axis("off")
            continue
        placement = maps[index]
        values = np.array([[np.nan if v is None else v for v in row] for row in placement.sizes], dtype=float)
        image = axes.imshow(values, cmap="viridis", norm=scale, aspect="auto")
        axes.set_title(placement.label, fontsize=8)
        axes.set_xticks(range(len(placement.layers)), [f"L{layer}" for layer in placement.layers], fontsize=6)
        axes.set_yticks(range(len(placement.rows)), placement.rows, fontsize=6)
    if image is not None:  # ticked at the sizes drawn, in plain numbers (1, 2, 4, 8), not 10^0, 2x10^0
        ticks = sorted(set(sizes))
        bar = figure.colorbar(image, ax=grid, shrink=0.8, label="rank, width or tokens", ticks=ticks)
        bar.ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: tick_label(value)))
        bar.ax.yaxis.set_minor_locator(ticker.NullLocator())
    return figure


def _save(figure: Figure, path: Path) -> Path:
    """Written whole or not at all, and marked as autopeft's (``report --out`` replaces no other PNG)."""
    path = Path(path)
    with replacing(path) as partial:
        figure.savefig(partial, format="png", bbox_inches="tight", metadata=PNG_METADATA)
    return path
