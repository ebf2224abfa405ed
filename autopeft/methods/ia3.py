"""IA3 through stock PEFT: a learned scale per feature of each placed module.

On FFN down-projections (PEFT's ``feedforward_modules``) the scale applies to the input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from autopeft.methods.registry import MethodDefinition, register
from autopeft.space.component import ComponentSpace, MethodSettings
from autopeft.space.language import OnModules, Role

if TYPE_CHECKING:
    from peft import IA3Config


class IA3Schema(OnModules):
    """IA3: learned scaling vectors; on FFN down-projections they scale the input."""

    method: Literal["ia3"]
    modules: list[Role] = ["k", "v", "ffn_down"]


@dataclass(frozen=True)
class IA3Settings(MethodSettings):
    """``targets``: module names; ``feedforward``: those of them scaled on their input."""

    targets: tuple[str, ...]
    feedforward: tuple[str, ...]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> IA3Settings:
        return cls(tuple(raw["targets"]), tuple(raw["feedforward"]))

    def placed_count(self) -> int:
        return len(self.targets)

    def placements(self) -> dict[str, float]:
        return dict.fromkeys(self.targets, 1)


class IA3Space(ComponentSpace[IA3Settings]):
    """Parameters: ``L{layer}.{role}`` bits when placement is per layer."""

    def __init__(self, spec: IA3Schema, arch: Any, prefix: str = "") -> None:
        super().__init__(spec, arch, prefix)
        self.units = self.placement_units(spec.modules)
        self.declare_placement(self.units, spec.per_layer_placement)

    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> IA3Settings:
        targets, feedforward = [], []
        for layer, units in self.units.items():
            for unit, name in units.items():
                if self.placed(params, layer, unit, layers_on):
                    targets.append(name)
                    if unit == "ffn_down":
                        feedforward.append(name)
        return IA3Settings(tuple(targets), tuple(feedforward))

    def count(self, settings: IA3Settings) -> int:
        feedforward = set(settings.feedforward)
        shapes = self.arch.shapes
        return sum(shapes[name][0] if name in feedforward else shapes[name][1] for name in settings.targets)


def ia3_config(settings: IA3Settings) -> IA3Config:
    from peft import IA3Config  # here: the spec and the reports read this module without torch

    return IA3Config(target_modules=sorted(settings.targets), feedforward_modules=sorted(settings.feedforward))


register(MethodDefinition(name="ia3", schema=IA3Schema, settings=IA3Settings, space=IA3Space, peft_config=ia3_config))
