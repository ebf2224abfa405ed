"""Per-row test predictions kept by `autopeft train` (finetune/predictions.py), for paired comparisons."""

from __future__ import annotations

import json

import pytest
import torch

import autopeft
from autopeft.finetune.predictions import PREDICTIONS_FILE, compact, correct, expand, read_predictions
from autopeft.finetune.train import METRICS_FILE, train_exported


def test_compact_forms_read_back():
    assert compact(torch.tensor([0, 1, 1, 0, 2])) == "01102"
    assert expand("01102") == [0, 1, 1, 0, 2]
    assert compact(torch.tensor([3, 12])) == [3, 12], "a class id of two digits cannot share a string"
    assert compact(torch.tensor([0.1234567, -2.0])) == [0.123457, -2.0]
    assert correct({"predictions": "0110", "labels": "0100"}) == [1.0, 1.0, 0.0, 1.0]


def test_train_keeps_each_test_rows_prediction_and_they_score_what_metrics_says(quick_spec, tmp_path):
    from conftest import DEMO_WITH_TEST

    quick_spec["data"] = dict(DEMO_WITH_TEST)
    quick_spec["space"] = {"method": "lora", "modules": ["q"], "rank": [2]}
    record = autopeft.search(quick_spec, trials=1).trials[0]
    exported = autopeft.export_trial(quick_spec["study_dir"], record.number, tmp_path / "export")
    kept = {}
    for seed in (1, 2):
        out = tmp_path / f"seed{seed}"
        metrics = train_exported(exported, out, max_steps=3, batch_size=8, max_length=32, seed=seed)
        kept[seed] = read_predictions(out)
        assert kept[seed] is not None, f"{PREDICTIONS_FILE} not written"
        assert kept[seed]["rows"] == metrics["test_examples"] == 200
        assert kept[seed]["split"] == metrics["test_source"] == quick_spec["data"]["test"]
        assert isinstance(kept[seed]["predictions"], str) and len(kept[seed]["predictions"]) == 200
        assert sum(correct(kept[seed])) / 200 == metrics["test"]["accuracy"], "exactly the test score"
        assert kept[seed]["scores"]["accuracy"] == metrics["test"]["accuracy"]
    assert kept[1]["digest"] == kept[2]["digest"] and kept[1]["labels"] == kept[2]["labels"], "the same rows"

    out = tmp_path / "seed1"
    before = (out / PREDICTIONS_FILE).stat().st_mtime_ns, (out / METRICS_FILE).read_text()
    again = train_exported(exported, out, max_steps=3, batch_size=8, max_length=32, seed=1)
    assert again["already_trained"]
    assert ((out / PREDICTIONS_FILE).stat().st_mtime_ns, (out / METRICS_FILE).read_text()) == before
    train_exported(exported, exported, max_steps=1, batch_size=8, max_length=32)  # `train X --out X`
    assert train_exported(exported, exported, max_steps=1, batch_size=8, max_length=32)["already_trained"], (
        "the run's predictions are not part of the export"
    )


@pytest.mark.parametrize("values", [[0.5, 1.25], [1, 0, 1]])
def test_expand_is_compacts_inverse(values):
    tensor = torch.tensor(values)
    assert expand(compact(tensor)) == values


def test_a_run_finished_before_predictions_were_kept_is_rescored_from_its_adapter(quick_spec, tmp_path):
    from conftest import DEMO_WITH_TEST

    from autopeft.errors import AutopeftError
    from autopeft.finetune.rescore import rescore_finished

    quick_spec["data"] = dict(DEMO_WITH_TEST)
    quick_spec["space"] = {"method": "lora", "modules": ["q", "v"], "rank": [2]}
    record = autopeft.search(quick_spec, trials=1).trials[0]
    exported = autopeft.export_trial(quick_spec["study_dir"], record.number, tmp_path / "export")
    out = tmp_path / "run"
    train_exported(exported, out, max_steps=4, batch_size=8, max_length=32, seed=1)
    written = read_predictions(out)
    (out / PREDICTIONS_FILE).unlink()  # as a run from before they were kept
    assert rescore_finished(exported, out, device="cpu") == written
    assert read_predictions(out) == written, "kept in the run's folder"

    (out / PREDICTIONS_FILE).unlink()
    metrics = json.loads((out / METRICS_FILE).read_text())
    metrics["test"]["accuracy"] += 0.01  # metrics.json says something the adapter does not score
    (out / METRICS_FILE).write_text(json.dumps(metrics))
    with pytest.raises(AutopeftError, match="the saved adapter scores"):
        rescore_finished(exported, out, device="cpu")
    assert read_predictions(out) is None
