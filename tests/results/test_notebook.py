"""The Python result in a notebook: progress printed while it searches, the Pareto front as a
plotly figure, each trial's PEFT config as PEFT's object, counts as ints."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import plotly.graph_objects as go
import pytest
from conftest import REPO, quick_spec_for
from peft import PeftConfig

import autopeft
from autopeft.errors import UsageError
from autopeft.finetune.export import export_reference, export_trial
from autopeft.store.records import TrialRecord

LORA = {"method": "lora", "modules": ["q", "v"], "rank": 2, "learning_rate": 1e-3, "head_learning_rate": 3e-3}


@pytest.fixture(scope="module")
def result(tiny_bert, tmp_path_factory):
    spec = quick_spec_for(tiny_bert, tmp_path_factory.mktemp("notebook") / "study")
    return autopeft.search(spec | {"references": {"r2": LORA}}, trials=3, progress=False)


def test_search_prints_progress_by_default_and_nothing_with_progress_off(quick_spec, capfd):
    autopeft.search(quick_spec, trials=1)
    shown = capfd.readouterr()
    assert "trial 0: accuracy" in shown.err and shown.out == ""
    autopeft.search(quick_spec, trials=2, progress=False)  # the same study, one more trial
    quiet = capfd.readouterr()
    assert quiet.err == "" and quiet.out == ""


def test_plot_front_is_the_reports_figure(result):
    figure = result.plot_front()
    assert isinstance(figure, go.Figure)
    assert [trace.name for trace in figure.data] == ["trials", "Pareto set", "references (tuned)"]
    assert sorted(figure.data[0].x) == sorted(t.trainable_params for t in result.trials if t.state == "complete")
    assert list(figure.data[2].x) == [result.references[0].trainable_params]
    assert figure.layout.xaxis.type == "log"


def test_plot_front_loads_no_torch(result):
    script = (
        "import sys, autopeft; "
        f"autopeft.load_study({str(result.study_dir)!r}).plot_front(); print('torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=os.environ | {"PYTHONPATH": str(REPO)}, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().split() == ["False"]


def test_peft_config_is_what_export_writes(result, tmp_path):
    trial = result.pareto[0]
    export_trial(result.study_dir, trial.number, tmp_path / "trial")
    export_reference(result.study_dir, "r2", tmp_path / "reference")
    exported = PeftConfig.from_pretrained(str(tmp_path / "trial")).to_dict()
    assert trial.peft_config().to_dict() == exported
    assert exported["base_model_name_or_path"] is not None and exported["r"] in (2, 4)
    reference = PeftConfig.from_pretrained(str(tmp_path / "reference")).to_dict()
    assert result.references[0].peft_config().to_dict() == reference


def test_a_method_peft_lacks_has_no_peft_config():
    point = {"components": [{"method": "adapter", "settings": {}}], "hyperparameters": {}}
    record = TrialRecord(7, "complete", {}, {}, point, 10, 0.1, 1.0, None)
    with pytest.raises(UsageError, match=r"trial 7 \(adapter\) has no PEFT config.*autopeft export STUDY --trial 7"):
        record.peft_config()


def test_counts_are_ints_everywhere(result):
    assert all(type(t.values["trainable_params"]) is int for t in result.trials)
    assert all(type(t["values"]["trainable_params"]) is int for t in json.loads(json.dumps(result.to_dict()))["trials"])
    frame = result.to_pandas()
    assert str(frame["trainable_params"].dtype) == str(frame["number"].dtype) == "Int64"
    assert list(frame["trainable_params"]) == [t.trainable_params for t in result.trials] + [
        result.references[0].trainable_params
    ]


def test_repr_html_shows_the_pareto_set(result):
    page = result._repr_html_()
    assert page.startswith("<p>SearchResult(") and "<table" in page
    assert page.count("</tr>") == 1 + len(result.pareto)  # the header and one row per Pareto trial
    assert f"<td>{result.pareto[0].number}</td>" in page
