"""benchmarks/importance.py: kept searches resume in any clone, the chance control is a spread, and its
figures (kept vs switched-off modules, hypervolume after n trials, each seed beside the median) read right."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import importance  # noqa: E402  (a script folder, not a package: an import error here must fail, not skip)


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


def test_kept_vs_switched_off_are_the_modules_importance_keeps_and_switches_off():
    scores = {"a": 3.0, "b": 2.0, "c": 1.0, "d": 0.0, "e": -1.0}
    accuracy = {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6, "e": 0.5}
    assert importance.kept_vs_switched_off(scores, accuracy, keep=0.4) == pytest.approx(
        {"kept_alone_mean": 0.85, "switched_off_alone_mean": 0.6}
    )
    # keep 0.5 of 5 keeps 3, as `importance:` does
    assert importance.kept_vs_switched_off(scores, accuracy, keep=0.5) == pytest.approx(
        {"kept_alone_mean": 0.8, "switched_off_alone_mean": 0.55}
    )


def test_hypervolume_after_n_trials_does_not_count_an_interrupted_trial():
    from autopeft import SearchResult
    from autopeft.store.records import INTERRUPTED_REASON, TrialRecord

    def trial(number: int, interrupted: bool = False) -> TrialRecord:
        if interrupted:
            return TrialRecord(number, "fail", {}, {}, None, None, None, None, INTERRUPTED_REASON)
        return TrialRecord(number, "complete", {}, {}, None, None, None, None, None)

    # trial 1 was killed mid-run and ran again as trial 3; trial 4 failed and counts (it spent
    # its budget); trial 6 is still running: the first 3 trials that count are 0, 2, 3
    diverged = TrialRecord(4, "fail", {}, {}, None, None, None, None, "diverged: loss is nan")
    running = TrialRecord(6, "running", {}, {}, None, None, None, None, None)
    trials = [trial(0), trial(1, True), trial(2), trial(3), diverged, trial(5), running]
    result = SearchResult(Path("s"), "accuracy", "classification", trials=trials)
    result.hypervolume_history = [(0, 0.1), (2, 0.2), (3, 0.3), (5, 0.5)]
    assert importance.hypervolume_at(result, 2) == 0.2
    assert importance.hypervolume_at(result, 3) == 0.3
    assert importance.hypervolume_at(result, 4) == 0.3  # the failure is the 4th trial
    assert importance.hypervolume_at(result, 5) == 0.5
    with pytest.raises(ValueError, match="fewer than 6"):
        importance.hypervolume_at(result, 6)


def test_the_search_check_reports_each_seed_beside_the_median(monkeypatch):
    from autopeft import SearchResult
    from autopeft.store.records import TrialRecord

    def fake_search(spec: dict) -> SearchResult:
        level = {0: 1.0, 1: 5.0, 2: 2.0}[spec["seed"]]  # median 2, mean 2.67
        trials = [TrialRecord(n, "complete", {}, {}, None, None, None, None, None) for n in range(24)]
        history = [(n, level * (1 + n // 8)) for n in range(24)]  # steps up after 8 and 16 trials
        return SearchResult(
            Path(spec["study_dir"]), "accuracy", "classification", trials=trials, hypervolume_history=history
        )

    monkeypatch.setattr(importance.autopeft, "search", fake_search)
    medians, seeds = importance.search_check("sst2", [0, 1, 2], 24, "taylor", ["none"])
    assert medians == {"none": {"8": 2.0, "16": 4.0, "24": 6.0}}
    assert seeds == {
        "none": [{"8": 1.0, "16": 2.0, "24": 3.0}, {"8": 5.0, "16": 10.0, "24": 15.0}, {"8": 2.0, "16": 4.0, "24": 6.0}]
    }
