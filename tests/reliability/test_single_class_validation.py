"""A validation split of one class is named as the cause (issue 39: the warning blamed the
model, "does not learn this task", and scikit-learn's own warning leaked onto stderr)."""

from __future__ import annotations

import json
import warnings

import numpy as np
from typer.testing import CliRunner

from autopeft.cli import app
from autopeft.tasks.metrics import classification_metrics


def test_one_class_validation_is_named_as_the_cause(quick_spec, tmp_path):
    from conftest import write_spec

    rows = [json.loads(line) for line in open(quick_spec["data"]["validation"])]
    one = tmp_path / "validation.jsonl"
    one.write_text("".join(json.dumps(r) + "\n" for r in rows if r["label"] == rows[0]["label"]))
    spec = write_spec(quick_spec | {"data": quick_spec["data"] | {"validation": str(one)}}, tmp_path)
    ran = CliRunner().invoke(app, ["search", str(spec), "--trials", "1"])
    assert ran.exit_code == 0, ran.output
    assert "warning: the 32 validation rows scored hold one class only" in ran.stderr  # warnings: stderr
    assert "Fix: give data.validation rows of every class" in ran.stderr
    assert "does not learn this task" not in ran.output and "Warning" not in ran.stderr
    shown = CliRunner().invoke(app, ["show", quick_spec["study_dir"]])
    assert "hold one class only" in shown.stderr, "show judges the finished study the same way"


def test_metrics_on_one_class_raise_no_library_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert classification_metrics(np.zeros(4, int), np.zeros(4, int), 2) == {
            "accuracy": 1.0,
            "f1": 0.0,
            "mcc": 0.0,
            "balanced_accuracy": 1.0,
            "macro_f1": 1.0,
        }
