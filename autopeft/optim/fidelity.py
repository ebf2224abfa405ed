"""Multi-objective successive halving over proxy-training steps (asynchronous, ASHA-style).

A trial trains towards the full step budget and is scored at rungs (by default at a
third of the steps, then the end). At each rung it goes on only if it is among the best 1/eta
of all trials scored at that rung so far, ranked by non-dominated sorting and, within
the last front that fits, by hypervolume contribution. Neither optuna's pruners nor Ray
Tune's schedulers rank on several objectives; this does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from botorch.utils.multi_objective.pareto import is_non_dominated

from autopeft.optim.hypervolume import hypervolume, reference_point
from autopeft.spec.objectives import Objective, maximized_vector


def non_dominated_ranks(Y: np.ndarray) -> np.ndarray:
    """0 for the Pareto front, 1 for the front once that is removed, and so on (maximization)."""
    ranks = np.full(len(Y), -1)
    remaining = np.arange(len(Y))
    rank = 0
    while len(remaining):
        front = is_non_dominated(torch.as_tensor(Y[remaining], dtype=torch.double), deduplicate=False).numpy()
        ranks[remaining[front]] = rank
        remaining = remaining[~front]
        rank += 1
    return ranks


def hypervolume_contributions(Y: np.ndarray) -> np.ndarray:
    """The hypervolume each row alone adds to the set (reference inferred from the set)."""
    if len(Y) == 1:
        return np.ones(1)
    ref = reference_point(torch.as_tensor(Y)).numpy()
    total = hypervolume(Y, ref)
    return np.array([total - hypervolume(np.delete(Y, i, axis=0), ref) for i in range(len(Y))])


def best_k(Y: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best rows: lower non-dominated rank first, then larger contribution."""
    ranks = non_dominated_ranks(Y)
    chosen: list[int] = []
    for rank in range(ranks.max() + 1):
        members = np.flatnonzero(ranks == rank)
        if len(chosen) + len(members) <= k:
            chosen.extend(members)
            continue
        contributions = hypervolume_contributions(Y[members])
        chosen.extend(members[np.argsort(-contributions)[: k - len(chosen)]])
        break
    return np.array(chosen, dtype=int)


@dataclass(frozen=True)
class SuccessiveHalving:
    """Rungs at ``min_fraction * eta**i`` of the steps; keep the best ``1/eta`` at each.

    The default (one rung at a third of the steps) came out best in benchmarks/optimizer.py:
    at 1/9 of the steps, scores were too noisy and too biased towards small modules to rank on.
    """

    eta: int = 3
    min_fraction: float = 1 / 3

    def rungs(self, steps: int) -> list[int]:
        """Step counts at which trials are scored, ending with ``steps`` itself."""
        count = max(0, math.ceil(math.log(1 / self.min_fraction, self.eta) - 1e-9))
        points = sorted({max(1, round(steps * self.min_fraction * self.eta**i)) for i in range(count)})
        return [p for p in points if p < steps] + [steps]

    def should_continue(self, candidate: np.ndarray, earlier: np.ndarray) -> bool:
        """Whether a trial scoring ``candidate`` at a rung goes on, given the ``earlier``
        scores of other trials at that rung (all objectives maximized)."""
        Y = np.vstack([earlier.reshape(-1, len(candidate)), candidate])
        if len(Y) < self.eta:
            return True  # too few to judge: let it go on
        keep = max(1, len(Y) // self.eta)
        return bool(len(Y) - 1 in best_k(Y, keep))


class RungBoard:
    """Every trial's scores at each rung of one study, and the schedule's verdict on a new
    score. The driver holds one; under Ray it lives in an actor that the workers ask."""

    def __init__(
        self,
        schedule: SuccessiveHalving,
        objectives: list[Objective],
        scores: Mapping[str, list[Mapping[str, float]]] | None = None,
    ) -> None:
        self.schedule = schedule
        self.objectives = objectives
        self._rows: dict[str, list[np.ndarray]] = {}
        for step, measurements in (scores or {}).items():
            self._rows[step] = [maximized_vector(objectives, m) for m in measurements]

    def judge(self, step: int, measurements: Mapping[str, float]) -> bool:
        """Record a trial's scores at the rung ``step``; whether it ranks among the best
        1/eta of every trial scored at that rung so far."""
        rows = self._rows.setdefault(str(step), [])
        earlier = np.array(rows).reshape(-1, len(self.objectives))
        candidate = maximized_vector(self.objectives, measurements)
        rows.append(candidate)
        return self.schedule.should_continue(candidate, earlier)
