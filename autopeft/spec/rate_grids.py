"""Reference learning-rate grids: a reference with lists of learning rates becomes one
reference per combination, named ``NAME.lrA.hB``; ``grid_name`` reads the name back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

RATES = ("learning_rate", "head_learning_rate")


def rate_tag(rate: float) -> str:
    """A learning rate as it appears in a grid reference's name: 3e-4, else the fewest digits that
    read back as the same number (0.00025, 0.0012341), so two rates never share a name; no '+'
    (1e0, not 1e+0), which a reference's name may not hold."""
    tag = f"{rate:.0e}".replace("e-0", "e-").replace("e+0", "e+").replace("+", "")
    if float(tag) == rate:
        return tag
    fits = (f"{rate:.{digits}g}" for digits in range(2, 18) if float(f"{rate:.{digits}g}") == rate)
    return next(fits).replace("+", "")


_GRID_NAME = re.compile(r"(.+?)(?:\.lr[0-9][0-9e.+-]*)?(?:\.h[0-9][0-9e.+-]*)?")


def grid_name(name: str) -> str:
    """The reference a grid member was tuned for (the inverse of ``expand_rate_grids``'s names):
    ``lora-r8-qv.lr3e-3.h1e-2`` -> ``lora-r8-qv``."""
    return _GRID_NAME.fullmatch(name).group(1)


def expand_rate_grids(references: Mapping[str, Any]) -> dict[str, Any]:
    """A reference whose learning rates are lists is tuned on that grid with the study's proxy:
    it becomes one reference per combination, named ``NAME.lrA.hB`` (``tuned_references`` in
    the report picks the best of each grid by the proxy's validation score)."""
    expanded: dict[str, Any] = {}
    for name, raw in references.items():
        grids = {k: raw[k] for k in RATES if isinstance(raw, Mapping) and isinstance(raw.get(k), list)}
        if not grids:
            expanded[name] = raw
            continue
        for key, grid in grids.items():
            if not grid:  # would expand to no member: the reference would vanish without a word
                raise ValueError(f"reference {name}: {key} grid is empty; list at least one rate")
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in grid):
                raise ValueError(f"reference {name}: {key} grid {grid} holds a value that is not a number")
            if len(set(grid)) != len(grid):
                raise ValueError(f"reference {name}: {key} grid {grid} lists a rate twice; list each once")
        lrs = grids.get("learning_rate", [raw.get("learning_rate")])
        heads = grids.get("head_learning_rate", [raw.get("head_learning_rate")])
        for lr in lrs:
            for head in heads:
                tag = "".join(f".{p}{rate_tag(v)}" for p, v in (("lr", lr), ("h", head)) if v is not None)
                rates = {k: v for k, v in zip(RATES, (lr, head), strict=True) if v is not None}
                expanded[f"{name}{tag}"] = dict(raw) | rates
    return expanded
