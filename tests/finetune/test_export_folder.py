"""An export's folder holds one configuration: never mixed with an earlier export, never the study's own folder."""

from __future__ import annotations

from pathlib import Path

import pytest

import autopeft


def test_an_export_never_mixes_with_an_earlier_one(quick_spec, tmp_path):
    from autopeft.finetune.export import export_trial
    from autopeft.finetune.train import train_exported
    from autopeft.methods import load_adapter

    quick_spec["space"] = {
        "combine": "choice",
        "components": [{"method": "bias"}, {"method": "lora", "modules": ["q"], "rank": [2]}],
        "learning_rate": 1e-3,
        "head_learning_rate": 1e-2,
    }
    quick_spec["sampler"] = "random"
    result = autopeft.search(quick_spec, trials=6)
    by_method = {t.point["method"]: t for t in result.trials if t.state == "complete"}
    bias, lora = by_method["bias"], by_method["lora"]
    out = tmp_path / "exp"
    export_trial(result.study_dir, bias.number, out)
    with pytest.raises(autopeft.AutopeftError, match=r"--out: .*exp is not empty\. Fix: .*--force"):
        export_trial(result.study_dir, lora.number, out)
    (out / "notes.txt").write_text("mine")
    export_trial(result.study_dir, lora.number, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["adapter_config.json", "notes.txt", "recipe.yaml"], "none stale"
    assert (out / "notes.txt").read_text() == "mine", "--force replaces the export's files, never the user's"
    (out / "notes.txt").unlink()
    metrics = train_exported(out, tmp_path / "trained", max_steps=1, batch_size=8, max_length=32)
    assert metrics["trainable_params"] == lora.trainable_params, "trains the LoRA trial, not the old BitFit one"

    (out / "autopeft_adapter.json").write_text("{}")  # a second configuration, by hand
    from autopeft.models import load_base_model
    from autopeft.tasks import task_for

    base = load_base_model(quick_spec["model"], task_for("classification"), ["negative", "positive"])
    with pytest.raises(autopeft.AutopeftError, match="holds both autopeft_adapter.json and adapter_config.json"):
        load_adapter(base, out)
    again = train_exported(out, tmp_path / "trained-again", max_steps=1, batch_size=8, max_length=32)
    assert again["trainable_params"] == lora.trainable_params, "train uses exactly the adapter the recipe names"
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(autopeft.AutopeftError, match="--out: .*mine holds files but no earlier export"):
        export_trial(result.study_dir, lora.number, mine, force=True)
    assert (mine / "notes.txt").read_text() == "keep" and (mine / "sub").is_dir(), "--force deletes only an export"
    (tmp_path / "file").write_text("x")
    with pytest.raises(autopeft.AutopeftError, match="--out: .*file is a file"):
        export_trial(result.study_dir, lora.number, tmp_path / "file")
    for holding_the_study in (Path(result.study_dir), Path(result.study_dir).parent):
        with pytest.raises(autopeft.AutopeftError, match="--out: .* holds the study .*Fix: give a folder outside"):
            export_trial(result.study_dir, lora.number, holding_the_study, force=True)
    assert (Path(result.study_dir) / "study.db").is_file(), "--force never empties the study's own folder"


def test_a_trial_named_by_text_is_refused_and_numpy_ints_are_numbers(finished_study, tmp_path):
    import numpy as np

    from autopeft.errors import UsageError
    from autopeft.finetune.export import export_trial

    with pytest.raises(UsageError, match=r"--trial: '0' is not a trial number\. Fix: give an integer"):
        export_trial(finished_study, "0", tmp_path / "text")
    assert (export_trial(finished_study, np.int64(0), tmp_path / "numpy") / "recipe.yaml").is_file()
