"""The search space a spec describes: components combined as a choice or a hybrid.

Every searched value is asked of the trial on every draw (a fixed dimension a GP can
model); values the point does not use are ignored when building and set to fixed ones by
``canonical_params``, so equivalent draws look the same to the optimizer.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import optuna

from autopeft.models.arch import Architecture
from autopeft.space.base import Component, Hyperparameters, Point, SearchSpace
from autopeft.space.component import ComponentSpace, Dimension, MethodUnavailable, first_value
from autopeft.space.spec import Range, SpaceSpec

METHOD = "method"


def suggest(trial: optuna.Trial, name: str, dim: Dimension) -> Any:
    if isinstance(dim, Range):
        return trial.suggest_float(name, dim.low, dim.high, log=dim.log)
    return trial.suggest_categorical(name, dim)


def center_value(dim: Dimension) -> Any:
    """A dimension's centre: on for on/off bits, the middle of a range (geometric on a log
    scale), the upper middle of a list of sizes (so [0, 8] gives 8, not off), else the first choice."""
    if isinstance(dim, Range):
        return math.sqrt(dim.low * dim.high) if dim.log else (dim.low + dim.high) / 2
    if all(isinstance(value, bool) for value in dim):
        return True
    if all(isinstance(value, (int, float)) for value in dim):
        return sorted(dim)[len(dim) // 2]
    return dim[0]


class ComposedSpace(SearchSpace):
    """Parameters: ``method`` (a choice of several components), ``L{layer}.on`` (the layer
    switch), each component's own (prefixed ``{method}.`` when there are several), and
    ``learning_rate`` / ``head_learning_rate`` when searched.
    """

    def __init__(
        self, spec: SpaceSpec, arch: Architecture, model_config: Any = None, pruned: frozenset[str] = frozenset()
    ):
        from autopeft.methods import COMPONENT_SPACES

        self.spec = spec
        self.arch = arch
        several = len(spec.components) > 1
        self.components: list[ComponentSpace] = []
        for component in spec.components:
            space_class = COMPONENT_SPACES[component.method]
            prefix = f"{component.method}." if several else ""
            try:
                self.components.append(space_class(component, arch, prefix))
            except MethodUnavailable as unavailable:
                if not several:
                    raise
                logging.getLogger("autopeft").warning("leaving %s out of the space: %s", component.method, unavailable)
        self.dropped = [c.method for c in spec.components if c.method not in {s.method for s in self.components}]
        self.pruned = pruned  # modules importance pruning switched off
        for component in self.components:
            component.prune(pruned)
        self.dims: dict[str, Dimension] = {}
        self.fixed: dict[str, Any] = {}
        if spec.combine == "choice" and len(self.components) > 1:
            self.dims[METHOD] = [c.method for c in self.components]
        self.switched_layers = list(range(arch.num_layers)) if spec.layer_switch else []
        for layer in self.switched_layers:
            self.dims[f"L{layer}.on"] = [False, True]
        for component in self.components:
            self.dims.update(component.dims)
        for name in ("learning_rate", "head_learning_rate"):
            value = getattr(spec, name)
            if isinstance(value, Range):
                self.dims[name] = value
            else:
                self.fixed[name] = value

    def placeable_modules(self) -> list[str]:
        """Modules that a searched per-layer placement bit switches: what importance pruning ranks."""
        return sorted({m for c in self.components for key, m in c.placement_bits.items() if key in c.dims})

    def center_params(self) -> dict[str, Any]:
        return self.canonical_params({name: center_value(dim) for name, dim in self.dims.items()})

    def sample(self, trial: optuna.Trial) -> Point:
        params = {name: suggest(trial, name, dim) for name, dim in self.dims.items()}
        return self.point_from_params(params)

    def _layers_on(self, params: dict[str, Any]) -> set[int] | None:
        if not self.switched_layers:
            return None
        return {layer for layer in self.switched_layers if params[f"L{layer}.on"]}

    def _chosen(self, params: dict[str, Any]) -> list[ComponentSpace]:
        if METHOD not in self.dims:
            return self.components
        return [c for c in self.components if c.method == params[METHOD]]

    def _active(self, params: dict[str, Any]) -> list[tuple[ComponentSpace, dict[str, Any]]]:
        layers_on = self._layers_on(params)
        pairs = [(c, c.settings(params, layers_on)) for c in self._chosen(params)]
        return [(c, settings) for c, settings in pairs if not c.is_empty(settings)]

    def _number(self, params: dict[str, Any], name: str) -> float:
        return float(params[name] if name in params else self.fixed[name])

    def point_from_params(self, params: dict[str, Any]) -> Point:
        components = tuple(Component(c.method, settings) for c, settings in self._active(params))
        hyperparameters = Hyperparameters(
            self._number(params, "learning_rate"), self._number(params, "head_learning_rate")
        )
        return Point(components, hyperparameters)

    def is_buildable(self, params: dict[str, Any]) -> bool:
        return bool(self._active(params))

    def trainable_parameters(self, params: dict[str, Any]) -> int:
        return self.arch.head_parameters + sum(c.count(settings) for c, settings in self._active(params))

    def canonical_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Unchosen components and unused per-layer values at fixed values."""
        canonical = dict(params)
        chosen = self._chosen(params)
        layers_on = self._layers_on(params)
        for component in self.components:
            if component in chosen:
                canonical = component.canonical(canonical, layers_on)
            else:
                canonical = component.neutral(canonical)
        if self.switched_layers:
            active = self._active(canonical)
            if not any(c.uses_layers for c, _ in active):
                canonical.update(
                    {f"L{layer}.on": first_value(self.dims[f"L{layer}.on"]) for layer in self.switched_layers}
                )
        return canonical
