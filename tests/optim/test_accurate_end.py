"""mobo where users look (issue 38): a surrogate that learns the learning rates among hundreds of
placement bits, and turns that seek the most accurate configuration."""

from __future__ import annotations

import math

import numpy as np
import optuna
import torch
from scipy.stats import spearmanr

import autopeft.optim.denoise as denoise_module
import autopeft.optim.mobo as mobo_module
from autopeft.optim.mobo import MoboSampler
from autopeft.optim.param_encoding import SpaceEncoder
from autopeft.optim.surrogate import WarmStartedGP
from autopeft.testing.synthetic_placement import PlacementProblem

PROBLEM = PlacementProblem("bert", seed=201)  # 72 placement bits, 12 ranks, 2 learning rates


def placement_study(sampler: optuna.samplers.BaseSampler, trials: int) -> optuna.Study:
    """(accuracy, log10(1 + params)), maximized and minimized, as the optimizer benchmark runs it."""
    rng = np.random.default_rng(0)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    for _ in range(trials):
        trial = study.ask()
        accuracy, count = PROBLEM.evaluate(PROBLEM.suggest(trial), rng)
        study.tell(trial, [accuracy, math.log10(1 + count)])
    return study


def held_out_spearman(apart: bool) -> float:
    """Fitted on 20 random trials, how the posterior mean ranks 200 unseen random configurations
    against their true accuracy."""
    trials = placement_study(optuna.samplers.RandomSampler(seed=201), 220).trials
    encoder = SpaceEncoder(trials[0].distributions)
    X = encoder.encode_many([t.params for t in trials])
    y = torch.tensor([t.values[0] for t in trials[:20]], dtype=torch.double)
    gp = WarmStartedGP().fit(X[:20], y, apart=encoder.continuous_columns if apart else ())
    predicted = gp.posterior(X[20:]).mean.detach().squeeze(-1).numpy()
    return float(spearmanr(predicted, [PROBLEM.true_accuracy(t.params) for t in trials[20:]])[0])


def test_the_learning_rates_kernel_apart_learns_what_one_kernel_over_all_cannot():
    assert held_out_spearman(apart=True) > 0.7
    assert held_out_spearman(apart=False) < 0.4, "one kernel over 86 dimensions: every point is far"


def test_mobo_and_the_denoised_scores_fit_the_learning_rates_apart(monkeypatch):
    fitted = []
    original = WarmStartedGP.fit

    def spy(self, X, y, apart=()):
        fitted.append(list(apart))
        return original(self, X, y, apart)

    monkeypatch.setattr(WarmStartedGP, "fit", spy)
    study = placement_study(MoboSampler(seed=0, n_startup_trials=5), 6)
    encoder = SpaceEncoder(study.trials[0].distributions)
    rates = [c.start for c in encoder.coordinates if c.name.endswith("learning_rate")]
    assert len(rates) == 2 and fitted and all(apart == rates for apart in fitted)
    fitted.clear()
    done = study.trials
    denoise_module.posterior_means([t.params for t in done], [t.values[0] for t in done], done[0].distributions)
    assert fitted == [rates]


def test_every_third_suggestion_after_the_start_seeks_the_accurate_end(monkeypatch):
    def objectives_per_suggestion(metric_every: int | None) -> list[int]:
        seen = []
        original = mobo_module.make_acquisition

        def spy(model, X, Y, X_pending, **kwargs):
            seen.append(Y.shape[-1])
            return original(model, X, Y, X_pending, **kwargs)

        monkeypatch.setattr(mobo_module, "make_acquisition", spy)
        known = {1: lambda params: math.log10(1 + PROBLEM.trainable_parameters(params))}
        sampler = MoboSampler(seed=0, n_startup_trials=4, known_objectives=known, metric_every=metric_every)
        placement_study(sampler, 10)
        return seen

    assert objectives_per_suggestion(3) == [2, 2, 1, 2, 2, 1], "hypervolume twice, then the metric alone"
    assert objectives_per_suggestion(None) == [2] * 6


def test_local_moves_change_the_learning_rates_as_often_as_the_placement():
    """Drawn uniformly among 100 placement bits and 2 rates, a move would touch a rate 3% of the time."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    space = {f"bit{i}": CategoricalDistribution([False, True]) for i in range(100)}
    space |= {name: FloatDistribution(1e-4, 1e-2, log=True) for name in ("learning_rate", "head_learning_rate")}
    encoder = SpaceEncoder(space)
    start = encoder.random(1, np.random.default_rng(0))
    moved = encoder.neighbors(start, 400, np.random.default_rng(1))
    rates = encoder.continuous_columns
    changed = np.abs(moved[:, rates] - start[:, rates]).max(axis=1) > 1e-9
    bits = [c for c in range(encoder.dim) if c not in rates]
    flipped = np.abs(moved[:, bits] - start[:, bits]).max(axis=1) > 0
    assert 0.35 < changed.mean() < 0.65 and 0.35 < flipped.mean() < 0.65
