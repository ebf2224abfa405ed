"""IA3 through stock PEFT: a learned scale per feature of each placed module.

On FFN down-projections (PEFT's ``feedforward_modules``) the scale applies to the input.
"""

from __future__ import annotations

from typing import Any

from peft import IA3Config

from autopeft.space.component import ComponentSpace


class IA3Space(ComponentSpace):
    """Parameters: ``L{layer}.{role}`` bits when placement is per layer. Settings:
    ``targets`` (module names) and ``feedforward`` (those scaled on their input).
    """

    method = "ia3"

    def __init__(self, spec: Any, arch: Any, prefix: str = ""):
        super().__init__(spec, arch, prefix)
        self.units = self.placement_units(spec.modules)
        self.declare_placement(self.units, spec.per_layer_placement)

    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> dict[str, Any]:
        targets, feedforward = [], []
        for layer, units in self.units.items():
            for unit, name in units.items():
                if self.placed(params, layer, unit, layers_on):
                    targets.append(name)
                    if unit == "ffn_down":
                        feedforward.append(name)
        return {"targets": targets, "feedforward": feedforward}

    def count(self, settings: dict[str, Any]) -> int:
        feedforward = set(settings["feedforward"])
        shapes = self.arch.shapes
        return sum(shapes[name][0] if name in feedforward else shapes[name][1] for name in settings["targets"])


def ia3_config(settings: dict[str, Any]) -> IA3Config:
    return IA3Config(
        target_modules=sorted(settings["targets"]),
        feedforward_modules=sorted(settings["feedforward"]),
    )
