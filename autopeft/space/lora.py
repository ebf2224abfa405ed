"""LoRA placement (which layer and module), per-layer rank, alpha and learning rates."""

from __future__ import annotations

from typing import Any

import optuna

from autopeft.errors import SpecError
from autopeft.models.arch import Architecture
from autopeft.space.base import Hyperparameters, Point, SearchSpace
from autopeft.spec import LoraSpaceSpec, Range


class LoraSpace(SearchSpace):
    """One placement bit per (layer, role) and one rank per layer (or a global one).

    Parameter names: ``L{layer}.{role}`` (placed or not), ``L{layer}.rank`` or ``rank``,
    ``alpha_ratio``, ``dropout``, ``learning_rate``, ``head_learning_rate`` (the last four
    only when searched). Settings hold ``targets``: full module name -> rank.
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

    def _numbers(self) -> dict[str, float | Range]:
        spec = self.spec
        return {
            "alpha_ratio": spec.alpha_ratio,
            "dropout": spec.dropout,
            "learning_rate": spec.learning_rate,
            "head_learning_rate": spec.head_learning_rate,
        }

    def sample(self, trial: optuna.Trial) -> Point:
        spec = self.spec
        params: dict[str, Any] = {}
        if not spec.per_layer_rank:
            params["rank"] = trial.suggest_categorical("rank", spec.rank)
        for layer in self.layers:
            if spec.per_layer_placement:
                for role in spec.modules:
                    params[f"L{layer}.{role}"] = trial.suggest_categorical(f"L{layer}.{role}", [False, True])
            if spec.per_layer_rank:
                params[f"L{layer}.rank"] = trial.suggest_categorical(f"L{layer}.rank", spec.rank)
        for name, value in self._numbers().items():
            if isinstance(value, Range):
                params[name] = trial.suggest_float(name, value.low, value.high, log=value.log)
        return self.point_from_params(params)

    def _targets(self, params: dict[str, Any]) -> dict[str, int]:
        spec = self.spec
        targets: dict[str, int] = {}
        for layer in self.layers:
            rank = params[f"L{layer}.rank"] if spec.per_layer_rank else params["rank"]
            for role in spec.modules:
                if not spec.per_layer_placement or params[f"L{layer}.{role}"]:
                    targets[self.modules[layer][role]] = int(rank)
        return targets

    def point_from_params(self, params: dict[str, Any]) -> Point:
        numbers = {name: float(params.get(name, value)) for name, value in self._numbers().items()}
        settings = {
            "targets": self._targets(params),
            "alpha_ratio": numbers["alpha_ratio"],
            "dropout": numbers["dropout"],
        }
        return Point("lora", settings, Hyperparameters(numbers["learning_rate"], numbers["head_learning_rate"]))

    def is_buildable(self, params: dict[str, Any]) -> bool:
        return bool(self._targets(params))

    def canonical_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """A layer's rank is unused when none of its modules is placed: fix it to the smallest."""
        spec = self.spec
        if not (spec.per_layer_placement and spec.per_layer_rank):
            return params
        canonical = dict(params)
        for layer in self.layers:
            if not any(params[f"L{layer}.{role}"] for role in spec.modules):
                canonical[f"L{layer}.rank"] = spec.rank[0]
        return canonical

    def trainable_parameters(self, params: dict[str, Any]) -> int:
        shapes = self.arch.shapes
        lora = sum(rank * sum(shapes[name]) for name, rank in self._targets(params).items())
        return lora + self.arch.head_parameters
