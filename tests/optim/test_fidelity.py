"""Multi-objective successive halving: rungs, non-dominated ranking, promotion."""

from __future__ import annotations

import numpy as np

from autopeft.optim.fidelity import SuccessiveHalving, best_k, hypervolume_contributions, non_dominated_ranks

Y = np.array([[0.9, -5.0], [0.8, -4.0], [0.7, -3.0], [0.6, -4.5], [0.85, -4.5], [0.5, -6.0]])


def test_rungs_are_geometric_and_end_at_the_budget():
    assert SuccessiveHalving(eta=3, min_fraction=1 / 9).rungs(90) == [10, 30, 90]
    assert SuccessiveHalving(eta=2, min_fraction=0.25).rungs(100) == [25, 50, 100]
    assert SuccessiveHalving(eta=3, min_fraction=1 / 9).rungs(4) == [1, 4]


def test_non_dominated_ranks():
    assert non_dominated_ranks(Y).tolist() == [0, 0, 0, 1, 0, 2]


def test_best_k_fills_by_rank_then_hypervolume_contribution():
    # Five non-dominated points and one dominated: the balanced point (0.5, 0.5) adds the most
    # hypervolume, the extremes next to a near-extreme the least (reference inferred from the set).
    Y = np.array([[0.9, 0.1], [1.0, 0.0], [0.1, 0.9], [0.0, 1.0], [0.5, 0.5], [0.2, 0.2]])
    np.testing.assert_allclose(hypervolume_contributions(Y[:5]), [0.04, 0.01, 0.04, 0.01, 0.16], atol=1e-9)
    assert best_k(Y, 1).tolist() == [4], "the largest contribution first, not the first row"
    assert set(best_k(Y, 3)) == {4, 0, 2}
    assert set(best_k(Y, 5)) == {0, 1, 2, 3, 4}, "the whole front before any dominated row"
    assert set(best_k(Y, 6)) == set(range(6))


def test_promotion_keeps_the_top_third():
    schedule = SuccessiveHalving(eta=3)
    assert schedule.should_continue(np.array([0.95, -3.0]), Y), "dominates everything"
    assert not schedule.should_continue(np.array([0.4, -7.0]), Y), "dominated by everything"
    assert schedule.should_continue(np.array([0.1, -9.0]), Y[:1]), "too few scores to judge"
