"""The trained folder as a Hugging Face artifact: a model card whose loading snippet runs and
scores what training reported, the tokenizer and the labelled config beside the adapter, each
head module saved once, and metrics.json's row count and digest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from huggingface_hub import ModelCard
from transformers import AutoConfig

import autopeft
from autopeft.finetune.model_card import CARD_FILE, model_card
from autopeft.finetune.recipe import Recipe
from autopeft.finetune.train import ADAPTER, METRICS_FILE, train_exported
from autopeft.spec.model_options import ModelOptions


def trained(study: Path, tmp_path: Path, trial: int = 0) -> tuple[Path, dict]:
    exported = autopeft.export_trial(study, trial, tmp_path / "export")
    out = tmp_path / "trained"
    return out, train_exported(exported, out, max_steps=4, batch_size=8, max_length=32)


def snippet(card: str) -> str:
    (code,) = re.findall(r"```python\n(.*?)```", card, flags=re.S)
    return code


def scored_by(model, tokenizer, task_spec: dict) -> dict:
    """The validation scores of ``model`` on the study's rows, tokenized by ``tokenizer``."""
    from autopeft.proxy.training import evaluate
    from autopeft.spec import DataSpec
    from autopeft.tasks import load_task_data

    data_spec = DataSpec.model_validate(task_spec)
    data = load_task_data(data_spec.source(), data_spec.make_task())
    return evaluate(model, data.task.encode(data.validation, tokenizer, 32), 16, data.task)


def test_the_trained_folder_loads_alone_as_its_model_card_says(finished_study, tmp_path, capsys):
    out, metrics = trained(finished_study, tmp_path)
    adapter = out / ADAPTER
    card = ModelCard.load(adapter / CARD_FILE)
    assert card.data.library_name == "peft" and card.data.pipeline_tag == "text-classification"
    assert {"autopeft", "lora"} <= set(card.data.tags)
    assert card.data.base_model is None, "a local base model is no Hub id: named in the text only"
    text = card.text
    assert "study `tiny`" in text and "the random sampler, 4 trials, objectives accuracy, trainable_params" in text
    assert "This is trial 0" in text
    assert f"| full training, validation (200 rows) | {metrics['validation']['accuracy']:.4f} |" in text
    assert f"trainable parameters: {metrics['trainable_params']:,}" in text

    # Beside the adapter: the tokenizer, and the base config with the task's labels.
    assert {"tokenizer.json", "tokenizer_config.json", "config.json"} <= {file.name for file in adapter.iterdir()}
    config = AutoConfig.from_pretrained(adapter)
    assert config.id2label == {0: "0", 1: "1"} and config.label2id == {"0": 0, "1": 1}
    saved = json.loads((adapter / "adapter_config.json").read_text())
    assert saved["modules_to_save"] == ["classifier"], "PEFT's ['classifier', 'classifier', 'score'], tidied"

    # The card's snippet, run as written (stock transformers and PEFT, the folder's tokenizer),
    # scores the validation rows as training did.
    namespace: dict = {}
    capsys.readouterr()  # what training printed
    exec(snippet(text), namespace)
    assert capsys.readouterr().out.strip() in {"0", "1"}, "the snippet prints the example's label"
    model, tokenizer = namespace["model"], namespace["tokenizer"]
    assert type(model).__name__ == "PeftModelForSequenceClassification"
    assert tokenizer.name_or_path == str(adapter.resolve())
    recipe = Recipe.read(tmp_path / "export")
    scores = scored_by(model, tokenizer, recipe.data.model_dump())
    assert scores["accuracy"] == metrics["validation"]["accuracy"]
    assert scores["eval_loss"] == pytest.approx(metrics["validation"]["eval_loss"], rel=1e-5)
    record = autopeft.load_study(finished_study).trials[0]
    assert metrics["trainable_params"] == record.trainable_params, "the counts are the search's"


def test_metrics_count_the_validation_rows_and_an_older_file_still_reads(finished_study, tmp_path):
    from autopeft.finetune.train import rows_digest
    from autopeft.spec import DataSpec
    from autopeft.tasks import load_task_data

    out, metrics = trained(finished_study, tmp_path)
    data_spec = DataSpec.model_validate(Recipe.read(tmp_path / "export").data.model_dump())
    validation = load_task_data(data_spec.source(), data_spec.make_task()).validation
    assert metrics["validation_rows"] == len(validation) == 200
    assert metrics["validation_digest"] == rows_digest(validation)
    # metrics.json as an older autopeft wrote it: validation_rows held the digest.
    older = {k: v for k, v in metrics.items() if k != "validation_digest"} | {
        "validation_rows": rows_digest(validation)
    }
    (out / METRICS_FILE).write_text(json.dumps(older))
    again = train_exported(tmp_path / "export", out, max_steps=4, batch_size=8, max_length=32)
    assert again["already_trained"] and again["validation_rows"] == 200
    assert again["validation_digest"] == rows_digest(validation)


def test_the_card_names_hub_ids_the_confirmation_and_the_test_split(finished_study, tmp_path):
    exported = autopeft.export_trial(finished_study, 0, tmp_path / "export")
    recipe = Recipe.read(exported)
    data = recipe.data.model_copy(update={"train": "glue", "subset": "sst2", "validation": "validation"})
    confirmed = {"metric": "accuracy", "mean": 0.81, "standard_error": 0.012, "runs": [0.8, 0.82], "seeds": [1, 2]}
    hub = "sentence-transformers/all-MiniLM-L6-v2"
    recipe = recipe.model_copy(
        update={"model": "minilm", "base_model_name_or_path": hub, "data": data, "confirmed": confirmed}
    )
    scores = {"accuracy": 0.9, "eval_loss": 0.3}
    metrics = {
        "validation": scores,
        "test": {"accuracy": 0.88, "eval_loss": 0.35},
        "test_source": "test.jsonl",
        "test_examples": 50,
        "validation_rows": 40,
        "proxy_validation": {"accuracy": 0.8},
        "steps": 10,
        "epochs": 1.0,
        "train_examples": 80,
        "batch_size": 8,
        "max_length": 32,
        "seed": 0,
        "head_seed": 0,
        "precision": "fp32",
        "trainable_params": 1602,
        "percent_of_base": 0.159,
    }
    card = model_card(recipe, ["negative", "positive"], metrics, exported, "me/my-adapter")
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2" and card.data.datasets == ["glue"]
    assert "base_model:adapter:sentence-transformers/all-MiniLM-L6-v2" in card.data.tags
    assert "| confirmed (mean ± standard error of 2 runs), validation | 0.8100 ± 0.0120 |" in card.text
    assert "| full training, test `test.jsonl` (50 rows) | 0.8800 | 0.3500 |" in card.text
    code = snippet(card.text)
    assert 'from_pretrained(\n    "sentence-transformers/all-MiniLM-L6-v2",\n    num_labels=2,\n' in code
    assert (
        'id2label={0: "negative", 1: "positive"}' in code and 'PeftModel.from_pretrained(base, "me/my-adapter")' in code
    )


def test_an_autopeft_format_folder_loads_as_its_card_says(quick_spec, tmp_path, capsys):
    quick_spec["space"] = {"method": "serial_adapter", "width": [8]}
    result = autopeft.search(quick_spec, trials=1)
    out, metrics = trained(result.study_dir, tmp_path)
    card = ModelCard.load(out / ADAPTER / CARD_FILE)
    assert "components:" in card.text and "serial_adapter" in card.data.tags
    namespace: dict = {}
    exec(snippet(card.text), namespace)
    scores = scored_by(namespace["model"], namespace["tokenizer"], quick_spec["data"])
    assert scores["eval_loss"] == pytest.approx(metrics["validation"]["eval_loss"], rel=1e-5)


def test_a_pushed_folder_is_complete_and_its_card_loads_from_the_hub_repo(finished_study, tmp_path, monkeypatch):
    import huggingface_hub

    uploaded = {}

    def upload_folder(self, repo_id, folder_path, **kwargs):
        uploaded[repo_id] = {
            file.name: file.read_text() for file in Path(folder_path).iterdir() if file.suffix == ".md"
        }
        uploaded[repo_id]["files"] = sorted(file.name for file in Path(folder_path).iterdir())

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo, **kwargs: None)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    exported = autopeft.export_trial(finished_study, 0, tmp_path / "export")
    train_exported(exported, tmp_path / "out", max_steps=2, batch_size=8, max_length=32, push_to_hub="me/my-adapter")
    pushed = uploaded["me/my-adapter"]
    assert {"README.md", "config.json", "tokenizer.json", "adapter_config.json"} <= set(pushed["files"])
    assert 'PeftModel.from_pretrained(base, "me/my-adapter")' in pushed["README.md"]
    assert 'AutoTokenizer.from_pretrained("me/my-adapter")' in pushed["README.md"]


@pytest.mark.parametrize(
    ("options", "wanted"),
    [
        ({"dtype": "bf16", "quantization": "none"}, ["import torch\n", "dtype=torch.bfloat16,"]),
        (
            {"dtype": "bf16", "quantization": "4bit"},
            [
                "from transformers import BitsAndBytesConfig\n",
                'BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4"',
            ],
        ),
    ],
    ids=["bf16", "qlora"],
)
def test_the_cards_snippet_loads_the_base_as_the_search_held_it(finished_study, tmp_path, options, wanted):
    exported = autopeft.export_trial(finished_study, 0, tmp_path / "export")
    recipe = Recipe.read(exported).model_copy(update={"model_options": ModelOptions(**options)})
    metrics = {"validation": {"accuracy": 0.9}, "steps": 4, "epochs": 1.0, "precision": "fp32"}
    metrics |= {"trainable_params": 10, "percent_of_base": 0.1, "validation_rows": 4, "seed": 0, "head_seed": 0}
    metrics |= {"proxy_validation": {"accuracy": 0.8}, "batch_size": 8, "max_length": 32, "train_examples": 100}
    code = snippet(model_card(recipe, ["negative", "positive"], metrics, exported, "me/adapter").text)
    compile(code, "card", "exec")
    assert all(piece in code for piece in wanted), code
