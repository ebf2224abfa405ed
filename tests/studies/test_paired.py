"""Paired comparisons (studies/paired.py) on synthetic per-row scores whose answer is known."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "studies"))

from paired import paired_against, paired_difference, verdicts  # noqa: E402


def correct(rows: int, p: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(rows) < p).astype(float)


def test_identical_configurations_differ_by_nothing():
    runs = np.stack([correct(300, 0.8, s) for s in range(3)])
    diff, se = paired_difference(runs, runs.copy())
    assert diff == 0.0 and se > 0, "seeds resampled apart still vary"
    same_seeds = np.stack([correct(300, 0.8, 0)] * 3)
    assert paired_difference(same_seeds, same_seeds) == (0.0, 0.0)


def test_a_known_shift_is_recovered_and_pairing_narrows_it():
    a = np.stack([correct(1000, 0.7, 1)] * 3)
    b = a.copy()
    flipped = np.flatnonzero(a[0])[:50]  # 50 of 1,000 rows right in A, wrong in B, every seed
    b[:, flipped] = 0.0
    diff, se = paired_difference(a, b)
    assert diff == pytest.approx(0.05)
    unpaired = np.sqrt(0.7 * 0.3 / 1000 + 0.65 * 0.35 / 1000)
    assert se == pytest.approx(np.sqrt(0.05 * 0.95 / 1000), rel=0.15) and se < unpaired / 2


def test_the_standard_error_grows_when_rows_are_fewer():
    def se(rows: int) -> float:
        a = np.stack([correct(rows, 0.75, s) for s in range(3)])
        b = np.stack([correct(rows, 0.75, 10 + s) for s in range(3)])
        return paired_difference(a, b)[1]

    assert se(200) > 2.5 * se(2000)  # sqrt(10) expected


def test_the_standard_error_counts_the_seeds_spread():
    steady = np.full((3, 400), 0.5)  # every seed scores every row 0.5
    spread = np.stack([np.ones(400), np.zeros(400), np.full(400, 0.5)])  # same mean, seeds far apart
    zero = np.zeros((3, 400))
    assert paired_difference(steady, zero) == (0.5, 0.0)
    diff, se = paired_difference(spread, zero)
    assert diff == 0.5 and se > 0.2


def test_rows_must_be_the_same():
    with pytest.raises(ValueError, match="same rows"):
        paired_difference(np.zeros((3, 10)), np.zeros((3, 11)))


def found(name: str, params: int, test: float, proxy: float, picked_by: str, paired: dict) -> dict:
    return {
        "name": name,
        "kind": "found",
        "trainable_params": params,
        "test_mean": test,
        "proxy_validation": proxy,
        "picked_by": picked_by,
        "paired": paired,
    }


def reference(name: str, params: int, test: float) -> dict:
    return {"name": name, "kind": "reference", "trainable_params": params, "test_mean": test}


def test_verdicts_from_rows():
    refs = [reference("lora-r16-all", 1000, 0.88), reference("lora-r8-qv", 100, 0.86)]
    near = found(
        "trial 1", 200, 0.875, 0.90, "confirmed", {"lora-r16-all": {"diff": -0.005, "se": 0.01}, "lora-r8-qv": {}}
    )
    above = found(
        "trial 2", 90, 0.88, 0.89, "confirmed", {"lora-r16-all": {"diff": -0.03, "se": 0.01}, "lora-r8-qv": {}}
    )
    above["paired"]["lora-r8-qv"] = {"diff": 0.021, "se": 0.01}
    near["paired"]["lora-r8-qv"] = {"diff": 0.015, "se": 0.01}
    raw = found("trial 3", 90, 0.80, 0.90, "proxy", {})
    assert verdicts([near, above, raw, *refs]) == {
        "near_best_reference": True,
        "above_default": True,
        "drop_confirmed": pytest.approx((0.025 + 0.01) / 2),
        "drop_raw": pytest.approx(0.10),
    }
    too_big = found("trial 4", 300, 0.88, 0.88, "confirmed", {"lora-r16-all": {"diff": 0.0, "se": 0.01}})
    behind = near | {"paired": near["paired"] | {"lora-r16-all": {"diff": -0.011, "se": 0.01}}}
    just = above | {"paired": above["paired"] | {"lora-r8-qv": {"diff": 0.019, "se": 0.01}}}
    assert verdicts([too_big, behind, just, *refs], best="lora-r16-all") == {
        "near_best_reference": False,  # 0.3x is over 0.25x; 1.1 standard errors behind
        "above_default": False,  # 1.9 standard errors
        "drop_confirmed": pytest.approx((0.0 + 0.025 + 0.01) / 3),
        "drop_raw": None,
    }


def test_paired_against_names_each_reference():
    a = np.stack([correct(100, 0.8, s) for s in range(3)])
    entry = paired_against(a, {"r": a, "zero": np.zeros((3, 100))})
    assert entry["r"]["diff"] == 0.0 and entry["zero"]["diff"] == pytest.approx(a.mean())
