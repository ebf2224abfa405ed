"""Choosing the optuna sampler a study uses."""

from __future__ import annotations

import optuna

from autopeft.errors import SpecError


def make_sampler(name: str, seed: int, trials: int) -> optuna.samplers.BaseSampler:
    """optuna's own samplers, seeded so a study is reproducible."""
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(10, trials // 3)))
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(20, trials // 2)))
    raise SpecError("sampler", f"unknown sampler '{name}'", "use one of: tpe, random, nsga2")
