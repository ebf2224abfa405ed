"""A synthetic problem searched by the real search loop, with successive halving.

Benchmarks compare samplers and schedules on problems whose true values are known
(``autopeft.testing.synthetic``, ``autopeft.testing.synthetic_placement``). Driving them
through ``SearchLoop`` keeps the benchmark honest: the study store, the loop's ``RungBoard``
and the sampler the loop builds are the ones a search uses. Only the training is a stand-in:
``RungScoredTrials`` scores the problem at each rung, as a training would, and stops the
loop when a budget of full trainings' worth of steps is spent.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np
import optuna

from autopeft.driver.loop import SearchLoop
from autopeft.driver.prepare import PreparedStudy
from autopeft.executors.base import Executor, Judge, TrialRequest, TrialResult
from autopeft.optim.fidelity import SuccessiveHalving
from autopeft.proxy.trial import TrialOutcome
from autopeft.space.base import Hyperparameters, Point
from autopeft.spec import StudySpec, parse_spec
from autopeft.store.study import StudyStore

METHOD = "synthetic"  # the one component of a synthetic point; its settings are the problem's parameters


class ScoredProblem(Protocol):
    """What a synthetic problem offers: its own parameters, and noisy scores at a fraction of the steps."""

    def suggest(self, trial: optuna.Trial) -> dict: ...

    def trainable_parameters(self, params: dict) -> int: ...

    def canonical_params(self, params: dict) -> dict: ...

    def evaluate(self, params: dict, rng: np.random.Generator, fraction: float = 1.0) -> tuple[float, int]: ...


class BudgetSpent(Exception):
    """Raised by ``RungScoredTrials`` to end the loop: the next trial's first rung would overspend."""


class ProblemSpace:
    """The problem's parameters as the search space a ``SearchLoop`` asks (every point trains)."""

    arch = SimpleNamespace(head_modules=())  # no model, so no task head

    def __init__(self, problem: ScoredProblem) -> None:
        self.problem = problem

    def sample(self, trial: optuna.Trial) -> Point:
        return Point.single(METHOD, self.problem.suggest(trial), Hyperparameters(0.0, 0.0))

    def unused_params(self, params: dict[str, Any]) -> list[str]:
        return []

    def trainable_parameters(self, params: dict[str, Any]) -> int:
        return self.problem.trainable_parameters(params)

    def is_buildable(self, params: dict[str, Any]) -> bool:
        return True

    def canonical_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.problem.canonical_params(params)


class RungScoredTrials(Executor):
    """Scores each trial's point at the loop's rungs with the problem's noise, asking the loop's
    ``judge`` at each rung before the last, until ``budget`` full trainings' worth of steps is
    spent: a trial the budget cannot finish stops early at its last rung."""

    def __init__(
        self, problem: ScoredProblem, rng: np.random.Generator, rungs: list[int], judge: Judge, budget: float
    ) -> None:
        self.problem, self.rng, self.rungs, self.judge, self.budget = problem, rng, rungs, judge, budget
        self.used = 0.0  # full trainings' worth of steps spent
        self._queue: list[TrialRequest] = []

    def submit(self, request: TrialRequest) -> None:
        self._queue.append(request)

    def wait(self) -> list[TrialResult]:
        request = self._queue.pop(0)
        steps = self.rungs[-1]
        if self.used + self.rungs[0] / steps > self.budget:
            raise BudgetSpent
        params = request.point.components[0].settings
        scores: dict[str, dict[str, float]] = {}
        trained = 0.0
        for step in self.rungs:
            if self.used + step / steps - trained > self.budget:
                break
            accuracy, count = self.problem.evaluate(params, self.rng, step / steps)
            self.used += step / steps - trained
            trained = step / steps
            measurements = {"accuracy": accuracy, "trainable_params": float(count)}
            if step == steps:
                return [TrialResult(request.number, _outcome(measurements, count, step), rungs=scores)]
            scores[str(step)] = measurements
            if not self.judge(step, measurements):
                break
        last = max(scores, key=int)
        return [TrialResult(request.number, _outcome(scores[last], count, int(last), True), rungs=scores)]


def _outcome(measurements: dict[str, float], count: int, steps: int, stopped_early: bool = False) -> TrialOutcome:
    return TrialOutcome(measurements, count, 0.0, 0.0, steps, stopped_early)


def halving_spec(name: str, seed: int, budget: float, steps: int, folder: Path) -> StudySpec:
    """A mobo study with successive halving at its defaults, room for as many trials as
    ``budget`` full trainings pay for, and the first trial drawn by the sampler."""
    halving = SuccessiveHalving()
    schedule = {"eta": halving.eta, "min_fraction": halving.min_fraction}
    first = halving.rungs(steps)[0] / steps  # what the cheapest trial costs, in full trainings
    return parse_spec(
        {
            "name": name,
            "data": {"train": "unused.jsonl", "validation": "unused.jsonl"},  # a synthetic problem reads no data
            "sampler": "mobo",
            "seed": seed,
            "trials": math.floor(budget / first + 1e-9),
            "start_at_center": False,
            "confirm": False,  # the benchmark compares what the search itself found
            "budget": {"steps": steps, "successive_halving": schedule},
            "study_dir": str(folder),
        }
    )


def search_with_halving(
    problem: ScoredProblem, seed: int, budget: float, steps: int, folder: Path, reference: dict[str, float]
) -> list[dict]:
    """The points that trained in full, in order, when ``SearchLoop`` searches ``problem`` with
    successive halving until ``budget`` full trainings' worth of steps is spent (the study is
    kept in ``folder``; ``reference`` is its hypervolume reference)."""
    spec = halving_spec(folder.name, seed, budget, steps, folder)
    store = StudyStore.create(folder, spec)
    prepared = PreparedStudy(
        spec=spec,
        data=SimpleNamespace(label_names=[]),
        context=None,
        space=ProblemSpace(problem),
        references={},
        baseline={"accuracy": 0.5},
        validation_rows=0,
        hypervolume_reference=reference,
        parameter_limit=None,
    )
    loop = SearchLoop(store, prepared)
    trials = RungScoredTrials(problem, np.random.default_rng(seed), loop.rungs, loop.board.judge, budget)
    try:
        loop.run(trials)
    except BudgetSpent:
        pass
    return [record.params for record in store.records() if record.state == "complete"]
