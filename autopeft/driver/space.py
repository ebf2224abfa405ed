"""The search space a spec's ``space:`` makes for a model (``ComposedSpace``).

Parameters of a component exist only when it is used: the optimizer sees unused ones at fixed
values. Every searched value is asked of the trial on every draw (a fixed dimension a GP can
model); values the point does not use are ignored when building and set to fixed ones by
``canonical_params``, so equivalent draws look the same to the optimizer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna

from autopeft.errors import SpecError
from autopeft.methods import method
from autopeft.models.arch import Architecture
from autopeft.space.base import Hyperparameters, PlacedComponent, Point, SearchSpace
from autopeft.space.component import ComponentSpace, Dimension, MethodSettings, MethodUnavailable, first_value
from autopeft.space.language import Range
from autopeft.spec.space import METHOD, SpaceSpec


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
    """Parameters: ``method`` (a choice between components), ``L{layer}.on`` (the layer
    switch), each component's own (prefixed ``{method}.`` when there is more than one), and
    ``learning_rate`` / ``head_learning_rate`` when searched.
    """

    def __init__(
        self, spec: SpaceSpec, arch: Architecture, model_config: Any = None, pruned: frozenset[str] = frozenset()
    ) -> None:
        self.spec = spec
        self.arch = arch
        mixed = len(spec.components) > 1
        self.components: list[ComponentSpace] = []
        for component in spec.components:
            prefix = f"{component.method}." if mixed else ""
            try:
                self.components.append(method(component.method).space(component, arch, prefix))
            except MethodUnavailable as unavailable:
                if not mixed:
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
        return sorted(set(self.placement_bit_modules().values()))

    def placement_bit_modules(self) -> dict[str, str]:
        """Each searched per-layer placement bit -> the module it switches."""
        return {key: m for c in self.components for key, m in c.placement_bits.items() if key in c.dims}

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

    def _active(self, params: dict[str, Any]) -> list[tuple[ComponentSpace, MethodSettings]]:
        layers_on = self._layers_on(params)
        pairs = [(c, c.settings(params, layers_on)) for c in self._chosen(params)]
        return [(c, settings) for c, settings in pairs if not settings.is_empty()]

    def _number(self, params: dict[str, Any], name: str) -> float:
        return float(params[name] if name in params else self.fixed[name])

    def point_from_params(self, params: dict[str, Any]) -> Point:
        components = tuple(PlacedComponent(c.method, settings.to_dict()) for c, settings in self._active(params))
        hyperparameters = Hyperparameters(
            self._number(params, "learning_rate"), self._number(params, "head_learning_rate")
        )
        return Point(components, hyperparameters)

    def params_within(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The values of ``params`` this space searches and can take (in its choices, inside its
        ranges): another study's point, made a start for this one (the rest is drawn anew)."""
        return {name: value for name, value in params.items() if name in self.dims and _holds(self.dims[name], value)}

    def random_params(self, rng: np.random.Generator, accept: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """A random configuration that ``accept`` takes (256 draws at most; else the smallest)."""
        for _ in range(256):
            params = self.canonical_params({name: _draw(dim, rng) for name, dim in self.dims.items()})
            if accept(params):
                return params
        return self.smallest_params()[0]

    def smallest_params(self) -> tuple[dict[str, Any], int]:
        """The smallest buildable configuration and its trainable-parameter count.

        Descends from the centre one dimension at a time (each set to its value that leaves the
        fewest parameters while something is still placed), twice over: counts only grow with
        placements and sizes, so this ends at one module of the smallest size.
        """
        params = self.center_params()
        best = self.trainable_parameters(params)
        for _ in range(2):
            for name, dim in self.dims.items():
                if isinstance(dim, Range):
                    continue  # learning rates and the like change no count
                for value in dim:
                    trial = self.canonical_params(dict(params, **{name: value}))
                    if self.is_buildable(trial) and (count := self.trainable_parameters(trial)) < best:
                        params, best = trial, count
        return params, best

    def is_buildable(self, params: dict[str, Any]) -> bool:
        return bool(self._active(params))

    def trainable_parameters(self, params: dict[str, Any]) -> int:
        return self.arch.head_parameters + sum(c.count(settings) for c, settings in self._active(params))

    def unused_params(self, params: dict[str, Any]) -> list[str]:
        """The parameters ``params`` does not use (the rank of a layer with no module, every
        parameter of an unchosen method): those ``canonical_params`` pins to their first value
        whatever they are set to. optuna stores them at that value, because mobo's canonical
        forms need every parameter; a trial's ``unused_params`` user attribute lists them."""
        unused = []
        for name, dim in self.dims.items():
            other = dim.high if isinstance(dim, Range) else dim[-1]
            if other != first_value(dim) and self.canonical_params(dict(params, **{name: other}))[name] != other:
                unused.append(name)
        return unused

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


def build_space(
    spec: SpaceSpec, arch: Architecture, model_config: Any = None, pruned: frozenset[str] = frozenset()
) -> SearchSpace:
    """The search space the spec describes, sized against ``arch`` (and the model's config),
    with the placement bits of the ``pruned`` modules fixed off."""
    return ComposedSpace(spec, arch, model_config, pruned)


def fixed_point(spec: SpaceSpec, arch: Architecture, model_config: Any, field: str) -> Point:
    """The one configuration a space with a single value everywhere stands for (a study's
    reference); ``field`` names it in errors."""
    try:
        space = ComposedSpace(spec, arch, model_config)
    except SpecError as error:  # a method names its fields as the study space's; this one is ``field``'s
        if not error.field.startswith("space."):
            raise
        raise SpecError(f"{field}.{error.field.removeprefix('space.')}", error.problem, error.fix) from None
    if space.dims:
        raise SpecError(
            field,
            f"is one configuration, but it searches {', '.join(space.dims)}",
            "give one value for each (a number for learning rates, one rank or width, no per-layer choices)",
        )
    if not space.is_buildable({}):
        raise SpecError(field, "places no module", "give it at least one module, layer or non-zero size")
    return space.point_from_params({})


def _holds(dim: Dimension, value: Any) -> bool:
    if isinstance(dim, Range):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and dim.low <= value <= dim.high
    return any(type(choice) is type(value) and choice == value for choice in dim)  # True is not 1


def _draw(dim: Dimension, rng: np.random.Generator) -> Any:
    if isinstance(dim, Range):
        if dim.log:
            return float(math.exp(rng.uniform(math.log(dim.low), math.log(dim.high))))
        return float(rng.uniform(dim.low, dim.high))
    return dim[int(rng.integers(len(dim)))]
