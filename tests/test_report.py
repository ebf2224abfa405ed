"""What a finished search tells its user beyond the Pareto table."""

from __future__ import annotations

from pathlib import Path

from autopeft.api import SearchResult
from autopeft.report import noise_warning
from autopeft.study import TrialRecord

# Proxy accuracies of the 12 configurations of benchmarks/proxy_fidelity.py on MiniLM.
RTE_PROXY = [0.5361, 0.5318, 0.5108, 0.5340, 0.5390, 0.5231, 0.5397, 0.5376, 0.5058, 0.5412, 0.5332, 0.5340]
SST2_PROXY = [0.8417, 0.8073, 0.8165, 0.8165, 0.7959, 0.8257, 0.8154, 0.7821, 0.8085, 0.8050, 0.7408, 0.7764]


def result_with(metric: str, values: list[float], baseline: float, rows: int | None, task: str = "classification"):
    trials = [TrialRecord(n, "complete", {}, {metric: v}, None, 100, 0.1, 1.0, None) for n, v in enumerate(values)]
    stopped = TrialRecord(
        len(values), "pruned", {}, {metric: 99.0 if metric == "accuracy" else -99.0}, None, 1, 0, 0, None
    )
    return SearchResult(Path("study"), metric, task, [metric], trials + [stopped], [], {metric: baseline}, rows)


def test_accuracy_within_noise_of_the_majority_class_warns():
    # 1,384 rows at a 0.527 majority rate: two standard errors are 0.027.
    warning = noise_warning(result_with("accuracy", [0.51, 0.541], 0.527, 1384))
    assert warning is not None
    assert "trivial predictor's validation accuracy 0.5270" in warning and "best reached 0.5410" in warning
    assert "1,384 validation rows" in warning and "Fix: raise budget.steps" in warning


def test_accuracy_clearly_above_the_majority_class_does_not_warn():
    assert noise_warning(result_with("accuracy", [0.51, 0.60], 0.527, 1384)) is None
    # The same gain on 100 rows is within noise (two standard errors: 0.0999).
    assert noise_warning(result_with("accuracy", [0.51, 0.60], 0.527, 100)) is not None


def test_trials_that_differ_by_noise_alone_warn():
    # RTE: every proxy beats the majority class (0.504) a little, but they spread no wider
    # than one accuracy's noise on its 1,384 rows; SST-2's proxies spread twice as wide.
    warning = noise_warning(result_with("accuracy", RTE_PROXY, 0.5043, 1384))
    assert warning is not None and "differ no more than noise (standard deviation 0.0114" in warning
    assert noise_warning(result_with("accuracy", SST2_PROXY, 0.5092, 872)) is None
    assert noise_warning(result_with("accuracy", RTE_PROXY[:4], 0.5043, 1384)) is None, "too few trials to judge"


def test_minimized_metric_must_improve_on_the_untuned_model():
    warning = noise_warning(result_with("perplexity", [31.0, 30.2], 30.0, 64, task="causal_lm"))
    assert warning is not None and "untuned model's validation perplexity 30.0000" in warning
    assert noise_warning(result_with("perplexity", [31.0, 12.0], 30.0, 64, task="causal_lm")) is None


def test_no_warning_without_a_baseline_or_completed_trials():
    assert noise_warning(result_with("accuracy", [], 0.5, 32)) is None  # only a pruned trial
    unknown = result_with("accuracy", [0.5], 0.5, 32)
    assert noise_warning(unknown) is not None
    unknown.baseline = None  # a study stored before baselines were kept
    assert noise_warning(unknown) is None
