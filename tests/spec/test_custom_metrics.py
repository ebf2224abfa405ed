"""Custom metrics in the spec: `{metric: "module:function", direction: ...}` in objectives, checked
when the spec is read (the module imports, the function exists, is callable and returns a finite
number on tiny inputs), kept as data.metrics."""

from __future__ import annotations

import sys
import textwrap

import pytest

from autopeft.errors import SpecError, TrialFailed
from autopeft.spec import build_spec, parse_spec
from autopeft.spec.objectives import Direction, objectives_for

MODULE = "autopeft_spec_test_metrics"
SOURCE = """
import numpy as np

NOT_A_FUNCTION = 3

def agreement(predictions, labels):
    return float(np.mean(predictions == labels))

def nan(predictions, labels):
    return float("nan")

def words(predictions, labels):
    return "high"

def text_number(predictions, labels):
    return "0.5"

def varied_only(predictions, labels):
    if len(set(predictions.tolist())) == 1:
        raise ValueError("constant predictions")
    return 1.0

def short_only(predictions, labels):
    if len(predictions) > 4:
        raise RuntimeError("boom on real rows")
    return 1.0
"""


@pytest.fixture(autouse=True)
def metrics_module(tmp_path, monkeypatch):
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent(SOURCE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)


def spec_with(*objectives, task: str = "classification") -> dict:
    data = {"train": "train.jsonl", "validation": "validation.jsonl", "task": task}
    return {"data": data, "objectives": list(objectives)}


def custom(function: str, direction: str = "maximize", **more) -> dict:
    return {"metric": function, "direction": direction, **more}


def test_a_custom_objective_is_kept_as_data_metrics_with_its_direction():
    spec = build_spec(spec_with(custom(f"{MODULE}:agreement", "minimize", name="agree"), "trainable_params"))
    assert spec.objectives == ["agree", "trainable_params"]
    assert spec.data.metrics["agree"].function == f"{MODULE}:agreement"
    again = parse_spec(spec.model_dump())  # as a study's spec.yaml is read back
    assert again == spec
    first = objectives_for(again.objectives, {"agree": "minimize"})[0]
    assert (first.name, first.direction, first.task_metric) == ("agree", Direction.MINIMIZE, True)


def test_the_name_defaults_to_the_functions():
    assert build_spec(spec_with(custom(f"{MODULE}:agreement"))).objectives == ["agreement"]


@pytest.mark.parametrize(
    ("objective", "problem"),
    [
        (custom("no_such_module_at_all:f"), "module no_such_module_at_all does not import"),
        (custom(f"{MODULE}:missing"), f"{MODULE} has no 'missing'"),
        (custom(f"{MODULE}:NOT_A_FUNCTION"), "is not callable"),
        (custom(f"{MODULE}:nan"), "returned nan, not a finite number"),
        (custom(f"{MODULE}:words"), "returned 'high', not a finite number"),
        (custom(f"{MODULE}:text_number"), "returned '0.5', not a finite number"),  # text is not a score
        (custom(f"{MODULE}:varied_only"), "fails on predictions [0, 0, 0, 0]"),
        (f"{MODULE}:agreement", "has no direction"),
        (custom(f"{MODULE}:agreement", "up"), "has direction 'up'"),
        ({"metric": f"{MODULE}:agreement"}, "has no direction"),
        (custom(f"{MODULE}:agreement", name="accuracy"), "'accuracy' is a built-in objective"),
        (custom("agreement"), "names no module:function"),
    ],
)
def test_a_bad_custom_metric_is_one_line_naming_objectives(objective, problem):
    with pytest.raises(SpecError) as error:
        build_spec(spec_with(objective, "trainable_params"))
    message = str(error.value)
    assert error.value.field == "objectives" and problem in message and "\n" not in message


def test_causal_lm_has_no_custom_metrics():
    with pytest.raises(SpecError, match="causal_lm scores only the loss"):
        build_spec(spec_with(custom(f"{MODULE}:agreement"), task="causal_lm"))


def test_reading_a_stored_spec_imports_no_metric_module():
    """show and report read a study's spec.yaml: they run without the metric's module."""
    stored = build_spec(spec_with(custom(f"{MODULE}:agreement"))).model_dump()
    stored["data"]["metrics"]["agreement"]["function"] = "gone_module_for_good:agreement"
    assert parse_spec(stored).data.metrics["agreement"].function == "gone_module_for_good:agreement"


def test_a_metric_that_raises_on_real_rows_fails_with_its_reason_not_a_traceback(metrics_module):
    """It passes the spec's probes (4 rows) and raises on the baseline's or a trial's rows: that
    is a failure with the function's reason (one line at the baseline), not its traceback."""
    import numpy as np

    from autopeft.tasks.custom_metrics import CustomMetric

    metric = CustomMetric("short", f"{MODULE}:short_only")
    metric.check("classification")  # the probes pass
    with pytest.raises(TrialFailed, match=r"custom metric 'short' \(.*:short_only\) raised RuntimeError: boom"):
        metric(np.zeros(10, dtype=int), np.zeros(10, dtype=int))
