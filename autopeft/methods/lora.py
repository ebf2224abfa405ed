"""LoRA, DoRA and rsLoRA: placement per (layer, module), rank per layer, through stock PEFT."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from autopeft.errors import SpecError
from autopeft.methods.registry import MethodDefinition, register
from autopeft.space.component import ComponentSpace, MethodSettings
from autopeft.space.language import Dropout, RankedOnModules, Role, Scale

if TYPE_CHECKING:
    from peft import LoraConfig

LoraVariant = Literal["lora", "dora", "rslora"]


class LoraSchema(RankedOnModules):
    """LoRA, DoRA or rsLoRA (``variant``; a list searches it) on module roles."""

    per_layer_flags: ClassVar[tuple[str, ...]] = ("per_layer_placement", "per_layer_rank")
    size_fields: ClassVar[tuple[str, ...]] = ("rank",)

    method: Literal["lora"]
    variant: LoraVariant | list[LoraVariant] = "lora"
    modules: list[Role] = ["q", "v"]
    per_layer_placement: bool = True
    rank: list[int] = [2, 4, 8, 16]
    per_layer_rank: bool = True
    alpha_ratio: Scale = 2.0
    dropout: Dropout = 0.0


@dataclass(frozen=True)
class LoraSettings(MethodSettings):
    """``targets``: module name -> rank; ``alpha_ratio``: alpha / rank on every module."""

    targets: Mapping[str, int]
    variant: str
    alpha_ratio: float
    dropout: float

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LoraSettings:
        return cls(
            dict(raw["targets"]), str(raw.get("variant", "lora")), float(raw["alpha_ratio"]), float(raw["dropout"])
        )

    def placed_count(self) -> int:
        return len(self.targets)

    def placements(self) -> dict[str, float]:
        return dict(self.targets)


class LoraSpace(ComponentSpace[LoraSettings]):
    """Parameters: ``L{layer}.{role}`` bits, ``L{layer}.rank`` or ``rank``, ``variant``,
    ``alpha_ratio``, ``dropout`` (each only when searched).
    """

    def __init__(self, spec: LoraSchema, arch: Any, prefix: str = "") -> None:
        super().__init__(spec, arch, prefix)
        self.units = self.placement_units(spec.modules)
        self._check_ranks()
        self.declare("variant", spec.variant if isinstance(spec.variant, list) else [spec.variant])
        if spec.per_layer_rank:
            for layer in self.layers:
                self.declare(f"L{layer}.rank", spec.rank)
        else:
            self.declare("rank", spec.rank)
        self.declare_placement(self.units, spec.per_layer_placement)
        self.declare("alpha_ratio", spec.alpha_ratio)
        self.declare("dropout", spec.dropout)

    def _check_ranks(self) -> None:
        smallest = min(min(self.arch.shapes[name]) for units in self.units.values() for name in units.values())
        too_big = [r for r in self.spec.rank if r > smallest]
        if too_big:
            raise SpecError(
                self.field("rank"),
                f"rank {too_big[0]} exceeds the smallest targeted matrix dimension ({smallest})",
                f"use ranks up to {smallest}",
            )

    def _rank(self, params: dict[str, Any], layer: int) -> int:
        return int(self.value(params, f"L{layer}.rank" if self.spec.per_layer_rank else "rank"))

    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> LoraSettings:
        targets = {
            name: self._rank(params, layer)
            for layer, units in self.units.items()
            for unit, name in units.items()
            if self.placed(params, layer, unit, layers_on)
        }
        return LoraSettings(
            targets,
            str(self.value(params, "variant")),
            float(self.value(params, "alpha_ratio")),
            float(self.value(params, "dropout")),
        )

    def count(self, settings: LoraSettings) -> int:
        shapes = self.arch.shapes
        total = sum(rank * sum(shapes[name]) for name, rank in settings.targets.items())
        if settings.variant == "dora":  # one magnitude per output feature
            total += sum(shapes[name][1] for name in settings.targets)
        return total

    def canonical(self, params: dict[str, Any], layers_on: set[int] | None) -> dict[str, Any]:
        """Also fixes the rank of a layer where no module is placed (it is unused)."""
        params = super().canonical(params, layers_on)
        if not self.spec.per_layer_rank:
            return params
        targets = self.settings(params, layers_on).targets
        canonical = dict(params)
        for layer, units in self.units.items():
            key = self.key(f"L{layer}.rank")
            if key in params and not any(name in targets for name in units.values()):
                canonical[key] = self.spec.rank[0]
        return canonical


def lora_config(settings: LoraSettings) -> LoraConfig:
    """A LoraConfig placing a module of its own rank on each target.

    The most common rank becomes ``r``; the others go to ``rank_pattern``/``alpha_pattern``
    keyed by the escaped full module name, which PEFT matches exactly.
    """
    from peft import LoraConfig  # here: the spec and the reports read this module without torch

    targets = settings.targets
    ratio = settings.alpha_ratio
    default_rank = Counter(targets.values()).most_common(1)[0][0]
    rank_pattern = {re.escape(name): rank for name, rank in targets.items() if rank != default_rank}
    return LoraConfig(
        target_modules=sorted(targets),
        r=default_rank,
        lora_alpha=ratio * default_rank,
        rank_pattern=rank_pattern,
        alpha_pattern={name: ratio * rank for name, rank in rank_pattern.items()},
        lora_dropout=settings.dropout,
        use_dora=settings.variant == "dora",
        use_rslora=settings.variant == "rslora",
    )


register(
    MethodDefinition(name="lora", schema=LoraSchema, settings=LoraSettings, space=LoraSpace, peft_config=lora_config)
)
