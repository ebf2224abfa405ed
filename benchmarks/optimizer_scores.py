"""How benchmarks/optimizer.py scores a run: three figures, all on true (noise-free) values.

A run is the list of its trials' true [accuracy, trainable parameters], in order, with None
for a trial that failed (its accuracy was never seen, so it found nothing).

- ``hv_union``: the hypervolume of (accuracy, -log10(1 + parameters)) above (the floor: chance
  or the majority class, the largest count), divided by that of the union of every kept run on
  the instance. One denominator for every sampler, trial count and schedule, and one no
  single run sets by construction; a figure says how much of the best known front a run found.
- ``best_metric``: the best true accuracy among the configurations found: the accurate end,
  which a log-scale hypervolume weighs little.
- ``hv_region``: the hypervolume above the instance's reference configuration (the
  practitioner's default placed in the space), i.e. of the region of configurations both more
  accurate and smaller than it, divided by that of the union of kept runs. None where no kept
  run beat the reference in both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from autopeft.optim.hypervolume import hypervolume

Run = Sequence[Sequence[float] | None]


def found(values: Run) -> list[Sequence[float]]:
    """The trials that produced a result."""
    return [v for v in values if v is not None]


def hypervolume_above(values: Run, corner: tuple[float, float]) -> float:
    """Hypervolume of (accuracy, -log10(1 + count)) above ``corner`` = (accuracy, count)."""
    rows = [[accuracy, -math.log10(1 + count)] for accuracy, count in found(values)]
    if not rows:
        return 0.0
    return hypervolume(np.array(rows), np.array([corner[0], -math.log10(1 + corner[1])]))


def hv_union(values: Run, union: Run, corner: tuple[float, float]) -> float:
    """The run's hypervolume as a fraction of the union's, both above ``corner``."""
    return hypervolume_above(values, corner) / hypervolume_above(union, corner)


def hv_region(values: Run, union: Run, reference: tuple[float, float]) -> float | None:
    """The run's hypervolume above the reference configuration's (accuracy, count), as a
    fraction of the union's; None where nothing kept beats the reference in both."""
    whole = hypervolume_above(union, reference)
    return hypervolume_above(values, reference) / whole if whole > 0 else None


def best_metric(values: Run) -> float | None:
    """The best true accuracy among the configurations the run found."""
    accuracies = [accuracy for accuracy, _ in found(values)]
    return max(accuracies) if accuracies else None
