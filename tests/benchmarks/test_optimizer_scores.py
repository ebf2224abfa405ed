"""The optimizer benchmark's scoring on hand-made runs whose figures are worked out by hand.

In (accuracy, -log10(1 + count)) with the corner at (0.5, 999), i.e. (0.5, -3):
- run A, one trial (0.7, 9) at (0.7, -1): 0.2 x 2 = 0.4;
- run B, (0.6, 0) at (0.6, 0), a failed trial and a dominated one: 0.1 x 3 = 0.3;
- their union: 0.4 + 0.3 - the overlap 0.1 x 2 = 0.5, so A scores 0.8 and B 0.6.
Above the reference configuration (0.65, 99), i.e. (0.65, -2): A has 0.05 x 1 = 0.05, B none
(less accurate), run C (0.75, 0) has 0.1 x 2 = 0.2 and contains A's box: A 0.25, C 1.0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import optimizer  # noqa: E402
import optimizer_scores as scores  # noqa: E402

A = [[0.7, 9]]
B = [[0.6, 0], None, [0.55, 0]]
C = [[0.75, 0]]


class Problem:
    """Just what scoring reads: the largest count and the reference configuration's values."""

    max_parameters = 999

    def reference_configuration(self) -> dict:
        return {"reference": True}

    def true_values(self, params: dict) -> tuple[float, int]:
        assert params == {"reference": True}
        return 0.65, 99


def test_hypervolume_is_a_fraction_of_the_union_of_runs():
    union = A + B
    assert scores.hv_union(A, union, (0.5, 999)) == pytest.approx(0.8)
    assert scores.hv_union(B, union, (0.5, 999)) == pytest.approx(0.6)


def test_the_best_metric_skips_failed_trials():
    assert scores.best_metric(B) == pytest.approx(0.6)
    assert scores.best_metric([None]) is None


def test_the_region_is_above_the_reference_configuration():
    union = A + B + C
    assert scores.hv_region(A, union, (0.65, 99)) == pytest.approx(0.25)
    assert scores.hv_region(B, union, (0.65, 99)) == 0.0
    assert scores.hv_region(C, union, (0.65, 99)) == pytest.approx(1.0)
    assert scores.hv_region(B, B, (0.65, 99)) is None  # nothing kept beats the reference


def test_the_benchmark_scores_each_run_against_every_kept_run_on_its_instance(tmp_path, monkeypatch):
    monkeypatch.setattr(optimizer, "RESULTS", tmp_path)
    for name, run in {"toy-7-a-2": A, "toy-7-b-2": B, "toy-7-c-2": C, "toy-8-a-2": [[0.99, 0]]}.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(run))
    union = optimizer.kept_union("toy", 7)  # instance 8's run is not in it
    assert sorted(map(str, union)) == sorted(map(str, A + B + C))
    row = optimizer.instance_scores(Problem(), {"a": A, "b": B}, union, [40])
    # union A + B + C above (0.5, -3): C's 0.25 x 3 = 0.75 holds A's and B's boxes, so A 0.4 / 0.75
    assert row["a"]["hv_union"]["40"] == pytest.approx(0.4 / 0.75)
    assert row["b"]["hv_union"]["40"] == pytest.approx(0.3 / 0.75)
    assert row["a"]["best_metric"]["40"] == pytest.approx(0.7)
    assert row["a"]["hv_region"]["40"] == pytest.approx(0.25)
    means = optimizer.summarize([row, optimizer.instance_scores(Problem(), {"a": C}, union, [40])])
    assert means["best_metric"]["40"]["a"] == pytest.approx((0.7 + 0.75) / 2)
    assert means["instances"] == {"a": 2, "b": 1}
