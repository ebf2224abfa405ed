"""Optimizing the acquisition over a mixed space: a discrete local search.

Gradient methods relax binary placement bits and ordinal ranks and then round, which can
record a point other than the one optimized (the AutoPEFT code's bug). Here every
candidate is a legal point from the start: random points plus neighbors of the best
observed ones, then a few rounds of local moves around the acquisition's best. The point
returned is exactly the one scored.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from botorch.acquisition.acquisition import AcquisitionFunction

from autopeft.optim.acquisition import evaluate
from autopeft.optim.encoding import SpaceEncoder, row_key


def _keys(rows: np.ndarray) -> list[bytes]:
    return [row_key(r) for r in rows]


def propose(
    acquisition: AcquisitionFunction,
    encoder: SpaceEncoder,
    seeds: np.ndarray,
    exclude: np.ndarray,
    rng: np.random.Generator,
    feasible: Callable[[np.ndarray], np.ndarray] | None = None,
    n_random: int = 512,
    n_neighbors: int = 16,
    rounds: int = 3,
    keep: int = 8,
) -> np.ndarray | None:
    """The best legal, feasible, not-yet-evaluated row, or None if no candidate qualifies.

    ``seeds`` are rows worth searching around (the observed Pareto set); ``exclude`` are
    rows already evaluated or pending; ``feasible`` filters rows (a parameter budget).
    """
    seen = set(_keys(exclude))

    def admissible(rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return rows
        fresh, keys = [], set()
        for row, key in zip(rows, _keys(rows), strict=True):
            if key not in seen and key not in keys:
                keys.add(key)
                fresh.append(row)
        rows = np.array(fresh).reshape(-1, encoder.dim)
        return rows[feasible(rows)] if feasible is not None and len(rows) else rows

    pool = admissible(np.vstack([encoder.random(n_random, rng), encoder.neighbors(seeds, n_neighbors, rng)]))
    if len(pool) == 0:
        return None
    values = evaluate(acquisition, torch.tensor(pool, dtype=torch.double)).numpy()
    best_rows, best_values = pool, values
    for _ in range(rounds):
        top = best_rows[np.argsort(-best_values)[:keep]]
        seen.update(_keys(best_rows))
        moves = admissible(encoder.neighbors(top, n_neighbors, rng, scale=0.05))
        if len(moves) == 0:
            break
        move_values = evaluate(acquisition, torch.tensor(moves, dtype=torch.double)).numpy()
        best_rows = np.vstack([top, moves])
        best_values = np.concatenate([np.sort(best_values)[::-1][:keep], move_values])
    return best_rows[int(np.argmax(best_values))]
