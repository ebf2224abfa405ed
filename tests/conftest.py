"""Shared fixtures: tiny randomly initialised models saved as folders, and the demo data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO_DATA = REPO / "examples" / "data" / "demo-sentiment"
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


@pytest.fixture()
def quick_spec(tiny_bert, tmp_path) -> dict:
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
        "study_dir": str(tmp_path / "study"),
    }
