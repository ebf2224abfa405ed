"""`autopeft train` run again into the same folder (issue 39, item 1): a finished run is left
alone, a checkpoint cut short while saving is skipped, the export folder itself may be --out,
and the default sequence length fits the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import autopeft
from autopeft.cli import app
from autopeft.finetune.train import CHECKPOINTS, METRICS_FILE, train_exported

OPTIONS = {"batch_size": 8, "max_length": 32, "save_steps": 2}


@pytest.fixture()
def exported(quick_spec, tmp_path):
    quick_spec["space"] = {"method": "lora", "modules": ["q", "v"], "rank": [2]}
    record = autopeft.search(quick_spec, trials=1).trials[0]
    assert record.state == "complete", record.fail_reason
    return autopeft.export_trial(quick_spec["study_dir"], record.number, tmp_path / "export")


def test_a_finished_train_run_again_is_left_alone(exported, tmp_path, monkeypatch):
    out = tmp_path / "trained"
    command = ["train", str(exported), "--out", str(out), "--max-steps", "3", "--batch-size", "8"]
    command += ["--max-length", "32", "--save-steps", "2"]
    first = CliRunner().invoke(app, command)
    assert first.exit_code == 0, first.output
    metrics = (out / METRICS_FILE).read_text()
    checkpoints = sorted(p.name for p in (out / CHECKPOINTS).iterdir())

    again = CliRunner().invoke(app, command)
    assert again.exit_code == 0, again.output
    assert "holds this run, trained to the end; nothing trained again" in again.stderr
    assert (out / METRICS_FILE).read_text() == metrics  # not overwritten by an extra step
    assert sorted(p.name for p in (out / CHECKPOINTS).iterdir()) == checkpoints
    with pytest.raises(autopeft.AutopeftError, match="holds checkpoints of another run .*differs in max_steps"):
        train_exported(exported, out, max_steps=4, **OPTIONS)  # its schedule decayed over 3 steps, not 4


def stopped_after(monkeypatch, steps: int) -> None:
    """The next training is killed once ``steps`` steps are done (as Ctrl-C would)."""
    from transformers import Trainer

    real = Trainer.training_step

    def step(self, *args, **kwargs):
        if self.state.global_step >= steps:
            monkeypatch.setattr(Trainer, "training_step", real)
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "training_step", step)


def test_a_checkpoint_cut_short_while_saving_is_skipped(exported, tmp_path, monkeypatch):
    out = tmp_path / "trained"
    stopped_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        train_exported(exported, out, max_steps=4, **OPTIONS)
    complete = out / CHECKPOINTS / "checkpoint-2"
    cut = out / CHECKPOINTS / "checkpoint-4"  # killed while saving: weights half written, no trainer state
    cut.mkdir()
    for file in complete.iterdir():
        if file.suffix == ".safetensors":
            (cut / file.name).write_bytes(file.read_bytes()[:100])
    metrics = train_exported(exported, out, max_steps=4, **OPTIONS)
    assert metrics["resumed"] and metrics["steps"] == 4
    assert json.loads((out / CHECKPOINTS / "checkpoint-4" / "trainer_state.json").read_text())["global_step"] == 4


def test_the_export_folder_itself_can_be_the_out_folder_and_resume(exported, monkeypatch):
    stopped_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        train_exported(exported, exported, max_steps=4, **OPTIONS)
    again = train_exported(exported, exported, max_steps=4, **OPTIONS)  # the run's files are not the export's
    assert again["resumed"] and again["steps"] == 4


def test_the_default_length_fits_the_model_and_a_longer_one_is_one_line(exported, tmp_path):
    # the tiny BERT holds 128 positions: the default 256 would fail inside the model
    metrics = train_exported(exported, tmp_path / "a", max_steps=1, batch_size=8, save_steps=2)
    assert metrics["max_length"] == 128
    result = CliRunner().invoke(app, ["train", str(exported), "--out", str(tmp_path / "b"), "--max-length", "256"])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: --max-length: 256 tokens is more than the model's position limit")
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "b").exists()


def test_a_budget_max_length_above_the_models_limit_is_one_line_before_the_study(quick_spec):
    quick_spec["budget"]["max_length"] = 200
    with pytest.raises(autopeft.SpecError, match=r"budget.max_length: 200 tokens is more than .* limit \(128"):
        autopeft.search(quick_spec)
    assert not (Path(quick_spec["study_dir"]) / "study.db").exists()


def test_a_run_written_before_its_length_was_kept_still_reads_as_finished(exported, tmp_path):
    from autopeft.finetune.train import RUN_FILE

    out = tmp_path / "trained"
    train_exported(exported, out, max_steps=2, **OPTIONS)
    run = json.loads((out / RUN_FILE).read_text())
    older = {key: value for key, value in run.items() if key not in ("max_steps", "epochs")}
    (out / RUN_FILE).write_text(json.dumps(older))
    assert train_exported(exported, out, max_steps=2, **OPTIONS)["already_trained"]
    with pytest.raises(autopeft.AutopeftError, match="differs in max_steps"):
        train_exported(exported, out, max_steps=3, **OPTIONS)
