"""A custom metric through the whole pipeline: measured in every proxy trial and the baseline,
optimized, stored, shown, carried by the export's recipe and scored by `autopeft train` on
validation and test rows; the built-in balanced accuracy and macro F1 beside it."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
import yaml
from conftest import DEMO_WITH_TEST, write_spec
from typer.testing import CliRunner

import autopeft
from autopeft.cli import app
from autopeft.finetune.train import METRICS_FILE
from autopeft.results.result import SearchResult

cli = CliRunner()
MODULE = "autopeft_search_test_metrics"
SOURCE = """
import numpy as np
from sklearn.metrics import balanced_accuracy_score

def balanced(predictions, labels):
    assert predictions.dtype.kind == "i", predictions.dtype  # class ids (the argmax), not logits
    return balanced_accuracy_score(labels, predictions)

def errors(predictions, labels):
    return int(np.sum(predictions != labels))

def probes_only(predictions, labels):
    if len(predictions) > 4:  # passes the spec's 4-row probes, raises on the baseline's rows
        raise RuntimeError("kaboom")
    return 1.0
"""


@pytest.fixture()
def metrics_module(tmp_path, monkeypatch):
    folder = tmp_path / "user-code"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(SOURCE))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    return folder


def test_a_custom_metric_runs_through_search_show_export_and_train(quick_spec, tmp_path, metrics_module, monkeypatch):
    quick_spec["objectives"] = [{"metric": f"{MODULE}:balanced", "direction": "maximize"}, "trainable_params"]
    errors = {"errors": {"function": f"{MODULE}:errors", "direction": "minimize"}}
    quick_spec["data"] = DEMO_WITH_TEST | {"metrics": errors}  # validation carved from train, test held out
    searched = cli.invoke(app, ["search", str(write_spec(quick_spec, tmp_path)), "--trials", "2"])
    assert searched.exit_code == 0, searched.output
    study = quick_spec["study_dir"]

    result = SearchResult.load(study)
    assert result.objectives == ["balanced", "trainable_params"] and result.objective("balanced").maximize
    complete = [t for t in result.trials if t.state == "complete"]
    assert len(complete) == 2
    for trial in complete:  # the user's function saw the predictions the built-ins saw
        assert trial.values["balanced"] == pytest.approx(trial.values["balanced_accuracy"])
        assert trial.values["errors"] == round((1 - trial.values["accuracy"]) * result.validation_rows)
    assert result.baseline["balanced"] == pytest.approx(0.5)  # the majority class: one class of two recalled

    shown = cli.invoke(app, ["show", study])
    assert shown.exit_code == 0 and "val balanced" in shown.output
    listed = json.loads(cli.invoke(app, ["show", "--json", study]).stdout)
    assert {"balanced_accuracy", "macro_f1", "balanced", "errors"} <= set(listed["trials"][0]["values"])

    exported = autopeft.export_trial(study, result.pareto[0].number, tmp_path / "export")
    recipe = yaml.safe_load((exported / "recipe.yaml").read_text())
    assert recipe["data"]["metrics"]["balanced"] == {"function": f"{MODULE}:balanced", "direction": "maximize"}
    out = tmp_path / "trained"
    trained = cli.invoke(
        app, ["train", str(exported), "--out", str(out), "--max-steps", "2", "--batch-size", "8", "--max-length", "32"]
    )
    assert trained.exit_code == 0, trained.output
    scores = json.loads((out / METRICS_FILE).read_text())
    for split in ("validation", "test"):
        assert scores[split]["balanced"] == pytest.approx(scores[split]["balanced_accuracy"])
        assert "errors" in scores[split] and "macro_f1" in scores[split]
    assert "balanced " in trained.output

    # Where the module does not import, train stops before training, in one line.
    monkeypatch.delitem(sys.modules, MODULE)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(metrics_module)])
    refused = cli.invoke(app, ["train", str(exported), "--out", str(tmp_path / "again"), "--max-steps", "2"])
    assert refused.exit_code == 2 and "does not import" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "again" / "cache").exists()  # nothing tokenized: refused before the data loads


def test_a_metric_module_that_does_not_import_stops_the_search_before_anything_loads(quick_spec, tmp_path):
    quick_spec["objectives"] = [{"metric": "no_module_of_that_name:score", "direction": "maximize"}]
    ran = cli.invoke(app, ["search", str(write_spec(quick_spec, tmp_path))])
    assert ran.exit_code == 2
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and "objectives: custom metric 'score'" in lines[0] and "does not import" in lines[0]
    assert not (tmp_path / "study").exists()


def test_a_metric_that_raises_on_the_baseline_is_one_line_with_a_fix(quick_spec, tmp_path, metrics_module):
    quick_spec["objectives"] = [{"metric": f"{MODULE}:probes_only", "direction": "maximize"}, "trainable_params"]
    ran = cli.invoke(app, ["search", str(write_spec(quick_spec, tmp_path))])
    assert ran.exit_code == 2, ran.output
    assert ran.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'spec.yaml'}: objectives: the baseline (the trivial predictor's constant predictions): "
        f"custom metric 'probes_only' "
        f"({MODULE}:probes_only) raised RuntimeError: kaboom. Fix: make the metric return a finite number for "
        "constant predictions"
    ]


def test_balanced_accuracy_and_macro_f1_are_sklearns_for_two_and_more_classes():
    import numpy as np
    from sklearn.metrics import balanced_accuracy_score, f1_score

    from autopeft.tasks.metrics import classification_metrics

    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    scores = classification_metrics(predicted, labels, 3)
    assert scores["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(labels, predicted))
    assert scores["macro_f1"] == pytest.approx(f1_score(labels, predicted, average="macro"))
    labels, predicted = labels[:6] % 2, predicted[:6] % 2
    binary = classification_metrics(predicted, labels, 2)
    assert binary["macro_f1"] == pytest.approx(f1_score(labels, predicted, average="macro"))
    assert binary["macro_f1"] != pytest.approx(binary["f1"])  # f1 stays binary for two labels


def test_the_new_built_ins_are_objectives_of_classification_only():
    from autopeft.errors import SpecError
    from autopeft.spec import build_spec

    data = {"train": "train.jsonl", "validation": "validation.jsonl"}
    spec = build_spec({"data": data, "objectives": ["balanced_accuracy", "macro_f1", "trainable_params"]})
    assert spec.objectives == ["balanced_accuracy", "macro_f1", "trainable_params"]
    with pytest.raises(SpecError, match="'macro_f1' is not a metric of regression tasks"):
        build_spec({"data": data | {"task": "regression"}, "objectives": ["macro_f1"]})
