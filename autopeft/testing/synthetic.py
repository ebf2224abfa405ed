"""A synthetic PEFT search problem on the AutoPEFT paper's space, with a known Pareto front.

Space (as in Zhou et al. 2024): serial adapter, parallel adapter and prefix widths
hidden/2^k for k in 0..10 (k = 10 switches the module off) and one on/off bit per layer.
Trainable parameters are exact; accuracy is a saturating function of capacity with
per-layer weights, a serial/parallel interaction, a bonus for adjacent active layers, a
penalty for oversized modules, and Gaussian noise. The true front comes from enumerating
all 2^L * 11^3 points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import optuna

WIDTH_LEVELS = 11  # k = 0..10; k = 10 means "off"


@dataclass
class SyntheticPeftProblem:
    """Accuracy (max) and trainable parameters (min) over the AutoPEFT paper's space."""

    num_layers: int = 12
    hidden: int = 768
    noise: float = 0.005
    seed: int = 0
    layer_weights: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        depth = np.arange(self.num_layers) / max(1, self.num_layers - 1)
        # Upper layers matter more, with some irregularity a sampler must discover.
        self.layer_weights = 0.4 + 0.8 * depth + rng.uniform(-0.2, 0.2, self.num_layers)

    # -- the space ------------------------------------------------------------------------
    def suggest(self, trial: optuna.Trial) -> dict:
        params = {name: trial.suggest_int(name, 0, WIDTH_LEVELS - 1) for name in ("serial", "parallel", "prefix")}
        for layer in range(self.num_layers):
            params[f"L{layer}"] = trial.suggest_categorical(f"L{layer}", [False, True])
        return params

    def _width(self, k: np.ndarray | int) -> np.ndarray:
        return np.where(np.asarray(k) >= WIDTH_LEVELS - 1, 0, self.hidden // 2 ** np.minimum(np.asarray(k), 9))

    def _module_terms(
        self, ks: np.ndarray | int, kp: np.ndarray | int, kf: np.ndarray | int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-layer parameters and capacity of the three modules, vectorized over widths."""
        h = self.hidden
        ws, wp, wf = self._width(ks), self._width(kp), self._width(kf)
        params = (2 * h * ws + ws + h * (ws > 0)) + (2 * h * wp + wp + h * (wp > 0)) + 2 * h * wf
        g = lambda w: np.log2(1 + w) / np.log2(1 + h)  # noqa: E731  (saturating capacity)
        gs, gp, gf = g(ws), g(wp), g(wf)
        capacity = gs + 0.8 * gp + 0.5 * gf - 0.35 * gs * gp
        oversize = 0.04 * (gs**4 + gp**4)  # very wide modules overfit a little
        return params, capacity, oversize

    def _layer_terms(self, bits: np.ndarray):
        bits = np.asarray(bits, dtype=float)
        weighted = bits @ self.layer_weights
        adjacent = (bits[..., 1:] * bits[..., :-1]).sum(-1)
        return bits.sum(-1), weighted, adjacent

    def _accuracy(
        self,
        active: np.ndarray,
        weighted: np.ndarray,
        adjacent: np.ndarray,
        capacity: np.ndarray,
        oversize: np.ndarray,
    ) -> np.ndarray:
        signal = weighted * capacity + 0.05 * adjacent * (capacity > 0)
        return 0.5 + 0.42 * (1 - np.exp(-signal / 2.5)) - active * oversize / self.num_layers

    def true_values(self, params: dict) -> tuple[float, int]:
        """Noiseless accuracy and exact trainable parameters of a point."""
        bits = np.array([params[f"L{i}"] for i in range(self.num_layers)], dtype=float)
        module_params, capacity, oversize = self._module_terms(params["serial"], params["parallel"], params["prefix"])
        active, weighted, adjacent = self._layer_terms(bits)
        accuracy = self._accuracy(active, weighted, adjacent, capacity, oversize)
        return float(accuracy), int(active * module_params)

    def canonical_params(self, params: dict) -> dict:
        """With every layer off or every module off, nothing else matters: one null point."""
        bits_off = not any(params[f"L{i}"] for i in range(self.num_layers))
        modules_off = all(params[m] >= WIDTH_LEVELS - 1 for m in ("serial", "parallel", "prefix"))
        if not (bits_off or modules_off):
            return params
        null = {m: WIDTH_LEVELS - 1 for m in ("serial", "parallel", "prefix")}
        return null | {f"L{i}": False for i in range(self.num_layers)}

    def trainable_parameters(self, params: dict) -> int:
        return self.true_values(params)[1]

    def evaluate(self, params: dict, rng: np.random.Generator, fraction: float = 1.0) -> tuple[float, int]:
        """What a trial observes after ``fraction`` of the full training: noisy accuracy, exact parameters.

        Shorter training has learned less (larger modules converge more slowly, so short
        runs favour small ones) and is noisier (noise grows as 1/sqrt(fraction)).
        """
        accuracy, count = self.true_values(params)
        if fraction < 1.0:
            size = np.log10(1 + count) / np.log10(1 + self.num_layers * self._module_terms(0, 0, 0)[0])
            speed = 2.0 + 4.0 * (1.0 - size)
            learned = (1 - np.exp(-fraction * speed)) / (1 - np.exp(-speed))
            accuracy = 0.5 + (accuracy - 0.5) * learned
        return accuracy + float(rng.normal(0, self.noise / np.sqrt(fraction))), count

    def reference_configuration(self) -> dict:
        """The practitioner's default placed in this space: LoRA is a parallel adapter, so a
        parallel adapter in every layer whose width costs what LoRA r8 on query and value
        does (2 x 8 x (hidden + hidden) per layer), nothing else."""
        lora = 2 * 8 * 2 * self.hidden
        off = WIDTH_LEVELS - 1
        cost = lambda k: int(self._module_terms(off, k, off)[0])  # noqa: E731
        width = min(range(WIDTH_LEVELS - 1), key=lambda k: abs(cost(k) - lora))
        return {"serial": off, "parallel": width, "prefix": off} | {f"L{i}": True for i in range(self.num_layers)}

    # -- the answer -----------------------------------------------------------------------
    @cached_property
    def true_front(self) -> np.ndarray:
        """The exact Pareto front as rows (accuracy, -parameters), both maximized."""
        grid = np.array(np.meshgrid(*[np.arange(WIDTH_LEVELS)] * 3, indexing="ij")).reshape(3, -1)
        module_params, capacity, oversize = self._module_terms(*grid)
        bits = (np.arange(2**self.num_layers)[:, None] >> np.arange(self.num_layers)) & 1
        active, weighted, adjacent = self._layer_terms(bits)
        accuracy = self._accuracy(active[:, None], weighted[:, None], adjacent[:, None], capacity[None], oversize[None])
        params = (active[:, None] * module_params[None]).ravel()
        accuracy = accuracy.ravel()
        order = np.lexsort((-accuracy, params))  # by params, best accuracy first
        best_so_far = np.maximum.accumulate(accuracy[order])
        keep = np.r_[True, best_so_far[1:] > best_so_far[:-1]]
        keep &= accuracy[order] >= best_so_far
        front = np.stack([accuracy[order][keep], -params[order][keep].astype(float)], axis=1)
        return front

    @property
    def reference_point(self) -> np.ndarray:
        """Fixed for scoring: chance accuracy and the largest possible parameter count."""
        max_params = self.num_layers * self._module_terms(0, 0, 0)[0]
        return np.array([0.5, -float(max_params)])
