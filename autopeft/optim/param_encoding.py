"""The numeric encoding of a mixed search space that surrogates and acquisition work in.

Every optuna distribution becomes one coordinate in [0, 1]: floats (log-scaled when
their distribution is), integers and ordered categorical choices (booleans, ranks) on
their grid. Unordered categorical choices (a method name) become one-hot coordinates.
Decoding snaps every coordinate back to a legal value, so a candidate is always a point
the space can build.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution


def _is_ordinal(choices: tuple[Any, ...]) -> bool:
    return all(isinstance(c, (bool, int, float)) for c in choices)


@dataclass(frozen=True)
class _Coordinate:
    """How one parameter maps to columns ``start .. start + width`` of the encoding."""

    name: str
    distribution: BaseDistribution
    start: int
    width: int
    levels: int | None  # grid size of a discrete coordinate; None for a continuous one


Canonicalizer = Callable[[dict[str, Any]], dict[str, Any]]


def row_key(row: np.ndarray) -> bytes:
    """A hashable identity for an encoded point (rounding away float noise)."""
    return np.round(row, 6).tobytes()


class SpaceEncoder:
    """Maps parameter dicts of a fixed optuna search space to tensors in [0, 1]^d and back.

    ``canonicalize`` (from the search space) sets values a point does not use (the rank of
    a layer with no module, widths when every layer is off) to fixed ones before encoding,
    so equivalent points share one encoding: the surrogate sees them as one point and the
    duplicate check catches them.
    """

    def __init__(self, search_space: dict[str, BaseDistribution], canonicalize: Canonicalizer | None = None) -> None:
        self.canonicalize = canonicalize
        self.coordinates: list[_Coordinate] = []
        start = 0
        for name in sorted(search_space):
            distribution = search_space[name]
            width, levels = self._shape(distribution)
            self.coordinates.append(_Coordinate(name, distribution, start, width, levels))
            start += width
        self.dim = start

    @staticmethod
    def _shape(distribution: BaseDistribution) -> tuple[int, int | None]:
        if isinstance(distribution, CategoricalDistribution):
            choices = distribution.choices
            if _is_ordinal(choices):
                return 1, len(choices)
            return len(choices), len(choices)
        if isinstance(distribution, IntDistribution):
            return 1, (distribution.high - distribution.low) // distribution.step + 1
        if isinstance(distribution, FloatDistribution):
            if distribution.step is not None:
                return 1, int(round((distribution.high - distribution.low) / distribution.step)) + 1
            return 1, None
        raise TypeError(f"unsupported distribution {distribution!r}")

    @property
    def continuous_columns(self) -> list[int]:
        """The columns of the continuous parameters (floats with no step: learning rates)."""
        return [
            c.start
            for c in self.coordinates
            if isinstance(c.distribution, FloatDistribution) and c.distribution.step is None
        ]

    @staticmethod
    def supports(distribution: BaseDistribution) -> bool:
        return isinstance(distribution, (CategoricalDistribution, IntDistribution, FloatDistribution))

    # -- encode -------------------------------------------------------------------------
    def encode(self, params: dict[str, Any]) -> np.ndarray:
        if self.canonicalize is not None:
            params = self.canonicalize(params)
        row = np.zeros(self.dim)
        for c in self.coordinates:
            d = c.distribution
            value = params[c.name]
            if isinstance(d, CategoricalDistribution):
                index = d.choices.index(value)
                if c.width == 1:
                    row[c.start] = index / max(1, c.levels - 1)
                else:
                    row[c.start + index] = 1.0
            elif d.log:
                row[c.start] = (math.log(value) - math.log(d.low)) / (math.log(d.high) - math.log(d.low))
            else:
                row[c.start] = (value - d.low) / max(d.high - d.low, 1e-12)
        return row

    def encode_many(self, params: list[dict[str, Any]]) -> torch.Tensor:
        return torch.tensor(np.array([self.encode(p) for p in params]).reshape(-1, self.dim), dtype=torch.double)

    # -- decode -------------------------------------------------------------------------
    def decode(self, row: np.ndarray) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for c in self.coordinates:
            d = c.distribution
            if isinstance(d, CategoricalDistribution):
                if c.width == 1:
                    params[c.name] = d.choices[int(round(_unit(row[c.start]) * (c.levels - 1)))]
                else:
                    params[c.name] = d.choices[int(np.argmax(row[c.start : c.start + c.width]))]
                continue
            u = _unit(row[c.start])
            if isinstance(d, IntDistribution):
                params[c.name] = int(d.low + round(u * (c.levels - 1)) * d.step)
            elif d.log:
                params[c.name] = float(math.exp(math.log(d.low) + u * (math.log(d.high) - math.log(d.low))))
            elif d.step is not None:
                params[c.name] = float(d.low + round(u * (c.levels - 1)) * d.step)
            else:
                params[c.name] = float(d.low + u * (d.high - d.low))
        return params

    def snap(self, rows: np.ndarray) -> np.ndarray:
        """Move every row onto the legal grid, in canonical form (decode, then encode)."""
        return np.array([self.encode(self.decode(r)) for r in rows]).reshape(-1, self.dim)

    # -- candidates ---------------------------------------------------------------------
    def random(
        self, count: int, rng: np.random.Generator, true_probability: Mapping[str, float] | None = None
    ) -> np.ndarray:
        """Random legal rows: uniform, except that a boolean named in ``true_probability`` is
        True with that probability (a prior, such as importance scores give placements)."""
        rows = rng.random((count, self.dim))
        for c in self.coordinates:
            if c.width > 1:  # one-hot: pick one choice uniformly
                picks = rng.integers(0, c.width, count)
                rows[:, c.start : c.start + c.width] = np.eye(c.width)[picks]
            elif true_probability and c.name in true_probability and set(c.distribution.choices) == {False, True}:
                true = rng.random(count) < true_probability[c.name]
                index = np.where(true, c.distribution.choices.index(True), c.distribution.choices.index(False))
                rows[:, c.start] = index / (c.levels - 1)
        return self.snap(rows)

    def neighbors(self, rows: np.ndarray, per_row: int, rng: np.random.Generator, scale: float = 0.1) -> np.ndarray:
        """Local moves: change one to three coordinates of each row, then snap to the grid.

        A discrete coordinate jumps to another grid value (booleans flip); a continuous one
        moves by a Gaussian step of ``scale``. Half the moves change continuous coordinates
        (where the space has both kinds): drawn uniformly from a few hundred placement bits,
        the two learning rates would almost never move.
        """
        if len(rows) == 0:
            return np.zeros((0, self.dim))
        continuous = [c for c in self.coordinates if c.width == 1 and c.levels is None]
        discrete = [c for c in self.coordinates if c.width > 1 or c.levels is not None]
        out = np.repeat(rows, per_row, axis=0).copy()
        for i in range(len(out)):
            group = continuous if continuous and (not discrete or rng.random() < 0.5) else discrete
            for c in rng.choice(group, size=min(len(group), rng.integers(1, 4)), replace=False):
                if c.width > 1:
                    out[i, c.start : c.start + c.width] = np.eye(c.width)[rng.integers(0, c.width)]
                elif c.levels is not None:
                    out[i, c.start] = rng.integers(0, c.levels) / max(1, c.levels - 1)
                else:
                    out[i, c.start] = np.clip(out[i, c.start] + rng.normal(0, scale), 0, 1)
        return self.snap(out)


def _unit(value: float) -> float:
    """``value`` clipped to [0, 1] (plain floats: np.clip on scalars dominated decoding)."""
    return min(max(float(value), 0.0), 1.0)
