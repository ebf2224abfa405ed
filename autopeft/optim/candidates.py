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
from autopeft.optim.param_encoding import SpaceEncoder, row_key


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
    start: np.ndarray | None = None,
    carry: int = 128,
) -> tuple[np.ndarray | None, np.ndarray]:
    """The best legal, feasible, not-yet-evaluated row (None if no candidate qualifies), and
    the ``carry`` best rows scored, to ``start`` the next search from.

    ``seeds`` are rows worth searching around (the observed Pareto set); ``exclude`` are
    rows already evaluated or pending; ``feasible`` filters rows (a parameter budget).
    Given ``start`` (the rows a search with the same model carried: the next suggestion of
    a batch), it searches from them and a few fresh rows, in one round: the acquisition
    changed only by the newly pending point, so the landscape is mostly known.
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

    if start is None:
        fresh = np.vstack([encoder.random(n_random, rng), encoder.neighbors(seeds, n_neighbors, rng)])
    else:
        fresh = np.vstack([start, encoder.random(n_random // 8, rng)])
        rounds = 1
    pool = admissible(fresh)
    if len(pool) == 0:
        return None, pool
    values = evaluate(acquisition, torch.tensor(pool, dtype=torch.double)).numpy()
    scored_rows, scored_values = [pool], [values]
    best_rows, best_values = pool, values
    for _ in range(rounds):
        top = best_rows[np.argsort(-best_values)[:keep]]
        seen.update(_keys(best_rows))
        moves = admissible(encoder.neighbors(top, n_neighbors, rng, scale=0.05))
        if len(moves) == 0:
            break
        move_values = evaluate(acquisition, torch.tensor(moves, dtype=torch.double)).numpy()
        scored_rows.append(moves)
        scored_values.append(move_values)
        best_rows = np.vstack([top, moves])
        best_values = np.concatenate([np.sort(best_values)[::-1][:keep], move_values])
    rows, values = np.vstack(scored_rows), np.concatenate(scored_values)
    order = np.argsort(-values)
    return rows[order[0]], rows[order[1 : carry + 1]]
