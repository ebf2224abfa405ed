"""`autopeft search`, `export` and `--help` on the command line: a search exported and rebuilt,
an export of a failed trial explained, errors in one line."""

from __future__ import annotations

import json

import yaml
from peft import PeftConfig, get_peft_model
from transformers import AutoModelForSequenceClassification
from typer.testing import CliRunner

import autopeft
from autopeft.cli import app
from autopeft.methods import count_parameters

cli = CliRunner()


def test_cli_search_then_export_round_trip(tmp_path, quick_spec, tiny_bert):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(quick_spec))
    result = cli.invoke(app, ["search", str(spec_path), "--trials", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == f"study: {quick_spec['study_dir']}"
    assert "Pareto set" in result.output and "trainable params" in result.output

    study = autopeft.load_study(quick_spec["study_dir"])
    assert [t.number for t in study.trials] == [0, 1, 2]
    assert study.pareto and all(t.state == "complete" for t in study.pareto)
    chosen = study.pareto[0]

    out = tmp_path / "export"
    exported = cli.invoke(app, ["export", quick_spec["study_dir"], "--trial", str(chosen.number), "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    config = PeftConfig.from_pretrained(str(out))
    base = AutoModelForSequenceClassification.from_pretrained(str(tiny_bert), num_labels=2)
    assert count_parameters(get_peft_model(base, config))[0] == chosen.trainable_params

    recipe = yaml.safe_load((out / "recipe.yaml").read_text())
    assert recipe["hyperparameters"]["learning_rate"] == chosen.point["hyperparameters"]["learning_rate"]
    assert recipe["hyperparameters"]["head_learning_rate"] == chosen.point["hyperparameters"]["head_learning_rate"]
    assert recipe["proxy_budget"]["steps"] == quick_spec["budget"]["steps"]
    assert recipe["measured"]["trainable_params"] == chosen.trainable_params
    assert recipe["labels"] == ["0", "1"]
    assert json.loads((out / "adapter_config.json").read_text())["peft_type"] == "LORA"


def test_export_of_failed_trial_explains(quick_spec, tmp_path, monkeypatch):
    from autopeft.errors import TrialFailed
    from autopeft.executors import base as executing  # where trials are run

    def diverge(*args, **kwargs):
        raise TrialFailed("training diverged: loss became nan at step 2")

    monkeypatch.setattr(executing, "run_trial", diverge)
    autopeft.search(quick_spec, trials=1)
    result = cli.invoke(app, ["export", quick_spec["study_dir"], "--trial", "0", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "trial 0 did not complete (training diverged" in result.output


def test_cli_errors_are_one_line(tmp_path, quick_spec):
    quick_spec["data"]["text"] = "review"
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(quick_spec))
    result = cli.invoke(app, ["search", str(spec_path)])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "data.text: column 'review'" in result.output
    missing = cli.invoke(app, ["show", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "is not a study folder" in missing.output


def test_help_describes_commands_and_flags():
    top = cli.invoke(app, ["--help"])
    for command in ("search", "show", "export", "train"):
        assert command in top.output
    search_help = cli.invoke(app, ["search", "--help"])
    for flag in ("--trials", "--study-dir", "--sampler", "--resume", "--warm-start"):
        assert flag in search_help.output
    export_help = cli.invoke(app, ["export", "--help"])
    for flag in ("--trial", "--out"):
        assert flag in export_help.output
    train_help = cli.invoke(app, ["train", "--help"])
    for flag in ("--out", "--epochs", "--max-steps", "--batch-size", "--max-length", "--device", "--save-steps"):
        assert flag in train_help.output
