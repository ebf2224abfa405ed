"""Denoised scores: a GP's posterior mean pools a configuration's one noisy score with its
neighbours', so a lucky outlier no longer tops the ranking."""

from __future__ import annotations

import numpy as np
from optuna.distributions import FloatDistribution

from autopeft.optim.denoise import posterior_means


def test_a_lucky_score_is_pulled_towards_its_neighbours():
    rng = np.random.default_rng(1)
    xs = np.linspace(0.0, 1.0, 20)
    scores = 0.6 + 0.2 * xs + rng.normal(0, 0.03, len(xs))  # the best configurations are at x = 1
    scores[6] = scores.max() + 0.05  # one lucky run a third of the way along
    params = [{"x": float(x)} for x in xs]
    means = posterior_means(params, scores, {"x": FloatDistribution(0.0, 1.0)})
    assert int(np.argmax(scores)) == 6
    assert means[6] < scores[6] - 0.05  # shrunk towards its neighbours
    assert int(np.argmax(means)) >= 15  # the favourite is at the good end again


def test_too_few_or_equal_scores_come_back_as_they_are():
    space = {"x": FloatDistribution(0.0, 1.0)}
    few = posterior_means([{"x": 0.1}, {"x": 0.9}], [0.5, 0.7], space)
    assert list(few) == [0.5, 0.7]
    flat = posterior_means([{"x": v} for v in (0.1, 0.3, 0.5, 0.7)], [0.5] * 4, space)
    assert list(flat) == [0.5] * 4
