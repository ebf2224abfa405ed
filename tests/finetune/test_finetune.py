"""Full training of an exported configuration: `autopeft train` on the folder `export` wrote."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from transformers import AutoModelForSequenceClassification
from typer.testing import CliRunner

import autopeft
from autopeft.cli import app
from autopeft.finetune.train import ADAPTER, CHECKPOINTS, METRICS_FILE, rows_digest, train_exported
from autopeft.finetune.trainer import checkpoint_state, logging_interval, seconds_before
from autopeft.methods import count_parameters
from autopeft.proxy.training import evaluate

cli = CliRunner()


def exported_trial(quick_spec, tmp_path, space) -> tuple:
    quick_spec["space"] = space
    result = autopeft.search(quick_spec, trials=1)
    record = result.trials[0]
    assert record.state == "complete", record.fail_reason
    return autopeft.export_trial(quick_spec["study_dir"], record.number, tmp_path / "export"), record


SPACES = [
    {"method": "lora", "modules": ["q", "v"], "rank": [4]},  # stock PEFT: saved as a PEFT adapter
    {"method": "serial_adapter", "width": [8]},  # autopeft's own format
    {  # a hybrid: a PEFT model with autopeft's parts beside it, saved whole in autopeft's format
        "combine": "together",
        "components": [
            {"method": "lora", "modules": ["q", "v"], "rank": [4]},
            {"method": "parallel_adapter", "width": [8]},
        ],
    },
]


@pytest.mark.parametrize("space", SPACES)
def test_train_exported_trains_saves_and_scores_like_the_search(quick_spec, tmp_path, tiny_bert, space):
    exported, record = exported_trial(quick_spec, tmp_path, space)
    out = tmp_path / "trained"
    result = cli.invoke(
        app,
        [
            "train",
            str(exported),
            "--out",
            str(out),
            "--max-steps",
            "6",
            "--batch-size",
            "8",
            "--max-length",
            "32",
            "--save-steps",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"adapter: {out / ADAPTER}" in result.output

    metrics = json.loads((out / METRICS_FILE).read_text())
    train_rows = sum(1 for _ in open(quick_spec["data"]["train"]))  # the whole split, not the proxy's subset
    assert metrics["steps"] == 6 and metrics["train_examples"] == train_rows and not metrics["resumed"]
    assert metrics["epochs"] == pytest.approx(6 * 8 / train_rows)
    assert metrics["trainable_params"] == record.trainable_params
    assert metrics["percent_of_base"] == pytest.approx(record.percent_of_base, rel=1e-3)
    assert set(metrics["validation"]) >= {"accuracy", "eval_loss"}
    assert metrics["proxy_validation"]["accuracy"] == record.values["accuracy"]

    # The saved adapter, loaded onto a fresh base model, scores what training reported.
    from autopeft.data.cache import encode_cached
    from autopeft.models.loading import load_tokenizer
    from autopeft.spec import DataSpec
    from autopeft.tasks import load_task_data

    recipe = yaml.safe_load((exported / "recipe.yaml").read_text())
    data_spec = DataSpec.model_validate(recipe["data"])
    data = load_task_data(data_spec.source(), data_spec.make_task())
    validation = encode_cached(data.task, data.validation, load_tokenizer(str(tiny_bert)), 32, None)
    base = AutoModelForSequenceClassification.from_pretrained(str(tiny_bert), num_labels=2)
    loaded = autopeft.load_adapter(base, out / ADAPTER)
    assert (
        count_parameters(loaded)[1]
        == count_parameters(
            autopeft.load_adapter(
                AutoModelForSequenceClassification.from_pretrained(str(tiny_bert), num_labels=2), exported
            )
        )[1]
    )
    scores = evaluate(loaded, validation, 16, data.task)
    assert scores["accuracy"] == pytest.approx(metrics["validation"]["accuracy"])
    assert scores["eval_loss"] == pytest.approx(metrics["validation"]["eval_loss"], rel=1e-4)


class _Started(Exception):
    """Stops a training once its first weights are seen."""


def _trainable(model) -> dict:
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("space", [*SPACES, {"method": "prefix", "virtual_tokens": [3]}])
def test_train_starts_from_the_weights_the_searchs_trial_started_from(quick_spec, tmp_path, space, monkeypatch):
    """Fresh head (the study's seed) and fresh adapter (the trial's), whatever ran before them."""
    import torch
    from transformers import Trainer

    from autopeft.proxy import trial

    started = {}
    real_train_proxy = trial.train_proxy

    def seen_by_the_search(model, *args, **kwargs):
        started.setdefault("search", []).append(_trainable(model))
        return real_train_proxy(model, *args, **kwargs)

    def seen_by_train(self, *args, **kwargs):
        started["train"] = _trainable(self.model)
        raise _Started

    monkeypatch.setattr(trial, "train_proxy", seen_by_the_search)
    monkeypatch.setattr(Trainer, "train", seen_by_train)
    from conftest import save_tiny_classifier
    from transformers import AutoConfig

    three_labels = AutoConfig.from_pretrained(quick_spec["model"], num_labels=3)
    quick_spec["model"] = str(save_tiny_classifier(tmp_path / "base", three_labels))  # the 2-label head is fresh
    torch.rand(7)  # the process's random state differs from the search's
    quick_spec["space"] = space
    autopeft.search(quick_spec, trials=2)
    exported = autopeft.export_trial(quick_spec["study_dir"], 1, tmp_path / "export")  # seed: the study's + 1
    torch.rand(3)
    with pytest.raises(_Started):
        train_exported(exported, tmp_path / "trained", max_steps=2, batch_size=8, max_length=32)
    search, train = started["search"][1], started["train"]
    assert sorted(search) == sorted(train) and any("classifier" in name for name in train)
    for name, weights in search.items():
        assert torch.equal(weights, train[name]), name


@pytest.mark.parametrize("space", SPACES)
def test_train_resumes_from_its_last_checkpoint(quick_spec, tmp_path, space, monkeypatch, caplog):
    from transformers import Trainer

    exported, _ = exported_trial(quick_spec, tmp_path, space)
    out = tmp_path / "trained"
    options = {"batch_size": 8, "max_length": 32, "save_steps": 2}
    whole = train_exported(exported, tmp_path / "whole", max_steps=6, **options)
    steps, real_step = [], Trainer.training_step

    def step(self, *args, **kwargs):
        if self.state.global_step == 4 and "killed" not in steps:  # killed in step 5, after checkpoint-4
            raise KeyboardInterrupt
        if "killed" not in steps:
            time.sleep(0.5)  # the first segment's steps take seconds that the resumed run's count keeps
        steps.append(self.state.global_step)
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "training_step", lambda self, *a, **k: step(self, *a, **k))
    with pytest.raises(KeyboardInterrupt):
        train_exported(exported, out, max_steps=6, **options)
    steps.append("killed")
    first_segment = seconds_before(checkpoint_state(out / CHECKPOINTS / "checkpoint-4"))
    assert first_segment >= 2.0, "4 steps of 0.5 s"
    again = train_exported(exported, out, max_steps=6, **options)
    assert again["resumed"] and again["steps"] == 6
    assert again["train_seconds"] > first_segment, "the segments' seconds summed, not the last one's"
    assert "train: resuming from checkpoint-4 (step 4 done)" in caplog.text
    assert again["train_loss"] == pytest.approx(whole["train_loss"], rel=1e-3), "the whole run's loss, not steps 5-6"
    assert steps[-3:] == ["killed", 4, 5], "steps 5 and 6 only: the first 4 came from the checkpoint"
    assert sorted(p.name for p in (out / CHECKPOINTS).iterdir()) == ["checkpoint-6"]
    assert again["validation"] == pytest.approx(whole["validation"], abs=1e-3), "resumed as if never stopped"
    with pytest.raises(
        autopeft.AutopeftError, match="holds checkpoints of another run .*differs in seed, head_seed, batch_size"
    ):
        train_exported(exported, out, max_steps=6, **options | {"batch_size": 4}, seed=9)


def test_a_checkpoint_saved_before_the_seconds_were_kept_resumes(quick_spec, tmp_path, monkeypatch, caplog):
    """A run checkpointed by an earlier autopeft has no TrainingSeconds entry in its state: the
    resume must not fail when Trainer saves the next checkpoint (KeyError in Trainer's save)."""
    from transformers import Trainer

    exported, _ = exported_trial(quick_spec, tmp_path, SPACES[0])
    out, options = tmp_path / "trained", {"batch_size": 8, "max_length": 32, "save_steps": 2}
    real_step = Trainer.training_step

    def killed_after_checkpoint_2(self, *args, **kwargs):
        if self.state.global_step == 2:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "training_step", killed_after_checkpoint_2)
    with pytest.raises(KeyboardInterrupt):
        train_exported(exported, out, max_steps=6, **options)
    monkeypatch.setattr(Trainer, "training_step", real_step)
    saved = out / CHECKPOINTS / "checkpoint-2" / "trainer_state.json"
    state = json.loads(saved.read_text())
    del state["stateful_callbacks"]["TrainingSeconds"]  # as an earlier autopeft saved it
    saved.write_text(json.dumps(state))
    again = train_exported(exported, out, max_steps=6, **options)
    assert again["resumed"] and again["steps"] == 6
    kept = seconds_before(checkpoint_state(out / CHECKPOINTS / "checkpoint-6"))
    assert 0 < kept <= again["train_seconds"] + 0.01, "the seconds are kept again from the resume on"
    assert "checkpoint-2 does not say how long it trained; train_seconds counts from now" in caplog.text


@pytest.mark.parametrize(("save_steps", "logged"), [(500, 50), (120, 40), (7, 7), (53, 1), (2, 2)])
def test_every_checkpoint_falls_on_a_logged_step(save_steps, logged):
    assert logging_interval(save_steps) == logged  # so a resumed run's earlier loss is known whole


def test_train_errors_name_the_fix(quick_spec, tmp_path):
    missing = cli.invoke(app, ["train", str(tmp_path), "--out", str(tmp_path / "out")])
    assert missing.exit_code == 2 and "holds no recipe.yaml" in missing.output and "autopeft export" in missing.output
    exported, _ = exported_trial(quick_spec, tmp_path, {"method": "lora", "modules": ["q"], "rank": [2]})
    with pytest.raises(autopeft.SpecError, match="--epochs"):
        train_exported(exported, tmp_path / "out", epochs=0)
    for flag in ("--max-steps", "--batch-size"):  # one line of ours, not typer's boxed usage error
        shown = cli.invoke(app, ["train", str(exported), "--out", str(tmp_path / "out"), flag, "0"])
        assert shown.exit_code == 2 and f"error: {flag}: must be at least 1, got 0" in shown.stderr, shown.output
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for options, error in (
        (["--max-length", "0"], "error: --max-length: must be at least 8, got 0. Fix: pass --max-length 8 or more"),
        (["--max-length", "1"], "error: --max-length: must be at least 8, got 1"),  # as the search refuses
        (["--seed", "-1"], "error: --seed: must be 0 to 4294967295, got -1"),
        (["--seed", str(2**32)], "error: --seed: must be 0 to 4294967295, got 4294967296"),
        (["--out", str(a_file)], f"error: --out: {a_file} is a file. Fix: give a folder"),
    ):
        shown = cli.invoke(app, ["train", str(exported), "--out", str(tmp_path / "out"), *options])
        assert shown.exit_code == 2 and error in shown.stderr and "Traceback" not in shown.output, shown.output
    with pytest.raises(autopeft.AutopeftError, match="--device cuda:1: .*Fix: CUDA_VISIBLE_DEVICES=1 autopeft train"):
        train_exported(exported, tmp_path / "out", device="cuda:1")
    recipe = exported / "recipe.yaml"
    for damaged, error in (("", "lacks model, "), ("seed: 0\n", "lacks model, "), ("seed: [0\n", "malformed YAML")):
        recipe.write_text(damaged)
        shown = cli.invoke(app, ["train", str(exported), "--out", str(tmp_path / "out")])
        assert shown.exit_code == 2 and error in shown.output and "Traceback" not in shown.output, shown.output


def test_train_keeps_the_precision_the_search_trained_in(quick_spec, tmp_path):
    quick_spec["budget"]["precision"] = "bf16"  # autocast works on CPUs too
    exported, _ = exported_trial(quick_spec, tmp_path, {"method": "lora", "modules": ["q"], "rank": [2]})
    metrics = train_exported(exported, tmp_path / "out", max_steps=2, batch_size=8, max_length=32)
    assert metrics["precision"] == "bf16", "auto would have trained in fp32 on this CPU"


def test_train_scores_the_test_split_with_its_own_seed_and_the_studys_validation_rows(quick_spec, tmp_path):
    from conftest import DEMO_WITH_TEST

    quick_spec["data"] = dict(DEMO_WITH_TEST)
    quick_spec["seed"] = 5
    exported, record = exported_trial(quick_spec, tmp_path, {"method": "lora", "modules": ["q"], "rank": [2]})
    recipe = yaml.safe_load((exported / "recipe.yaml").read_text())
    assert recipe["data_seed"] == 5 and recipe["data"]["test"].endswith("validation.jsonl")
    runs = {}
    for seed in (1, 2):
        runs[seed] = train_exported(
            exported, tmp_path / f"seed{seed}", max_steps=3, batch_size=8, max_length=32, seed=seed
        )
    first, second = runs[1], runs[2]
    from autopeft.spec import DataSpec
    from autopeft.tasks import load_task_data

    data = DataSpec.model_validate(quick_spec["data"])
    carved = {s: load_task_data(data.source(), data.make_task(), seed=s).validation for s in (5, 1)}
    assert carved[5]["sentence"] != carved[1]["sentence"], "another seed carves other rows"
    assert first["validation_examples"] == len(carved[5]) == 80
    assert first["validation_digest"] == second["validation_digest"] == rows_digest(carved[5])
    assert first["validation_rows"] == 80, "a count, as SearchResult.validation_rows"
    assert first["test_examples"] == 200 and "accuracy" in first["test"] and first["seed"] == first["head_seed"] == 1
    assert first["train_loss"] != second["train_loss"], "another seed trains another run"
    missing = cli.invoke(app, ["train", str(exported), "--out", str(tmp_path / "x"), "--test", "/nope.jsonl"])
    assert missing.exit_code == 2 and "--test: no file at /nope.jsonl" in missing.stderr
    unlabelled = tmp_path / "glue-test.jsonl"  # GLUE's test splits carry label -1
    unlabelled.write_text('{"sentence": "fine", "label": -1}\n')
    shown = cli.invoke(app, ["train", str(exported), "--out", str(tmp_path / "y"), "--test", str(unlabelled)])
    assert shown.exit_code == 2 and "Traceback" not in shown.output, shown.output
    assert "error: --test: labels ['-1'] do not occur in train" in shown.stderr, shown.stderr
    assert "data.validation" not in shown.stderr


def test_test_rows_that_the_study_trained_or_selected_on_are_refused():
    from conftest import DEMO_DATA

    from autopeft.finetune.train import _test_split
    from autopeft.spec import DataSpec
    from autopeft.tasks import load_task_data

    spec = DataSpec.model_validate(
        {"train": str(DEMO_DATA / "train.jsonl"), "validation": str(DEMO_DATA / "validation.jsonl")}
        | {"text": "sentence", "label": "label"}
    )
    data = load_task_data(spec.source(), spec.make_task())
    with pytest.raises(
        autopeft.SpecError, match=r"--test: 200 of its 200 rows are also in the study's validation split"
    ):
        _test_split(data, spec, str(DEMO_DATA / "validation.jsonl"), "--test")
    with pytest.raises(autopeft.SpecError, match=r"--test: is data.train's own file"):
        _test_split(data, spec, str(DEMO_DATA / "train.jsonl"), "--test")


def test_an_export_of_the_packaged_model_names_its_hub_id_and_labels(quick_spec, tmp_path):
    quick_spec["model"] = "minilm"
    quick_spec["budget"] = quick_spec["budget"] | {"steps": 2}
    exported, _ = exported_trial(quick_spec, tmp_path, {"method": "lora", "modules": ["q"], "rank": [2]})
    config = json.loads((exported / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "sentence-transformers/all-MiniLM-L6-v2", "shareable, not a local path"
    recipe = yaml.safe_load((exported / "recipe.yaml").read_text())
    assert (Path(recipe["base_model_local_path"]) / "config.json").is_file(), "the local copy, as a fallback"
    assert recipe["id2label"] == dict(enumerate(recipe["labels"])) and len(recipe["labels"]) == 2
    assert recipe["label2id"] == {name: i for i, name in enumerate(recipe["labels"])}


@pytest.mark.parametrize(("checkpointing", "expected"), [(False, False), (True, True), ("no", False)])
def test_full_training_recomputes_activations_as_the_search_did_without_a_deprecation_warning(
    tmp_path, checkpointing, expected
):
    """The recipe's ``gradient_checkpointing`` reaches the Trainer under the installed
    transformers' own name (5.x renamed it; the old one warned on every ``autopeft train``)."""
    import warnings

    import torch

    from autopeft.finetune.recipe import RecipeBudget, RecipeHyperparameters
    from autopeft.finetune.trainer import TrainOptions, training_arguments

    hp = RecipeHyperparameters(
        learning_rate=1e-3, head_learning_rate=1e-3, lr_schedule="linear", warmup_ratio=0.06,
        weight_decay=0.0, max_grad_norm=1.0, optimizer="adamw",
    )  # fmt: skip
    budget = RecipeBudget(precision="fp32", gradient_checkpointing=checkpointing)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        args = training_arguments(hp, TrainOptions(), tmp_path, 0, torch.device("cpu"), torch.float32, budget)
    assert bool(getattr(args, "activation_checkpointing", None) or args.gradient_checkpointing) is expected


@pytest.mark.parametrize(("stop", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
@pytest.mark.parametrize("checkpointed", [True, False])
def test_an_interrupted_train_says_how_to_go_on(tmp_path, monkeypatch, stop, code, checkpointed):
    import os
    import signal

    import autopeft.finetune.train as train_module

    out = tmp_path / "out"
    (out / CHECKPOINTS / "checkpoint-4").mkdir(parents=True)
    (out / CHECKPOINTS / "checkpoint-4" / "trainer_state.json").write_text('{"global_')  # cut short while saving
    (out / CHECKPOINTS / "checkpoint-v2").mkdir()  # not Trainer's: passed over, not a ValueError
    if checkpointed:
        (out / CHECKPOINTS / "checkpoint-2").mkdir(parents=True)
        (out / CHECKPOINTS / "checkpoint-2" / "trainer_state.json").write_text("{}")

    def interrupted(*args, **kwargs):  # the signal arrives while training, as Ctrl-C or `kill` sends it
        os.kill(os.getpid(), getattr(signal, stop))
        time.sleep(5)

    monkeypatch.setattr(train_module, "train_exported", interrupted)
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)  # ignored when run as `pytest &`
    before = signal.getsignal(signal.SIGTERM)  # another test's library (Ray) may have set one
    shown = cli.invoke(app, ["train", str(tmp_path), "--out", str(out)])
    assert shown.exit_code == code, shown.output
    if checkpointed:
        assert f"error: train: interrupted. Fix: run the same command again to resume from {out}" in shown.stderr
    else:
        assert "error: train: interrupted before its first checkpoint" in shown.stderr, shown.output
        assert "start over" in shown.stderr and "resume" not in shown.stderr, "no checkpoint to resume from"
    signal.signal(signal.SIGINT, ignored)
    assert signal.getsignal(signal.SIGTERM) is before, "the handler is train's only while it trains"
    assert (out / CHECKPOINTS / "checkpoint-4").is_dir(), "saying so removes nothing (a resume will)"
