"""PNG pictures of the Pareto front and the placement map, for papers and pull requests
(matplotlib, drawn off screen from the same data as the HTML report's figures)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import ticker  # noqa: E402

from autopeft.figure_data import Front, PlacementMap  # noqa: E402

MAPS_PER_ROW = 4


def front_png(front: Front, path: Path) -> Path:
    """The Pareto-front figure as a PNG."""
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=150)
    axes.scatter(
        [p.trainable_params for p in front.trials], [p.metric for p in front.trials], c="#9aa5b1", s=18, label="trials"
    )
    pareto = front.pareto
    axes.step(
        [p.trainable_params for p in pareto],
        [p.metric for p in pareto],
        where="post",
        color="#1f6feb",
        marker="o",
        label="Pareto set",
    )
    for reference in front.references:
        axes.scatter([reference.trainable_params], [reference.metric], c="#d1242f", marker="x", s=50)
        axes.annotate(
            reference.label,
            (reference.trainable_params, reference.metric),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    if front.references:
        axes.scatter([], [], c="#d1242f", marker="x", label="references (tuned)")
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axes.xaxis.set_minor_formatter(ticker.NullFormatter())
    axes.set_xlabel("trainable parameters")
    axes.set_ylabel(f"validation {front.metric}")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return _save(figure, path)


def placement_png(maps: list[PlacementMap], path: Path) -> Path:
    """The placement maps of the Pareto configurations as one PNG."""
    columns = min(MAPS_PER_ROW, len(maps))
    rows = math.ceil(len(maps) / columns)
    height = 0.8 + rows * (0.5 + 0.28 * len(maps[0].rows))
    figure, grid = plt.subplots(rows, columns, figsize=(3 + 2.2 * columns, height), dpi=150, squeeze=False, sharey=True)
    sizes = [v for m in maps for row in m.sizes for v in row if v is not None]
    low, high = (min(sizes), max(sizes)) if sizes else (0, 1)
    image = None
    for index, axes in enumerate(grid.flat):
        if index >= len(maps):
            axes.axis("off")
            continue
        placement = maps[index]
        values = np.array([[np.nan if v is None else v for v in row] for row in placement.sizes], dtype=float)
        image = axes.imshow(values, cmap="viridis", vmin=low, vmax=max(high, low + 1e-9), aspect="auto")
        axes.set_title(placement.label, fontsize=8)
        axes.set_xticks(range(len(placement.layers)), [f"L{layer}" for layer in placement.layers], fontsize=6)
        axes.set_yticks(range(len(placement.rows)), placement.rows, fontsize=6)
    if image is not None:
        figure.colorbar(image, ax=grid, shrink=0.8, label="rank, width or tokens")
    return _save(figure, path)


def _save(figure: plt.Figure, path: Path) -> Path:
    path = Path(path)
    figure.savefig(path, bbox_inches="tight")
    plt.close(figure)
    return path
