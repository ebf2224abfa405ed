"""The line that compares a reference with the trials: the best trial at its size, the smallest at its accuracy."""

from __future__ import annotations

from pathlib import Path

from autopeft.results.result import SearchResult
from autopeft.results.wording import reference_comparison
from autopeft.store.study import ReferenceRecord, TrialRecord


def _record(number: int, accuracy: float, params: int) -> TrialRecord:
    values = {"accuracy": accuracy, "trainable_params": params}
    return TrialRecord(number, "complete", {}, values, None, params, None, 1.0, None)


def test_comparison_names_best_at_size_and_smallest_at_accuracy():
    trials = [_record(0, 0.80, 50), _record(1, 0.84, 90), _record(2, 0.86, 200), _record(3, 0.79, 10)]
    result = SearchResult(Path("s"), "accuracy", "classification", ["accuracy", "trainable_params"], trials)
    result.validation_rows = 900
    reference = ReferenceRecord("r8", {}, {"accuracy": 0.82, "trainable_params": 100}, 100, 1.0, 1.0)
    line = reference_comparison(reference, result)
    assert "r8: accuracy 0.8200 with 100 trainable params" in line
    assert "best trial at its size or smaller: 1, accuracy 0.8400 (+0.0200) with 0.9x its parameters" in line
    assert "smallest trial at its accuracy or better: 1, 0.9x its parameters" in line
    assert "standard error on 900 validation rows: 0.0128" in line
    tiny = ReferenceRecord("tiny", {}, {"accuracy": 0.9, "trainable_params": 5}, 5, 0.1, 1.0)
    assert "no trial is as small" in reference_comparison(tiny, result)
    assert "no trial reaches its accuracy" in reference_comparison(tiny, result)
