"""Placement problems as noisy as the real studies: a weak signal, a majority-class floor,
seed variance and divergent trials.

``PlacementProblem`` has one binomial noise (SST-2's 0.013) and a signal far above it. The
committed studies show what a search really faces (benchmarks/study_noise.py measures it):
on MRPC the configurations spread about as much as one accuracy's noise, a fifth of them end
at the majority-class accuracy, another seed trains to a different accuracy, and some trials
fail. ``NoisyPlacementProblem`` keeps a placement problem's structure (which slots matter, the
rank and learning-rate optima) and rescales it to a ``NoiseProfile``:

- true accuracy = majority + scale * max(0, base - threshold): the configurations whose base
  accuracy is below the profile's floor share of random configurations sit on the floor;
- ``scale`` makes the spread of random configurations' true accuracy ``snr`` times the
  binomial noise on the profile's validation rows (the studies' measure of signal to noise);
- an observation adds binomial noise on those rows and seed noise (``seed_sd``), and with
  probability ``fail_share`` is NaN: a diverged training the sampler must skip.

Threshold and scale come from random configurations of a calibration instance (seed 0), not
from the instance being searched, so every instance has the same rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import optuna

from autopeft.testing.synthetic_placement import RUNG_SCATTER, PlacementProblem, random_points

CALIBRATION_SEED = 0
CALIBRATION_POINTS = 500


@dataclass(frozen=True)
class NoiseProfile:
    """A task's measured noise: validation rows, signal to binomial noise, shares of trials at
    the majority floor and failed, seed standard deviation, majority-class accuracy."""

    rows: int
    snr: float
    floor_share: float
    fail_share: float
    seed_sd: float
    majority: float

    def binomial(self, accuracy: float) -> float:
        """The standard error of an accuracy on the profile's validation rows."""
        accuracy = min(max(accuracy, 0.0), 1.0)
        return math.sqrt(accuracy * (1 - accuracy) / self.rows)


@dataclass
class NoisyPlacementProblem:
    """A ``PlacementProblem`` family rescaled to a ``NoiseProfile``."""

    family: str
    seed: int
    profile: NoiseProfile
    base: PlacementProblem = field(init=False)
    threshold: float = field(init=False)
    scale: float = field(init=False)

    def __post_init__(self) -> None:
        self.base = PlacementProblem(self.family, self.seed, noise=0.0)
        self.threshold, self.scale = calibrate(self.family, self.profile)

    # -- the space is the base problem's ------------------------------------------------------
    def suggest(self, trial: optuna.Trial) -> dict:
        return self.base.suggest(trial)

    def canonical_params(self, params: dict) -> dict:
        return self.base.canonical_params(params)

    def trainable_parameters(self, params: dict) -> int:
        return self.base.trainable_parameters(params)

    def reference_configuration(self) -> dict:
        return self.base.reference_configuration()

    @property
    def max_parameters(self) -> int:
        return self.base.max_parameters

    @property
    def floor(self) -> float:
        """The accuracy a collapsed training scores: the majority class's."""
        return self.profile.majority

    # -- the hidden answer and what a trial sees ----------------------------------------------
    def _rescaled(self, base_accuracy: float) -> float:
        return self.profile.majority + self.scale * max(0.0, base_accuracy - self.threshold)

    def true_values(self, params: dict) -> tuple[float, int]:
        accuracy, count = self.base.true_values(params)
        return self._rescaled(accuracy), count

    def evaluate(self, params: dict, rng: np.random.Generator, fraction: float = 1.0) -> tuple[float, int]:
        """Noisy accuracy (NaN for a diverged training) and the exact count; shorter training
        has learned less and scatters more, as in ``PlacementProblem``."""
        learned, count = self.base.evaluate(params, rng, fraction)  # noise 0: only the learning curve
        accuracy = self._rescaled(learned)
        spread = 1.0 if fraction >= 1.0 else (1 + RUNG_SCATTER * (1 - fraction)) / math.sqrt(fraction)
        noise = math.hypot(self.profile.binomial(accuracy), self.profile.seed_sd) * spread
        observed = accuracy + float(rng.normal(0, noise))
        if rng.random() < self.profile.fail_share:
            return math.nan, count
        return observed, count


@cache
def calibrate(family: str, profile: NoiseProfile) -> tuple[float, float]:
    """(threshold, scale) on the calibration instance's random configurations: the floor
    share of them at or below the threshold, their true spread ``snr`` binomial noises."""
    problem = PlacementProblem(family, CALIBRATION_SEED, noise=0.0)
    base = np.array([problem.true_accuracy(p) for p in random_points(problem, CALIBRATION_POINTS)])
    threshold = float(np.quantile(base, profile.floor_share)) if profile.floor_share > 0 else float(base.min())
    raised = np.maximum(0.0, base - threshold)
    scale = 1.0
    for _ in range(5):  # the binomial noise depends on the accuracies the scale gives
        noise = profile.binomial(profile.majority + scale * float(raised.mean()))
        scale = profile.snr * noise / float(raised.std())
    return threshold, scale
