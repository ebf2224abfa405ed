"""One method's part of a search space: its searched dimensions, settings and exact size.

A component declares its dimensions (a list of choices or a Range; a single value is
fixed), turns sampled values into resolved settings (``MethodSettings``: full module names,
ranks, widths), and counts the trainable parameters those settings add, from the model's
shapes alone.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar

from autopeft.errors import SpecError
from autopeft.models.arch import Architecture
from autopeft.space.language import Range

Dimension = list[Any] | Range


class MethodUnavailable(SpecError):
    """The model cannot take this method (bias tuning without biases, prefix tuning without
    a usable attention head count): an error alone, a warning and a dropped component in a
    space of more than one.
    """


class MethodSettings(ABC):
    """One method's resolved settings for a point, typed (each method's is a frozen dataclass).

    ``to_dict`` writes the stored form that a ``Point`` carries (a study's trials, exported
    adapters): dataclass fields become keys, tuples lists, nested dataclasses mappings.
    ``from_dict`` reads it back, from studies written by earlier versions too.
    """

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    @abstractmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Self:
        """The settings a ``to_dict`` mapping stands for."""

    @abstractmethod
    def placed_count(self) -> int | None:
        """How many modules (or layers) the settings place; None for a method not placed
        module by module (bias tuning)."""

    @abstractmethod
    def placements(self) -> dict[str, float]:
        """Placed module -> its size (rank, width, virtual tokens; 1 for a module that is only
        on or off): what a report's placement map draws. Empty for bias tuning."""

    def is_empty(self) -> bool:
        """Whether the settings place nothing (the component is off)."""
        return self.placed_count() == 0


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


S = TypeVar("S", bound=MethodSettings)


class ComponentSpace(ABC, Generic[S]):
    """Base of every method's space; ``prefix`` namespaces its parameters in a hybrid."""

    uses_layers: ClassVar[bool] = True  # whether a per-layer switch affects it

    def __init__(self, spec: Any, arch: Architecture, prefix: str = "") -> None:
        self.spec = spec
        self.arch = arch
        self.prefix = prefix
        self.placement_bits: dict[str, str] = {}  # key of a per-layer placement bit -> the module it switches
        self.dims: dict[str, Dimension] = {}
        self.fixed: dict[str, Any] = {}
        layers = getattr(spec, "layers", "all")
        self.layers = list(range(arch.num_layers)) if layers == "all" else list(layers)
        for layer in self.layers:
            arch.check_layer(layer, self.field("layers"))

    @property
    def method(self) -> str:
        """The method's name (its schema's tag)."""
        return self.spec.method

    def field(self, name: str) -> str:
        """The spec field, for error messages."""
        return f"space.{self.method}.{name}"

    def key(self, name: str) -> str:
        return self.prefix + name

    def declare(self, name: str, values: Any) -> None:
        """A searched dimension (a list of choices or a Range) or a fixed value (one choice)."""
        if isinstance(values, Range) or (isinstance(values, list) and len(values) > 1):
            self.dims[self.key(name)] = values
        else:
            self.fixed[self.key(name)] = values[0] if isinstance(values, list) else values

    def value(self, params: dict[str, Any], name: str) -> Any:
        key = self.key(name)
        return params[key] if key in params else self.fixed[key]

    def placement_units(self, roles: list[str]) -> dict[int, dict[str, str]]:
        """Per layer: unit name -> module name, one unit per distinct module.

        Roles that share a module (GPT-2's fused c_attn plays q, k and v) make one unit,
        named after the first of them, so no two bits switch the same module.
        """
        units: dict[int, dict[str, str]] = {}
        for layer in self.layers:
            seen: dict[str, str] = {}
            for role in roles:
                name = self.arch.module_name(layer, role, self.field("modules"))
                seen.setdefault(name, role)
            units[layer] = {role: name for name, role in seen.items()}
        return units

    def declare_placement(self, units: dict[int, dict[str, str]], per_layer: bool) -> None:
        """One on/off bit per (layer, unit) when placement is per layer."""
        if per_layer:
            for layer, per_layer_units in units.items():
                for unit, module in per_layer_units.items():
                    self.declare(f"L{layer}.{unit}", [False, True])
                    if module:
                        self.placement_bits[self.key(f"L{layer}.{unit}")] = module

    def prune(self, modules: frozenset[str]) -> None:
        """Fix the placement bits of ``modules`` off (importance pruning), so no point places them."""
        for key, module in self.placement_bits.items():
            if module in modules and key in self.dims:
                del self.dims[key]
                self.fixed[key] = False

    def placed(self, params: dict[str, Any], layer: int, unit: str, layers_on: set[int] | None) -> bool:
        if layers_on is not None and layer not in layers_on:
            return False
        return not self.spec.per_layer_placement or bool(self.value(params, f"L{layer}.{unit}"))

    @abstractmethod
    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> S:
        """Resolved settings for sampled ``params``; ``layers_on`` is the layer switch, if any."""

    @abstractmethod
    def count(self, settings: S) -> int:
        """Trainable parameters the settings add (the head is counted once by the space)."""

    def canonical(self, params: dict[str, Any], layers_on: set[int] | None) -> dict[str, Any]:
        """``params`` with this component's unused values fixed; the base fixes all when off."""
        if self.settings(params, layers_on).is_empty():
            return self.neutral(params)
        if layers_on is None:
            return params
        off = [self.key(f"L{layer}.") for layer in self.layers if layer not in layers_on]
        unused = {
            key: first_value(dim) for key, dim in self.dims.items() if key in params and key.startswith(tuple(off))
        }
        return dict(params, **unused)

    def neutral(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with every dimension of this component at its first value."""
        return dict(params, **{key: first_value(dim) for key, dim in self.dims.items() if key in params})


def first_value(dim: Dimension) -> Any:
    return dim.low if isinstance(dim, Range) else dim[0]
