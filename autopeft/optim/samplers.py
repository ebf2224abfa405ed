"""Choosing the optuna sampler a study uses: autopeft's MOBO or optuna's own baselines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from autopeft.errors import SpecError
from autopeft.optim.mobo import MoboSampler
from autopeft.spec.objectives import Objective

ParamsFunction = Callable[[dict[str, Any]], float]


def startup_trials(trials: int) -> int:
    """Random trials before a model-based sampler takes over: a third, between 3 and 10."""
    return max(3, min(10, trials // 3))


def _scaled(scale: Callable[[float], float], function: ParamsFunction) -> ParamsFunction:
    return lambda params: scale(function(params))


def make_sampler(
    name: str,
    seed: int,
    trials: int,
    objectives: list[Objective] | None = None,
    trainable_parameters: ParamsFunction | None = None,
    feasible: Callable[[dict[str, Any]], bool] | None = None,
    canonicalize: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    values_of: Callable[[FrozenTrial], Sequence[float] | None] | None = None,
    startup_prior: dict[str, float] | None = None,
) -> optuna.samplers.BaseSampler:
    """A seeded sampler.

    ``mobo`` computes the trainable-parameter objective exactly from
    ``trainable_parameters`` (in the objective's own scale), treats points equal under
    ``canonicalize`` as one, never proposes points ``feasible`` rejects, and learns from
    ``values_of(trial)`` (scores at the highest rung reached, under successive halving)
    where given, and draws its random startup trials with ``startup_prior`` (boolean
    parameter -> probability of True) where given.
    """
    if name == "mobo":
        known = {}
        if trainable_parameters is not None:
            for index, objective in enumerate(objectives or []):
                if objective.name == "trainable_params":
                    known[index] = _scaled(objective.scale, trainable_parameters)
        return MoboSampler(
            seed=seed,
            n_startup_trials=startup_trials(trials),
            known_objectives=known,
            feasible=feasible,
            canonicalize=canonicalize,
            values_of=values_of,
            startup_prior=startup_prior,
        )
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":  # multivariate: placement bits and sizes act together (optuna's advice for such spaces)
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(trials), multivariate=True)
    if name == "nsga2":  # a population of trials/8: eight generations in any budget
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, trials // 8))
    raise SpecError("sampler", f"unknown sampler '{name}'", "use one of: mobo, tpe, random, nsga2")
