"""Bottleneck adapters (PEFT has none): serial (Pfeiffer, Houlsby) and parallel (He et al.).

A serial adapter wraps a module and adds ``up(relu(down(y)))`` to its output ``y``: after
the FFN down-projection it is Pfeiffer's adapter, after the attention output too it is
Houlsby's. A parallel adapter reads the FFN's input and adds ``scaling * up(relu(down(x)))``
to the FFN's output. Both start as the identity (``up`` is zero-initialised), so a fresh
adapter leaves the model's outputs unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import field_validator

from autopeft.methods.registry import MethodDefinition, register
from autopeft.space.component import ComponentSpace, MethodSettings
from autopeft.space.language import Placed, Width, resolve_width, widths

if TYPE_CHECKING:
    from torch import nn

POSITION_ROLES = {"attention": "o", "ffn": "ffn_down"}


class _BottleneckSchema(Placed):
    per_layer_flags: ClassVar[tuple[str, ...]] = ("per_layer_placement", "per_layer_width")
    size_fields: ClassVar[tuple[str, ...]] = ("width",)

    width: list[Width] = [8, 16, 32, 64]
    per_layer_width: bool = False

    @field_validator("width")
    @classmethod
    def _width(cls, values: list[Width]) -> list[Width]:
        return widths(values)


class SerialAdapterSchema(_BottleneckSchema):
    """Serial bottleneck adapter after the FFN (Pfeiffer) or after attention and FFN (Houlsby)."""

    method: Literal["serial_adapter"]
    positions: list[Literal["attention", "ffn"]] = ["ffn"]

    @field_validator("positions")
    @classmethod
    def _some_positions(cls, positions: list[str]) -> list[str]:
        if not positions:
            raise ValueError("list at least one of attention, ffn")
        return list(dict.fromkeys(positions))


class ParallelAdapterSchema(_BottleneckSchema):
    """Parallel bottleneck adapter beside the FFN, its output scaled by ``scaling``."""

    method: Literal["parallel_adapter"]
    scaling: float = 4.0


@dataclass(frozen=True)
class SerialAdapterSettings(MethodSettings):
    """``targets``: wrapped module name -> width."""

    targets: Mapping[str, int]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SerialAdapterSettings:
        return cls(dict(raw["targets"]))

    def placed_count(self) -> int:
        return len(self.targets)

    def placements(self) -> dict[str, float]:
        return dict(self.targets)


@dataclass(frozen=True)
class ParallelTarget:
    """An adapted FFN: its first projection (input tapped), its last (wrapped), the adapter's width."""

    input: str
    output: str
    width: int


@dataclass(frozen=True)
class ParallelAdapterSettings(MethodSettings):
    """``targets``: the adapted FFNs; ``scaling`` of the adapter's output."""

    targets: tuple[ParallelTarget, ...]
    scaling: float

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ParallelAdapterSettings:
        targets = tuple(ParallelTarget(t["input"], t["output"], int(t["width"])) for t in raw["targets"])
        return cls(targets, float(raw["scaling"]))

    def placed_count(self) -> int:
        return len(self.targets)

    def placements(self) -> dict[str, float]:
        return {target.output: target.width for target in self.targets}


class _BottleneckSpace(ComponentSpace):
    """Widths (global or per layer; 0 is off) and per-layer placement bits."""

    def declare_widths(self, units: dict[int, dict[str, str]]) -> None:
        self.widths = sorted({resolve_width(w, self.arch.hidden_size) for w in self.spec.width})
        if self.spec.per_layer_width:
            for layer in self.layers:
                self.declare(f"L{layer}.width", self.widths)
        else:
            self.declare("width", self.widths)
        self.declare_placement(units, self.spec.per_layer_placement)

    def width(self, params: dict[str, Any], layer: int) -> int:
        return int(self.value(params, f"L{layer}.width" if self.spec.per_layer_width else "width"))

    def canonical(self, params: dict[str, Any], layers_on: set[int] | None) -> dict[str, Any]:
        """Also fixes placement bits of a layer whose width is 0 (and a width with no bit on)."""
        params = super().canonical(params, layers_on)
        canonical = dict(params)
        for layer, units in self.units.items():
            width_key = self.key(f"L{layer}.width" if self.spec.per_layer_width else "width")
            bits = [self.key(f"L{layer}.{unit}") for unit in units]
            if self.width(params, layer) == 0:
                canonical.update({bit: False for bit in bits if bit in params})
            elif self.spec.per_layer_width and bits and all(not params.get(bit, True) for bit in bits):
                canonical[width_key] = self.widths[0]
        return canonical


class SerialAdapterSpace(_BottleneckSpace):
    """Parameters: ``width`` or ``L{layer}.width``, ``L{layer}.{o|ffn_down}`` bits."""

    def __init__(self, spec: SerialAdapterSchema, arch: Any, prefix: str = "") -> None:
        super().__init__(spec, arch, prefix)
        self.units = self.placement_units([POSITION_ROLES[p] for p in spec.positions])
        self.declare_widths(self.units)

    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> SerialAdapterSettings:
        targets = {}
        for layer, units in self.units.items():
            width = self.width(params, layer)
            for unit, name in units.items():
                if width > 0 and self.placed(params, layer, unit, layers_on):
                    targets[name] = width
        return SerialAdapterSettings(targets)

    def count(self, settings: SerialAdapterSettings) -> int:
        shapes = self.arch.shapes
        return sum(2 * shapes[name][1] * width + width + shapes[name][1] for name, width in settings.targets.items())


class ParallelAdapterSpace(_BottleneckSpace):
    """Parameters: ``width`` or ``L{layer}.width``, ``L{layer}.ffn`` bits."""

    def __init__(self, spec: ParallelAdapterSchema, arch: Any, prefix: str = "") -> None:
        super().__init__(spec, arch, prefix)
        field = self.field("method")
        self.ffn = {
            layer: (arch.module_name(layer, "ffn_up", field), arch.module_name(layer, "ffn_down", field))
            for layer in self.layers
        }
        self.units = {layer: {"ffn": down} for layer, (_, down) in self.ffn.items()}
        self.declare_widths(self.units)

    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> ParallelAdapterSettings:
        targets = []
        for layer, (up, down) in self.ffn.items():
            width = self.width(params, layer)
            if width > 0 and self.placed(params, layer, "ffn", layers_on):
                targets.append(ParallelTarget(up, down, width))
        return ParallelAdapterSettings(tuple(targets), float(self.spec.scaling))

    def count(self, settings: ParallelAdapterSettings) -> int:
        shapes = self.arch.shapes
        return sum(
            shapes[t.input][0] * t.width + t.width + t.width * shapes[t.output][1] + shapes[t.output][1]
            for t in settings.targets
        )


def inject_serial(model: nn.Module, settings: SerialAdapterSettings) -> None:
    """Wrap each target in a serial adapter (trainable; the rest stays as it is)."""
    from autopeft.methods.adapter_layers import SerialAdapterLayer  # torch: only when a model is built
    from autopeft.methods.wrapping import module_shape, replace_module

    for name, width in settings.targets.items():
        replace_module(model, name, lambda module, w=width: SerialAdapterLayer(module, w, module_shape(module)[1]))


def inject_parallel(model: nn.Module, settings: ParallelAdapterSettings) -> None:
    """Wrap each FFN's first and last projection around a parallel adapter."""
    from autopeft.methods.adapter_layers import ParallelAdapterOutput  # torch: only when a model is built
    from autopeft.methods.wrapping import Tap, module_shape, replace_module

    for target in settings.targets:
        d_in = module_shape(model.get_submodule(target.input))[0]
        output = replace_module(
            model,
            target.output,
            lambda module, t=target, d=d_in: ParallelAdapterOutput(
                module, d, t.width, module_shape(module)[1], settings.scaling
            ),
        )
        replace_module(model, target.input, lambda module, out=output: Tap(module, out, "input"))


register(
    MethodDefinition(
        name="serial_adapter",
        schema=SerialAdapterSchema,
        settings=SerialAdapterSettings,
        space=SerialAdapterSpace,
        inject=inject_serial,
        label="serial",
    )
)
register(
    MethodDefinition(
        name="parallel_adapter",
        schema=ParallelAdapterSchema,
        settings=ParallelAdapterSettings,
        space=ParallelAdapterSpace,
        inject=inject_parallel,
        label="parallel",
    )
)
