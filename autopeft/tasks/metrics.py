"""Validation metrics, computed by scikit-learn and SciPy."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, matthews_corrcoef


def classification_metrics(predicted: np.ndarray, labels: np.ndarray, num_labels: int) -> dict[str, float]:
    """Accuracy, F1 (binary for two labels, macro otherwise), Matthews correlation, balanced
    accuracy (the mean recall of the classes the labels hold) and macro F1 (for any number of labels)."""
    average = "binary" if num_labels == 2 else "macro"
    with warnings.catch_warnings():  # one class in both (MCC is then 0): said once, by the study's warning
        warnings.filterwarnings("ignore", message="A single label was found", category=UserWarning)
        warnings.filterwarnings("ignore", "y_pred contains classes not in y_true")  # a small split may lack one
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return {
            "accuracy": float(accuracy_score(labels, predicted)),
            "f1": float(f1_score(labels, predicted, average=average, zero_division=0.0)),
            "mcc": float(matthews_corrcoef(labels, predicted)),
            "balanced_accuracy": float(balanced_accuracy_score(labels, predicted)),
            "macro_f1": float(f1_score(labels, predicted, average="macro", zero_division=0.0)),
        }


def correlation_metrics(predicted: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman correlation; 0 for constant predictions (they carry no ranking)."""
    if np.ptp(predicted) == 0 or np.ptp(labels) == 0:
        return {"pearson": 0.0, "spearman": 0.0}
    pearson = float(pearsonr(predicted, labels).statistic)
    spearman = float(spearmanr(predicted, labels).statistic)
    return {"pearson": _finite(pearson), "spearman": _finite(spearman)}


def perplexity(mean_loss: float) -> float:
    """exp(mean token loss), capped where it would overflow."""
    return math.exp(min(mean_loss, 700.0))


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0
