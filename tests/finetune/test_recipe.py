"""The typed recipe: what export writes reads back as written, recipes older exports wrote still
read and train, and a damaged one is one line naming the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
import yaml

import autopeft
from autopeft.finetune.recipe import RECIPE_FILE, LrSchedule, Recipe
from autopeft.finetune.train import train_exported
from autopeft.methods.registry import definitions
from autopeft.store.study import StudyStore

# Every key a recipe.yaml of today holds (a trial's: a reference's names `reference` instead).
TODAYS_KEYS = [
    *("study", "study_name", "tracking", "trial", "model", "model_options", "base_model_name_or_path"),
    *("base_model_local_path", "data"),
    *("labels", "method"),
    *("adapter_config", "hyperparameters", "proxy_budget", "seed", "head_seed", "data_seed", "measured", "confirmed"),
    "search",
    *("task", "id2label", "label2id"),
]


def export_lora(quick_spec, tmp_path):
    quick_spec["space"] = {"method": "lora", "modules": ["q"], "rank": [2]}
    quick_spec["seed"] = 7
    autopeft.search(quick_spec, trials=1)
    return autopeft.export_trial(quick_spec["study_dir"], 0, tmp_path / "export")


def test_an_exported_recipe_reads_back_as_written(quick_spec, tmp_path):
    exported = export_lora(quick_spec, tmp_path)
    written = (exported / RECIPE_FILE).read_text()
    assert list(yaml.safe_load(written)) == TODAYS_KEYS
    spec = StudyStore.open(quick_spec["study_dir"], read_only=True).spec
    assert yaml.safe_load(written)["data"] == spec.data.model_dump(exclude_none=True), "the data as the spec gave it"

    recipe = Recipe.read(exported)
    assert (recipe.trial, recipe.reference, recipe.seed, recipe.head_seed, recipe.data_seed) == (0, None, 7, 7, 7)
    assert recipe.adapter_config == "adapter_config.json" and recipe.hyperparameters.lr_schedule == "linear"
    assert recipe.id2label == {0: "0", 1: "1"} and recipe.label2id == {"0": 0, "1": 1}
    assert recipe.search is not None and (recipe.search.name, recipe.search.sampler) == ("tiny", "random")
    assert recipe.search.objectives == ["accuracy", "trainable_params"]
    assert recipe.task == "classification" and recipe.study_name == "tiny" and recipe.tracking is None
    again = tmp_path / "again"
    again.mkdir()
    assert recipe.write(again).read_text() == written, "reading and writing changes nothing"
    assert Recipe.read(again) == recipe


# As the first exports wrote it (c2d3f22): no labels, adapter config name, task, local path or seeds but one.
FIRST_FORMAT = """\
study: {study}
trial: 0
model: {model}
base_model_name_or_path: {model}
data: {{train: {train}, validation: {validation}, text: sentence, label: label}}
method: lora
hyperparameters: {{learning_rate: 0.001, head_learning_rate: 0.01, lr_schedule: linear, warmup_ratio: 0.06,
  weight_decay: 0.0, max_grad_norm: 1.0, optimizer: adamw}}
proxy_budget: {{steps: 4, batch_size: 8, max_length: 32, eval_examples: 32, warmup_ratio: 0.06, weight_decay: 0.0}}
seed: 3
measured: {{accuracy: 0.5, trainable_params: 100, percent_of_base: 0.01}}
"""

# As exports wrote it from a0ddbc1 to 78547a1: data_seed and labels, but no head_seed.
BEFORE_HEAD_SEED = FIRST_FORMAT.replace("seed: 3\n", "seed: 3\ndata_seed: 3\n").replace(
    "method: lora\n",
    "task: classification\nlabels: ['0', '1']\nmethod: lora\nadapter_config: adapter_config.json\n",
)


@pytest.mark.parametrize("old_format", [FIRST_FORMAT, BEFORE_HEAD_SEED], ids=["first", "before-head-seed"])
def test_a_recipe_an_older_export_wrote_still_reads_and_trains(quick_spec, tmp_path, old_format):
    exported = export_lora(quick_spec, tmp_path)  # for its adapter_config.json
    data = quick_spec["data"]
    old = old_format.format(
        study=quick_spec["study_dir"], model=quick_spec["model"], train=data["train"], validation=data["validation"]
    )
    (exported / RECIPE_FILE).write_text(old)

    recipe = Recipe.read(exported)
    assert (recipe.seed, recipe.head_seed, recipe.data_seed) == (3, 3, 3), "the trial's seed seeded them all"
    assert recipe.base_model_local_path == recipe.base_model_name_or_path == quick_spec["model"]
    assert recipe.proxy_budget.precision == "auto"
    assert recipe.study_name == "study", "the study folder's name, as `autopeft search` names it by default"
    budget = recipe.proxy_budget
    assert (budget.gradient_accumulation, budget.gradient_checkpointing) == (1, False), "as budgets before them trained"
    metrics = train_exported(exported, tmp_path / "trained", max_steps=1, batch_size=8, max_length=32)
    assert metrics["steps"] == 1 and metrics["seed"] == metrics["head_seed"] == 3
    assert metrics["precision"] == "fp32" and metrics["proxy_validation"] == {"accuracy": 0.5}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda r: r["hyperparameters"].pop("learning_rate"), "lacks hyperparameters.learning_rate. Fix: export"),
        (lambda r: r.pop("model"), "lacks model. Fix: export the configuration again"),
        (lambda r: r.update(seed="three"), ": seed: Input should be a valid integer"),
        (lambda r: r["data"].update(txet="sentence"), ": data.txet: unknown key"),
        (lambda r: r["data"].pop("validation"), ": data: give `validation` (a file or split) or `validation_fraction`"),
        (lambda r: r["hyperparameters"].update(learning_rate=-1.0), ": hyperparameters.learning_rate: Input should be"),
        (lambda r: r["model_options"].update(dtype="bf61"), ": model_options.dtype: Input should be 'auto'"),
        (lambda r: r["model_options"].update(dtyp="bf16"), ": model_options.dtyp: unknown key"),
        (lambda r: r["hyperparameters"].update(lr_schedule="cosine_with_magic"), ": hyperparameters.lr_schedule: "),
        (
            lambda r: r["hyperparameters"].update(optimizer="sgd"),
            ": hyperparameters.optimizer: Input should be 'adamw'",
        ),
        (lambda r: r["proxy_budget"].update(gradient_accumulation="four"), ": proxy_budget.gradient_accumulation: "),
        (lambda r: r["proxy_budget"].update(gradient_accumulation=-2), ": proxy_budget.gradient_accumulation: "),
        (lambda r: r["proxy_budget"].update(gradient_checkpointing="maybe"), ": proxy_budget.gradient_checkpointing: "),
    ],
    ids=[
        *("nested-key", "key", "wrong-value", "unknown-data-key", "data-check", "negative-rate", "dtype"),
        *("options-key", "schedule", "optimizer", "accumulation-word", "accumulation-negative", "checkpointing"),
    ],
)
def test_a_damaged_recipe_is_one_line_naming_the_file_and_the_key(quick_spec, tmp_path, damage, message):
    exported = export_lora(quick_spec, tmp_path)
    file = exported / RECIPE_FILE
    recipe = yaml.safe_load(file.read_text())
    damage(recipe)
    file.write_text(yaml.safe_dump(recipe, sort_keys=False))
    with pytest.raises(autopeft.AutopeftError) as raised:
        Recipe.read(exported)
    shown = str(raised.value)
    assert "\n" not in shown and str(file) in shown and message in shown, shown


def test_a_recipe_key_this_version_does_not_read_is_named_not_silently_dropped(quick_spec, tmp_path, caplog):
    exported = export_lora(quick_spec, tmp_path)
    file = exported / RECIPE_FILE
    recipe = yaml.safe_load(file.read_text())
    recipe["model_option"] = recipe.pop("model_options")  # a typo: bf16 would be lost without a word
    recipe["hyperparameters"]["momentum"] = 0.9  # a newer autopeft's key, or a hope that SGD trains
    recipe["proxy_budget"]["gradient_checkpionting"] = True
    file.write_text(yaml.safe_dump(recipe, sort_keys=False))
    assert Recipe.read(exported).model_options is None
    unread = "model_option, hyperparameters.momentum, proxy_budget.gradient_checkpionting"
    assert f"{file}: {unread} not read by this autopeft" in caplog.text
    caplog.clear()
    Recipe.read(export_lora(quick_spec | {"study_dir": str(tmp_path / "other")}, tmp_path / "clean"))
    assert "not read" not in caplog.text, "a recipe as export writes it has no such key"


def test_a_relative_data_path_in_a_recipe_starts_at_the_export_folder(quick_spec, tmp_path, monkeypatch):
    exported = export_lora(quick_spec, tmp_path)
    file = exported / RECIPE_FILE
    recipe = yaml.safe_load(file.read_text())
    (exported / "rows.jsonl").write_bytes(Path(recipe["data"]["train"]).read_bytes())
    recipe["data"]["train"] = "./rows.jsonl"  # beside the recipe, as a spec's paths start at its folder
    file.write_text(yaml.safe_dump(recipe, sort_keys=False))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert Recipe.read(exported).data.train == str((exported / "rows.jsonl").resolve())


@pytest.mark.parametrize("schedule", get_args(LrSchedule))
def test_every_schedule_a_recipe_accepts_trains_with_transformers(tmp_path, schedule):
    """No schedule is accepted that would fail once training starts (one that needs scheduler
    arguments or an evaluation strategy)."""
    import torch
    from transformers import get_scheduler

    from autopeft.finetune.recipe import RecipeBudget, RecipeHyperparameters
    from autopeft.finetune.trainer import TrainOptions, training_arguments

    hp = RecipeHyperparameters(
        learning_rate=1e-3, head_learning_rate=1e-3, lr_schedule=schedule, warmup_ratio=0.1,
        weight_decay=0.0, max_grad_norm=1.0, optimizer="adamw",
    )  # fmt: skip
    budget = RecipeBudget(precision="fp32")
    args = training_arguments(hp, TrainOptions(max_steps=10), tmp_path, 0, torch.device("cpu"), torch.float32, budget)
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])
    get_scheduler(args.lr_scheduler_type, optimizer, num_warmup_steps=1, num_training_steps=10).step()


def test_a_quoted_no_does_not_turn_gradient_checkpointing_on(quick_spec, tmp_path):
    exported = export_lora(quick_spec, tmp_path)
    file = exported / RECIPE_FILE
    recipe = yaml.safe_load(file.read_text())
    recipe["proxy_budget"] |= {"gradient_checkpointing": "no", "gradient_accumulation": 2}
    file.write_text(yaml.safe_dump(recipe, sort_keys=False))
    budget = Recipe.read(exported).proxy_budget
    assert budget.gradient_checkpointing is False and budget.gradient_accumulation == 2


def test_a_recipe_method_the_adapter_config_does_not_build_is_refused_before_training(quick_spec, tmp_path):
    exported = export_lora(quick_spec, tmp_path)
    file = exported / RECIPE_FILE
    recipe = yaml.safe_load(file.read_text())
    recipe["method"] = "ia3"  # the folder's adapter_config.json is LoRA's: LoRA would train under IA3's name
    file.write_text(yaml.safe_dump(recipe, sort_keys=False))
    with pytest.raises(autopeft.AutopeftError) as raised:
        train_exported(exported, tmp_path / "trained", max_steps=1, batch_size=8, max_length=32)
    shown = str(raised.value)
    assert f"{file}: method: ia3, but adapter_config.json configures lora. Fix: export the configuration again" in shown
    assert not (tmp_path / "trained").exists(), "refused before anything is written"


@pytest.mark.parametrize("method", [d.name for d in definitions()])
def test_every_method_passes_its_own_method_check_and_no_other(quick_spec, tmp_path, method):
    """The check reads a stock adapter_config.json's peft_type in autopeft's name for it (PEFT's
    LN_TUNING is layernorm), and autopeft's own configuration file's point: an export of any
    method trains, none is refused; a recipe naming another method is."""
    quick_spec["space"] = {"method": method}
    quick_spec["sampler"] = "random"
    autopeft.search(quick_spec, trials=1)
    exported = autopeft.export_trial(quick_spec["study_dir"], 0, tmp_path / "export")
    recipe = Recipe.read(exported)
    assert recipe.method == method
    recipe.check_method(exported)
    other = "bias" if method != "bias" else "lora"
    with pytest.raises(autopeft.AutopeftError, match=f"method: {other}, but .* configures {method}"):
        recipe.model_copy(update={"method": other}).check_method(exported)
