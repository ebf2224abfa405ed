"""The proxy training loop: learns, is repeatable, and stops diverging runs with a reason."""

from __future__ import annotations

import math

import pytest
from conftest import demo_training

from autopeft.errors import TrialFailed
from autopeft.methods import build_model
from autopeft.proxy.budget import ProxyBudget
from autopeft.proxy.training import DivergenceCheck, train_proxy
from autopeft.space.base import Hyperparameters, Point


@pytest.fixture(scope="module")
def setup(tiny_bert):
    return demo_training(tiny_bert)


def point(lr: float) -> Point:
    targets = {f"bert.encoder.layer.{i}.attention.self.query": 4 for i in range(3)}
    settings = {"targets": targets, "variant": "lora", "alpha_ratio": 2.0, "dropout": 0.0}
    return Point.single("lora", settings, Hyperparameters(lr, lr))


def train(setup, lr: float, steps: int = 8):
    base, (train_split, validation), task = setup
    model = build_model(base, point(lr))
    budget = ProxyBudget(steps=steps, batch_size=8, eval_examples=64)
    return train_proxy(model, train_split, validation, point(lr).hyperparameters, budget, seed=3, task=task)


def test_same_seed_same_result(setup):
    first, second = train(setup, 1e-3).metrics, train(setup, 1e-3).metrics
    assert first.pop("throughput") > 0 and second.pop("throughput") > 0  # wall-clock: differs run to run
    assert first == second


def test_learning_rate_1e3_fails_with_reason(setup):
    with pytest.raises(TrialFailed, match="training diverged: loss rose from .* \\(lower the learning rate\\)"):
        train(setup, 1e3, steps=30)


def test_divergence_check_ignores_one_spike_but_not_a_blow_up():
    check = DivergenceCheck()
    for step, loss in enumerate([0.7, 0.6, 5.0, 0.6, 0.5]):
        check(step, loss)  # one noisy batch is not divergence
    with pytest.raises(TrialFailed, match="loss became nan"):
        DivergenceCheck()(0, math.nan)
    blowing_up = DivergenceCheck()
    with pytest.raises(TrialFailed):
        for step, loss in enumerate([0.7, 20.0, 40.0, 80.0, 160.0]):
            blowing_up(step, loss)
