"""Shared fixtures: tiny randomly initialised models saved as folders, the demo data, and one
finished tiny study (searched once a session, copied for each test that reads it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO_DATA = REPO / "examples" / "data" / "demo-sentiment"
# The demo rows with a held-out test split (the demo's validation file), the study's validation
# rows cut from train: what `autopeft train --test` scores.
DEMO_WITH_TEST = {
    "train": str(DEMO_DATA / "train.jsonl"),
    "validation_fraction": 0.2,
    "test": str(DEMO_DATA / "validation.jsonl"),
    "text": "sentence",
    "label": "label",
}
SHARED_DATA = REPO.parent / "shared" / "data"


def save_tiny_classifier(folder: Path, config) -> Path:
    """Save a randomly initialised classifier built from ``config`` with MiniLM's tokenizer."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from autopeft.models import resolve_model_path

    torch.manual_seed(0)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(resolve_model_path("minilm")).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    from transformers import BertConfig

    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=2,
    )
    return save_tiny_classifier(tmp_path_factory.mktemp("tiny-bert"), config)


def quick_spec_for(tiny_bert: Path, study_dir: Path) -> dict:
    """A spec mapping for a seconds-long study on the tiny BERT and the demo data."""
    return {
        "name": "tiny",
        "model": str(tiny_bert),
        "data": {
            "train": str(DEMO_DATA / "train.jsonl"),
            "validation": str(DEMO_DATA / "validation.jsonl"),
            "text": "sentence",
            "label": "label",
        },
        "space": {"modules": ["q", "v"], "rank": [2, 4]},
        "budget": {"steps": 4, "batch_size": 8, "max_length": 32, "eval_examples": 32},
        "trials": 3,
        "sampler": "random",
        "confirm": False,  # on by default; the confirmation stage's own tests turn it on
        "study_dir": str(study_dir),
    }


@pytest.fixture()
def quick_spec(tiny_bert, tmp_path) -> dict:
    return quick_spec_for(tiny_bert, tmp_path / "study")


def write_spec(spec: dict, folder: Path) -> Path:
    """The spec as the YAML file a user would hand to `autopeft search`."""
    import yaml

    spec_file = folder / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    return spec_file


@pytest.fixture(scope="session")
def tiny_study_searched_once(tiny_bert, tmp_path_factory) -> Path:
    """A study made by `autopeft search` (4 trials, one reference; importance scores with
    nothing switched off), with its report: searched once, read through `finished_study`."""
    from typer.testing import CliRunner

    from autopeft.cli import app
    from autopeft.results.html import REPORT_FILE

    folder = tmp_path_factory.mktemp("searched-once")
    spec = quick_spec_for(tiny_bert, folder / "study")
    lora = {"method": "lora", "modules": ["q", "v"], "rank": 4, "learning_rate": 1e-3, "head_learning_rate": 1e-2}
    spec["references"] = {"lora-r4-qv": lora}
    spec["importance"] = {"keep": 1.0, "batches": 2, "head_warmup_steps": 2}
    spec["space"] = {"modules": ["q", "v"], "rank": [2, 4], "per_layer_rank": True}
    spec["space"]["learning_rate"] = {"low": 1e-3, "high": 1e-1, "log": True}  # accuracies that differ
    spec["budget"]["steps"] = 30
    ran = CliRunner().invoke(app, ["search", str(write_spec(spec, folder)), "--trials", "4"])
    assert ran.exit_code == 0, ran.output
    study = Path(spec["study_dir"])
    assert f"report: {study / REPORT_FILE}" in ran.stderr
    return study


@pytest.fixture()
def finished_study(tiny_study_searched_once, tmp_path) -> Path:
    """A copy of the finished tiny study for this test alone, which it may damage."""
    return Path(shutil.copytree(tiny_study_searched_once, tmp_path / "finished-study"))


def demo_training(tiny_bert: Path, **model_options) -> tuple:
    """(base model, [encoded train, encoded validation], task): the tiny BERT with a fresh
    seeded head over the demo data, for tests of the proxy training loop."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from autopeft.data.source import DataSource
    from autopeft.models.loading import load_tokenizer
    from autopeft.tasks import load_task_data, task_for

    source = DataSource(train=str(DEMO_DATA / "train.jsonl"), validation=str(DEMO_DATA / "validation.jsonl"))
    data = load_task_data(source, task_for("classification"))
    tokenizer = load_tokenizer(str(tiny_bert))
    torch.manual_seed(0)
    base = AutoModelForSequenceClassification.from_pretrained(str(tiny_bert), num_labels=2, **model_options)
    splits = [data.task.encode(split, tokenizer, 32) for split in (data.train, data.validation)]
    return base, splits, data.task
