"""benchmarks/importance.py's kept searches resume in any clone, and its chance control is a spread."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
importance = pytest.importorskip("importance")


def test_a_search_folder_is_named_relative_to_the_checkout():
    spec = importance.spec_for("sst2", "sst2-none-s0", 24, 0)
    assert spec["study_dir"] == "benchmarks/results/importance/sst2-none-s0"


def test_kept_searches_name_their_own_folder_relative_to_the_checkout():
    """A kept study whose spec names an absolute folder would be refused in another clone."""
    specs = sorted(importance.RESULTS.glob("*/spec.yaml"))
    assert specs, f"no kept searches under {importance.RESULTS}"
    for path in specs:
        stored = yaml.safe_load(path.read_text())["study_dir"]
        assert stored == importance.in_repo(path.parent), path


def test_the_random_control_is_the_spread_of_many_draws():
    modules = [f"m{i}" for i in range(36)]
    accuracy = [float(i) for i in range(36)]
    median, p95 = importance.random_spearman(modules, accuracy, 400)
    assert abs(median) < 0.1  # chance centres on no correlation
    assert 0.15 < p95 < 0.45  # about 1.645 / sqrt(35) = 0.28
