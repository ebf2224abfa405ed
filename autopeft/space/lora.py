"""LoRA placement (which layer and module), per-layer rank, alpha and learning rates."""

from __future__ import annotations

import optuna

from autopeft.errors import SpecError
from autopeft.models.arch import Architecture
from autopeft.space.base import Hyperparameters, Point, SearchSpace, suggest_number
from autopeft.spec import LoraSpaceSpec


class LoraSpace(SearchSpace):
    """One placement bit per (layer, role) and one rank per layer (or a global one).

    A layer's rank is only asked for when the layer holds a module, so samplers see it as
    conditional. Settings hold ``targets``: full module name -> rank.
    """

    def __init__(self, spec: LoraSpaceSpec, arch: Architecture):
        self.spec = spec
        self.arch = arch
        self.layers = list(range(arch.num_layers)) if spec.layers == "all" else list(spec.layers)
        # Resolve every (layer, role) now, so a role the model lacks or a bad layer index
        # fails before the first trial.
        self.modules = {layer: {role: arch.module_name(layer, role) for role in spec.modules} for layer in self.layers}
        self._check_ranks()

    def _check_ranks(self) -> None:
        smallest = min(
            min(self.arch.shapes[name]) for per_layer in self.modules.values() for name in per_layer.values()
        )
        too_big = [r for r in self.spec.rank if r > smallest]
        if too_big:
            raise SpecError(
                "space.rank",
                f"rank {too_big[0]} exceeds the smallest targeted matrix dimension ({smallest})",
                f"use ranks up to {smallest}",
            )

    def sample(self, trial: optuna.Trial) -> Point:
        spec = self.spec
        global_rank = None if spec.per_layer_rank else trial.suggest_categorical("rank", spec.rank)
        targets: dict[str, int] = {}
        for layer in self.layers:
            placed = [
                role
                for role in spec.modules
                if not spec.per_layer_placement or trial.suggest_categorical(f"L{layer}.{role}", [False, True])
            ]
            if not placed:
                continue
            rank = global_rank if global_rank is not None else trial.suggest_categorical(f"L{layer}.rank", spec.rank)
            targets.update({self.modules[layer][role]: rank for role in placed})
        settings = {
            "targets": targets,
            "alpha_ratio": suggest_number(trial, "alpha_ratio", spec.alpha_ratio),
            "dropout": suggest_number(trial, "dropout", spec.dropout),
        }
        hyperparameters = Hyperparameters(
            learning_rate=suggest_number(trial, "learning_rate", spec.learning_rate),
            head_learning_rate=suggest_number(trial, "head_learning_rate", spec.head_learning_rate),
        )
        return Point("lora", settings, hyperparameters)
