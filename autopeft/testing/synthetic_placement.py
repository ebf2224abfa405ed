"""Synthetic LoRA placement problems the size of real models, for judging samplers.

A point is one on/off bit per (layer, module role), a rank per layer and two learning
rates, as autopeft's own LoRA spaces are on a real model. Trainable parameters are exact
(rank x (in + out) per placed module, from the family's real shapes). Accuracy is hidden
structure a sampler must find: per-slot usefulness (a role's weight times a smooth random
depth profile times slot noise), a saturating return in rank, query/key redundancy within
a layer, a learning-rate optimum that moves with the rank, and diminishing returns overall.

Noise and rung fidelity come from the project's own SST-2 measurements (../shared/NOTES.md,
benchmarks/proxy_fidelity.py): a validation accuracy near 0.85 on 872 rows has a standard
error of about 0.013, and scores after a third of the proxy's steps rank configurations with
a Spearman correlation of about 0.62 to the full scores. ``rung_fidelity`` measures the
latter on a problem instance, so a benchmark can print it.

Families (``FAMILIES``): ``bert`` (12 layers x q, k, v, o, FFN up, down of BERT-base: 72
bits, 12 ranks, 2 rates = 86 dimensions) and ``llm`` (32 layers x q, k, v, o, gate, up, down
of a 7B Llama: 224 bits + 32 ranks + 2 rates = 258).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import optuna
from scipy.stats import spearmanr

NOISE = 0.013  # standard error of an accuracy near 0.85 on 872 rows: sqrt(0.85 * 0.15 / 872)
RUNG_SCATTER = 4.0  # extra early noise, set so that rung_fidelity is about 0.62 (0.60 bert, 0.70 llm at seed 100)
RANKS = (2, 4, 8, 16, 32)
LEARNING_RATE = (1e-4, 1e-2)
HEAD_LEARNING_RATE = (1e-3, 3e-2)


@dataclass(frozen=True)
class Shapes:
    """A model family: layers, and each role's (in, out) features."""

    layers: int
    roles: dict[str, tuple[int, int]]
    role_weight: dict[str, float]  # mean usefulness of adapting the role (value and FFN out matter most)


FAMILIES = {
    "bert": Shapes(
        12,
        {"q": (768, 768), "k": (768, 768), "v": (768, 768), "o": (768, 768), "up": (768, 3072), "down": (3072, 768)},
        {"q": 0.7, "k": 0.5, "v": 1.0, "o": 0.9, "up": 0.6, "down": 0.9},
    ),
    "llm": Shapes(
        32,
        {
            "q": (4096, 4096),
            "k": (4096, 4096),
            "v": (4096, 4096),
            "o": (4096, 4096),
            "gate": (4096, 11008),
            "up": (4096, 11008),
            "down": (11008, 4096),
        },
        {"q": 0.7, "k": 0.5, "v": 1.0, "o": 0.9, "gate": 0.5, "up": 0.6, "down": 0.9},
    ),
}


@dataclass
class PlacementProblem:
    """Accuracy (max) and trainable parameters (min) of LoRA placements on a model family."""

    family: str = "bert"
    seed: int = 0
    noise: float = NOISE
    shapes: Shapes = field(init=False)
    weights: np.ndarray = field(init=False)  # (layers, roles): usefulness of each slot

    def __post_init__(self) -> None:
        self.shapes = FAMILIES[self.family]
        rng = np.random.default_rng(self.seed)
        layers, roles = self.shapes.layers, list(self.shapes.roles)
        depth = np.linspace(0, 1, layers)
        profile = (
            0.6
            + rng.uniform(-0.3, 0.6) * depth
            + 0.25 * np.sin(2 * math.pi * (depth * rng.uniform(0.5, 1.5) + rng.uniform()))
        )
        role = np.array([self.shapes.role_weight[r] * rng.lognormal(0, 0.25) for r in roles])
        self.weights = (
            np.clip(profile, 0.1, None)[:, None] * role[None, :] * rng.lognormal(0, 0.35, (layers, len(roles)))
        )
        self.rate_optimum = -3.0 + rng.uniform(-0.4, 0.4)  # log10 of the best adapter rate at rank 8
        self.head_optimum = -2.2 + rng.uniform(-0.3, 0.3)
        self.roles = roles

    # -- the space --------------------------------------------------------------------------
    def suggest(self, trial: optuna.Trial) -> dict:
        params = {}
        for layer in range(self.shapes.layers):
            for role in self.roles:
                params[f"L{layer}.{role}"] = trial.suggest_categorical(f"L{layer}.{role}", [False, True])
            params[f"L{layer}.rank"] = trial.suggest_categorical(f"L{layer}.rank", list(RANKS))
        params["learning_rate"] = trial.suggest_float("learning_rate", *LEARNING_RATE, log=True)
        params["head_learning_rate"] = trial.suggest_float("head_learning_rate", *HEAD_LEARNING_RATE, log=True)
        return params

    @property
    def dimensions(self) -> int:
        return self.shapes.layers * (len(self.roles) + 1) + 2

    def _on(self, params: dict) -> np.ndarray:
        return np.array([[bool(params[f"L{l}.{r}"]) for r in self.roles] for l in range(self.shapes.layers)])  # noqa: E741

    def _ranks(self, params: dict) -> np.ndarray:
        return np.array([params[f"L{layer}.rank"] for layer in range(self.shapes.layers)], dtype=float)

    def canonical_params(self, params: dict) -> dict:
        """The rank of a layer with no module placed is unused: fixed at the smallest."""
        on = self._on(params)
        return params | {f"L{layer}.rank": RANKS[0] for layer in range(self.shapes.layers) if not on[layer].any()}

    def trainable_parameters(self, params: dict) -> int:
        sizes = np.array([sum(self.shapes.roles[r]) for r in self.roles])
        return int((self._on(params) * sizes[None, :] * self._ranks(params)[:, None]).sum())

    @property
    def max_parameters(self) -> int:
        return self.shapes.layers * max(RANKS) * sum(sum(shape) for shape in self.shapes.roles.values())

    # -- the hidden answer ------------------------------------------------------------------
    def true_accuracy(self, params: dict) -> float:
        on, ranks = self._on(params), self._ranks(params)
        if not on.any():
            return 0.5
        gain = np.log2(1 + ranks) / math.log2(1 + max(RANKS))  # saturating in rank
        slot = self.weights * on * gain[:, None]
        if "q" in self.roles and "k" in self.roles:  # query and key adapt much the same thing
            q, k = self.roles.index("q"), self.roles.index("k")
            slot[:, k] -= 0.5 * np.minimum(slot[:, q], slot[:, k])
        share = slot.sum() / self.weights.sum()
        capacity = (1 - math.exp(-5 * share)) / (1 - math.exp(-5))
        mean_rank = float(ranks[on.any(axis=1)].mean())
        optimum = self.rate_optimum - 0.25 * math.log2(mean_rank / 8)  # larger ranks want smaller rates
        rate = math.exp(-((math.log10(params["learning_rate"]) - optimum) ** 2) / (2 * 0.4**2))
        head = math.exp(-((math.log10(params["head_learning_rate"]) - self.head_optimum) ** 2) / (2 * 0.5**2))
        return 0.5 + 0.4 * capacity * rate * (0.8 + 0.2 * head) - 0.01 * share**2

    def true_values(self, params: dict) -> tuple[float, int]:
        """Noiseless accuracy and exact trainable parameters."""
        return self.true_accuracy(params), self.trainable_parameters(params)

    def evaluate(self, params: dict, rng: np.random.Generator, fraction: float = 1.0) -> tuple[float, int]:
        """What a trial observes after ``fraction`` of its training: noisy accuracy, exact count.
        Short training has learned less (large placements more slowly) and is noisier."""
        accuracy, count = self.true_values(params)
        noise = self.noise
        if fraction < 1.0:
            size = math.log10(1 + count) / math.log10(1 + self.max_parameters)
            speed = 2.0 + 4.0 * (1.0 - size)
            accuracy = 0.5 + (accuracy - 0.5) * (1 - math.exp(-fraction * speed)) / (1 - math.exp(-speed))
            noise = self.noise * (1 + RUNG_SCATTER * (1 - fraction)) / math.sqrt(fraction)
        return accuracy + float(rng.normal(0, noise)), count

    def reference_configuration(self) -> dict:
        """The practitioner's default in this space: LoRA r8 on query and value in every layer,
        both learning rates at the middle of their (log) ranges."""
        placed = {"q", "v"}
        params = {f"L{layer}.{role}": role in placed for layer in range(self.shapes.layers) for role in self.roles}
        params |= {f"L{layer}.rank": 8 for layer in range(self.shapes.layers)}
        middle = lambda bounds: math.sqrt(bounds[0] * bounds[1])  # noqa: E731
        return params | {"learning_rate": middle(LEARNING_RATE), "head_learning_rate": middle(HEAD_LEARNING_RATE)}

    @property
    def reference_point(self) -> tuple[float, float]:
        """(chance accuracy, log10(1 + the largest count)): the worst corner that still counts."""
        return 0.5, math.log10(1 + self.max_parameters)


def random_points(problem: PlacementProblem, count: int, seed: int = 0) -> list[dict]:
    """``count`` points drawn uniformly from the problem's space."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    points = []
    for _ in range(count):
        trial = study.ask()
        points.append(problem.suggest(trial))
        study.tell(trial, 0.0)
    return points


def rung_fidelity(problem: PlacementProblem, fraction: float = 1 / 3, count: int = 300, seed: int = 0) -> float:
    """Spearman correlation between scores after ``fraction`` of the steps and full scores,
    over random points (each observed once at each length, as trials are)."""
    rng = np.random.default_rng(seed)
    points = random_points(problem, count, seed)
    early = [problem.evaluate(p, rng, fraction)[0] for p in points]
    full = [problem.evaluate(p, rng, 1.0)[0] for p in points]
    return float(spearmanr(early, full).statistic)
