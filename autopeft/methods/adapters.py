"""Bottleneck adapters (PEFT has none): serial (Pfeiffer, Houlsby) and parallel (He et al.).

A serial adapter wraps a module and adds ``up(relu(down(y)))`` to its output ``y``: after
the FFN down-projection it is Pfeiffer's adapter, after the attention output too it is
Houlsby's. A parallel adapter reads the FFN's input and adds ``scaling * up(relu(down(x)))``
to the FFN's output. Both start as the identity (``up`` is zero-initialised), so a fresh
adapter leaves the model's outputs unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from autopeft.methods.wrapping import Reader, Tap, Wrapper, module_shape, replace_module
from autopeft.space.component import ComponentSpace
from autopeft.space.spec import resolve_width

POSITION_ROLES = {"attention": "o", "ffn": "ffn_down"}


class Bottleneck(nn.Module):
    """down (d_in -> width), ReLU, up (width -> d_out); up starts at zero."""

    def __init__(self, d_in: int, width: int, d_out: int):
        super().__init__()
        self.down = nn.Linear(d_in, width)
        self.up = nn.Linear(width, d_out)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(torch.relu(self.down(x)))


class SerialAdapterLayer(Wrapper):
    """``base_layer`` followed by a residual bottleneck on its output."""

    def __init__(self, base_layer: nn.Module, width: int, d_out: int):
        super().__init__(base_layer)
        self.adapter = Bottleneck(d_out, width, d_out)

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        y = self.base_layer(*args, **kwargs)
        return y + self.adapter(y)


class ParallelAdapterOutput(Reader):
    """Wraps the FFN's last projection and adds the scaled bottleneck of the FFN input (tapped)."""

    def __init__(self, base_layer: nn.Module, d_in: int, width: int, d_out: int, scaling: float):
        super().__init__(base_layer)
        self.adapter = Bottleneck(d_in, width, d_out)
        self.scaling = scaling

    def forward(self, h: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        x = self.take()
        return self.base_layer(h, *args, **kwargs) + self.scaling * self.adapter(x)


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
    """Parameters: ``width`` or ``L{layer}.width``, ``L{layer}.{o|ffn_down}`` bits. Settings:
    ``targets`` (wrapped module name -> width).
    """

    method = "serial_adapter"

    def __init__(self, spec: Any, arch: Any, prefix: str = ""):
        super().__init__(spec, arch, prefix)
        self.units = self.placement_units([POSITION_ROLES[p] for p in spec.positions])
        self.declare_widths(self.units)

    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> dict[str, Any]:
        targets = {}
        for layer, units in self.units.items():
            width = self.width(params, layer)
            for unit, name in units.items():
                if width > 0 and self.placed(params, layer, unit, layers_on):
                    targets[name] = width
        return {"targets": targets}

    def count(self, settings: dict[str, Any]) -> int:
        shapes = self.arch.shapes
        return sum(2 * shapes[name][1] * width + width + shapes[name][1] for name, width in settings["targets"].items())


class ParallelAdapterSpace(_BottleneckSpace):
    """Parameters: ``width`` or ``L{layer}.width``, ``L{layer}.ffn`` bits. Settings: ``targets``
    (list of {input, output, width}: the FFN's first and last projection), ``scaling``.
    """

    method = "parallel_adapter"

    def __init__(self, spec: Any, arch: Any, prefix: str = ""):
        super().__init__(spec, arch, prefix)
        field = self.field("method")
        self.ffn = {
            layer: (arch.module_name(layer, "ffn_up", field), arch.module_name(layer, "ffn_down", field))
            for layer in self.layers
        }
        self.units = {layer: {"ffn": down} for layer, (_, down) in self.ffn.items()}
        self.declare_widths(self.units)

    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> dict[str, Any]:
        targets = []
        for layer, (up, down) in self.ffn.items():
            width = self.width(params, layer)
            if width > 0 and self.placed(params, layer, "ffn", layers_on):
                targets.append({"input": up, "output": down, "width": width})
        return {"targets": targets, "scaling": float(self.spec.scaling)}

    def count(self, settings: dict[str, Any]) -> int:
        shapes = self.arch.shapes
        return sum(
            shapes[t["input"]][0] * t["width"]
            + t["width"]
            + t["width"] * shapes[t["output"]][1]
            + shapes[t["output"]][1]
            for t in settings["targets"]
        )


def inject_serial(model: nn.Module, settings: dict[str, Any]) -> None:
    """Wrap each target in a serial adapter (trainable; the rest stays as it is)."""
    for name, width in settings["targets"].items():
        replace_module(model, name, lambda module, w=width: SerialAdapterLayer(module, w, module_shape(module)[1]))


def inject_parallel(model: nn.Module, settings: dict[str, Any]) -> None:
    """Wrap each FFN's first and last projection around a parallel adapter."""
    for target in settings["targets"]:
        d_in = module_shape(model.get_submodule(target["input"]))[0]
        output = replace_module(
            model,
            target["output"],
            lambda module, t=target, d=d_in: ParallelAdapterOutput(
                module, d, t["width"], module_shape(module)[1], settings["scaling"]
            ),
        )
        replace_module(model, target["input"], lambda module, out=output: Tap(module, out, "input"))
