"""Paired comparisons of full trainings and the verdicts issue 37 asks of each study.

Two configurations scored on the same test rows differ by less noise than two independent
accuracies: a row both get right (or wrong) says nothing about the difference. The standard
error here counts both sources the studies' first tables mixed up or left out: which test rows
were drawn (resampled once for both configurations: the pairing) and which seeds trained them
(each configuration's seeds resampled apart: seed s of one has nothing to do with seed s of
the other). With 3 seeds the bootstrap's seed part runs low by a factor of about sqrt(2/3);
the rows' part, which dominates on a few thousand rows, does not.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence

import numpy as np

RESAMPLES = 2000


def paired_difference(
    a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """(mean of ``a`` minus mean of ``b``, its bootstrap standard error over rows and seeds).

    ``a[s][i]`` is configuration A's score (1/0 correctness, or any per-row score) on test row
    ``i`` with its ``s``-th seed; ``b`` the same for B on the same rows in the same order."""
    first, second = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if first.ndim != 2 or second.ndim != 2 or first.shape[1] != second.shape[1]:
        raise ValueError(f"need seeds x rows on the same rows, got {first.shape} and {second.shape}")
    rng = np.random.default_rng(seed)
    rows = first.shape[1]
    draws = np.empty(resamples)
    for k in range(resamples):
        picked = rng.integers(0, rows, rows)  # the same rows for both: paired
        mean_a = first[rng.integers(0, len(first), len(first))].mean(axis=0)
        mean_b = second[rng.integers(0, len(second), len(second))].mean(axis=0)
        draws[k] = (mean_a - mean_b)[picked].mean()
    return float(first.mean() - second.mean()), float(draws.std(ddof=1))


def paired_against(
    found: Sequence[Sequence[float]], references: Mapping[str, Sequence[Sequence[float]]], seed: int = 0
) -> dict[str, dict[str, float]]:
    """A found row's ``"paired"`` entry: ``{REFERENCE: {"diff": d, "se": s}}`` for each reference."""
    paired = {}
    for name, scores in references.items():
        diff, se = paired_difference(found, scores, seed=seed)
        paired[name] = {"diff": diff, "se": se}
    return paired


def mean_drop(rows: list[dict]) -> float | None:
    """The mean of proxy validation score minus test mean over ``rows`` (None when there are none)."""
    return statistics.fmean(r["proxy_validation"] - r["test_mean"] for r in rows) if rows else None


def verdicts(
    rows: list[dict],
    default: str = "lora-r8-qv",
    best: str | None = None,
    size: float = 0.25,
    raw: list[dict] | None = None,
) -> dict:
    """The Acceptance's verdicts from a study's full-training rows (found rows carry ``picked_by``
    and ``paired``):

    - ``near_best_reference``: a confirmed pick within one paired standard error of the best
      tuned reference (``best``, else the reference with the highest test mean), or above it,
      at no more than ``size`` times its parameters;
    - ``above_default``: a confirmed pick above ``default`` by more than two paired standard
      errors at no more than its parameters;
    - ``drop_confirmed``, ``drop_raw``: the mean drop from proxy to test of the confirmed picks
      and of the raw (proxy-picked) ones: ``raw`` (the rows a confirmed plan replaced), else
      the proxy-picked rows among ``rows``.

    A verdict no row can decide (no such reference, or no paired comparison with it) is None."""
    references = {r["name"]: r for r in rows if r["kind"] == "reference"}
    if best is None and references:
        best = max(references.values(), key=lambda r: r["test_mean"])["name"]
    found = [r for r in rows if r["kind"] == "found"]
    confirmed = [r for r in found if r.get("picked_by") == "confirmed"]

    def judged(name: str | None, size_limit: float, beats: Callable[[dict], bool]) -> bool | None:
        if name not in references:
            return None
        limit = size_limit * references[name]["trainable_params"]
        outcomes = [
            None if name not in r.get("paired", {}) else beats(r["paired"][name])
            for r in confirmed
            if r["trainable_params"] <= limit
        ]
        return True if True in outcomes else (None if None in outcomes else False)

    raw = [r for r in found if r.get("picked_by") == "proxy"] if raw is None else raw
    return {
        "near_best_reference": judged(best, size, lambda versus: versus["diff"] >= -versus["se"]),
        "above_default": judged(default, 1.0, lambda versus: versus["diff"] > 2 * versus["se"]),
        "drop_confirmed": mean_drop(confirmed),
        "drop_raw": mean_drop(raw),
    }
