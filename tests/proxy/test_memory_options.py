"""Less memory, same training: gradient accumulation splits a step's batch into micro-batches
with the same losses and updates (within float noise); gradient checkpointing recomputes
activations and trains the same way."""

from __future__ import annotations

import pytest
from conftest import demo_training

from autopeft.errors import SpecError
from autopeft.methods import build_model
from autopeft.proxy.budget import ProxyBudget
from autopeft.proxy.training import train_proxy
from autopeft.space.base import Hyperparameters, Point
from autopeft.spec import parse_spec


@pytest.fixture(scope="module")
def setup(tiny_bert):
    # No dropout: its masks are drawn per forward pass, so micro-batches would draw other ones.
    return demo_training(tiny_bert, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def losses(setup, **budget) -> tuple[list[float], float]:
    base, (train_split, validation), task = setup
    targets = {f"bert.encoder.layer.{i}.attention.self.query": 4 for i in range(3)}
    settings = {"targets": targets, "variant": "lora", "alpha_ratio": 2.0, "dropout": 0.0}
    point = Point.single("lora", settings, Hyperparameters(3e-3, 3e-3))
    seen: list[float] = []
    result = train_proxy(
        build_model(base, point),
        train_split,
        validation,
        point.hyperparameters,
        ProxyBudget(steps=6, batch_size=8, eval_examples=64, **budget),
        seed=3,
        task=task,
        on_step=lambda step, loss: seen.append(loss),
    )
    return seen, result.metrics["eval_loss"]


@pytest.mark.parametrize("options", [{"gradient_accumulation": 4}, {"gradient_checkpointing": True}])
def test_less_memory_trains_the_same_steps(setup, options):
    whole, whole_eval = losses(setup)
    other, other_eval = losses(setup, **options)
    assert other == pytest.approx(whole, rel=1e-4, abs=1e-5)
    assert other_eval == pytest.approx(whole_eval, rel=1e-4)


def test_micro_batches_must_fit_the_batch():
    with pytest.raises(SpecError, match="budget: .*gradient_accumulation 9 splits a batch of 8"):
        parse_spec(
            {
                "data": {"train": "t.jsonl", "validation_fraction": 0.2},
                "budget": {"batch_size": 8, "gradient_accumulation": 9},
            }
        )


def test_checkpointing_is_switched_on_when_asked(setup, monkeypatch):
    """Non-reentrant, under the installed transformers' name (the old one is a FutureWarning)."""
    import warnings

    from transformers import PreTrainedModel

    name = next(
        n for n in ("activation_checkpointing_enable", "gradient_checkpointing_enable") if hasattr(PreTrainedModel, n)
    )
    calls = []
    original = getattr(PreTrainedModel, name)
    monkeypatch.setattr(PreTrainedModel, name, lambda self, **k: calls.append(k) or original(self, **k))
    losses(setup)
    assert calls == []
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ".*checkpointing.*deprecated", FutureWarning)
        losses(setup, gradient_checkpointing=True)
    assert [next(iter(k.values())) for k in calls] == [{"use_reentrant": False}]
