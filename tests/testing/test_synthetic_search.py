"""A synthetic problem searched by the real SearchLoop with successive halving: the loop's
board stops trials at the first rung, the store keeps their rung scores, and the search ends
when the budget of full trainings is spent (what benchmarks/optimizer.py's multi-fidelity
figures rest on)."""

from __future__ import annotations

from autopeft.store.study import StudyStore
from autopeft.testing.synthetic import SyntheticPeftProblem
from autopeft.testing.synthetic_search import search_with_halving

STEPS, BUDGET = 9, 5.0  # rungs at 3 and 9 steps; five full trainings' worth


def test_a_synthetic_search_halves_through_the_loop_until_its_budget_is_spent(tmp_path):
    problem = SyntheticPeftProblem(seed=0)
    reference = {"accuracy": 0.5, "trainable_params": float(-problem.reference_point[1])}
    finished = search_with_halving(problem, 7, BUDGET, STEPS, tmp_path / "study", reference)

    store = StudyStore.open(tmp_path / "study", read_only=True)
    records = [r for r in store.records() if r.state in ("complete", "pruned")]
    spent = sum(r.steps / STEPS for r in records)
    assert BUDGET - 3 / STEPS < spent <= BUDGET + 1e-9, "stops when the next first rung no longer fits"
    assert finished == [r.params for r in records if r.state == "complete"] and finished
    stopped_at_first_rung = [r for r in records if r.state == "pruned" and r.steps == 3]
    assert len(stopped_at_first_rung) >= 2, "the loop's board stops trials (a cut by the budget stops one at most)"
    assert len(store.rung_scores()["3"]) == len(records), "every trial's first-rung scores are in the store"
