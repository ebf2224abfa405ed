"""End-to-end checks on real weights (the packaged MiniLM) and the demo data: `pytest -m slow`.

Deselected by default (minutes on 2 CPU cores); they check that the search learns the task
for real and that full training keeps what the proxy measured.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

import autopeft

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def standard_error(accuracy: float, rows: int) -> float:
    return math.sqrt(max(accuracy * (1 - accuracy), 1 / rows) / rows)


@pytest.fixture(scope="module")
def quickstart_trial(tmp_path_factory) -> tuple:
    spec = yaml.safe_load((REPO / "examples" / "quickstart.yaml").read_text())
    folder = tmp_path_factory.mktemp("slow")
    spec["data"] = spec["data"] | {k: str(REPO / "examples" / spec["data"][k]) for k in ("train", "validation")}
    spec |= {"trials": 1, "references": {}, "study_dir": str(folder / "study")}
    result = autopeft.search(spec)
    return result, folder


def test_minilm_learns_the_demo_task_beyond_the_trivial_predictor(quickstart_trial):
    result, _ = quickstart_trial
    (trial,) = result.trials
    baseline, rows = result.baseline["accuracy"], result.validation_rows
    margin = trial.values["accuracy"] - baseline
    assert margin > 2 * standard_error(baseline, rows), f"{trial.values['accuracy']:.3f} vs trivial {baseline:.3f}"


def test_full_training_of_an_export_keeps_the_proxys_score(quickstart_trial):
    result, folder = quickstart_trial
    (trial,) = result.trials
    exported = autopeft.export_trial(result.study_dir, trial.number, folder / "export")
    metrics = autopeft.train_exported(exported, folder / "trained", max_steps=200, batch_size=16, max_length=48)
    proxy, full = trial.values["accuracy"], metrics["validation"]["accuracy"]
    assert full >= proxy - 2 * standard_error(proxy, metrics["validation_examples"]), f"{full:.3f} vs {proxy:.3f}"
