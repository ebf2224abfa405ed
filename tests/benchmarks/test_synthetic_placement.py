"""The optimizer benchmark's placement problems: real models' dimensions and exact LoRA counts,
canonical forms, and the noise and rung fidelity measured on SST-2."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from autopeft.testing.synthetic_placement import NOISE, PlacementProblem, random_points, rung_fidelity


def _all_on(problem: PlacementProblem, rank: int) -> dict:
    params = {f"L{layer}.{role}": True for layer in range(problem.shapes.layers) for role in problem.roles}
    params |= {f"L{layer}.rank": rank for layer in range(problem.shapes.layers)}
    return params | {"learning_rate": 1e-3, "head_learning_rate": 5e-3}


def test_the_families_have_real_models_dimensions_and_exact_counts():
    llm, bert = PlacementProblem("llm", 0), PlacementProblem("bert", 0)
    assert (llm.dimensions, bert.dimensions) == (258, 86)
    d, ffn = 4096, 11008  # Llama-2-7B, as tests/models/test_meta.py counts it on the meta device
    assert llm.trainable_parameters(_all_on(llm, 8)) == 32 * 8 * (4 * (d + d) + 2 * (d + ffn) + (ffn + d))
    d, ffn = 768, 3072  # BERT-base
    assert bert.trainable_parameters(_all_on(bert, 4)) == 12 * 4 * (4 * 2 * d + 2 * (d + ffn))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    assert len(bert.suggest(study.ask())) == 86


def test_unused_ranks_are_canonical_and_accuracy_rewards_placement():
    problem = PlacementProblem("bert", 3)
    none = _all_on(problem, 4) | {f"L{layer}.{role}": False for layer in range(12) for role in problem.roles}
    assert problem.canonical_params(none | {"L0.rank": 32}) == problem.canonical_params(none)
    assert problem.true_values(none) == (0.5, 0)
    assert problem.true_accuracy(_all_on(problem, 16)) > problem.true_accuracy(_all_on(problem, 2)) > 0.5
    far_rate = _all_on(problem, 16) | {"learning_rate": 1e-4 if problem.rate_optimum > -3 else 1e-2}
    assert problem.true_accuracy(far_rate) < problem.true_accuracy(_all_on(problem, 16))


def test_noise_and_rung_fidelity_follow_the_sst2_measurements():
    problem = PlacementProblem("bert", 101)
    point = random_points(problem, 1)[0]
    rng = np.random.default_rng(0)
    observed = [problem.evaluate(point, rng)[0] for _ in range(400)]
    assert np.std(observed) == pytest.approx(NOISE, rel=0.15)
    assert 0.45 < rung_fidelity(problem) < 0.8
