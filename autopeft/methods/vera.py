"""VeRA (Kopiczko et al., ICLR 2024, "VeRA: Vector-based Random Matrix Adaptation") through
stock PEFT's ``VeraConfig``.

Like LoRA, a placed module ``W`` gains a low-rank update, ``B A x``; unlike LoRA, ``A`` (rank x
in) and ``B`` (out x rank) are frozen random matrices, drawn once from a seeded generator and
shared by every placed module (PEFT sizes them to the largest placed module and slices them
for smaller ones). What trains is a pair of scaling vectors per module: ``lambda_d`` (one per
rank, on ``A``'s output, starting at ``d_initial``) and ``lambda_b`` (one per output feature,
on ``B``'s output, starting at zero, so a fresh adapter leaves the outputs unchanged). A placed
module therefore adds ``rank + out_features`` trainable parameters; the projections are
buffers, counted by neither side. The rank is one for every module (PEFT's VeRA shares one
``A``/``B`` pair), so a list of ranks searches one global value.

PEFT wraps ``nn.Linear`` and GPT-2's ``Conv1D`` (flipping ``fan_in_fan_out`` for it) and mixes
modules of different shapes, and those are the only modules the architecture discovery maps to
roles, so every model the discovery maps can take VeRA (the tests build it on each family).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from autopeft.methods.registry import MethodDefinition, register
from autopeft.space.component import ComponentSpace, MethodSettings
from autopeft.space.language import Dropout, RankedOnModules, Role

if TYPE_CHECKING:
    from peft import VeraConfig


class VeraSchema(RankedOnModules):
    """VeRA: frozen random projections shared by every placed module; each module trains two
    scaling vectors (``rank`` + its output features)."""

    size_fields: ClassVar[tuple[str, ...]] = ("rank",)

    method: Literal["vera"]
    modules: list[Role] = ["q", "v"]
    per_layer_placement: bool = True
    rank: list[int] = [64, 256, 1024]
    d_initial: float = Field(default=0.1, description="initial value of each lambda_d entry")
    dropout: Dropout = 0.0


@dataclass(frozen=True)
class VeraSettings(MethodSettings):
    """``targets``: module names; ``rank`` of the shared projections; ``d_initial``, ``dropout``."""

    targets: tuple[str, ...]
    rank: int
    d_initial: float
    dropout: float

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> VeraSettings:
        return cls(tuple(raw["targets"]), int(raw["rank"]), float(raw["d_initial"]), float(raw["dropout"]))

    def placed_count(self) -> int:
        return len(self.targets)

    def placements(self) -> dict[str, float]:
        return dict.fromkeys(self.targets, self.rank)


class VeraSpace(ComponentSpace[VeraSettings]):
    """Parameters: ``rank``, ``dropout`` (when searched), ``L{layer}.{role}`` bits when placement is per layer."""

    def __init__(self, spec: VeraSchema, arch: Any, prefix: str = "") -> None:
        super().__init__(spec, arch, prefix)
        self.units = self.placement_units(spec.modules)
        self.declare("rank", spec.rank)
        self.declare_placement(self.units, spec.per_layer_placement)
        self.declare("dropout", spec.dropout)

    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> VeraSettings:
        targets = tuple(
            name
            for layer, units in self.units.items()
            for unit, name in units.items()
            if self.placed(params, layer, unit, layers_on)
        )
        return VeraSettings(
            targets,
            int(self.value(params, "rank")),
            float(self.spec.d_initial),
            float(self.value(params, "dropout")),
        )

    def count(self, settings: VeraSettings) -> int:
        """``lambda_d`` (rank) and ``lambda_b`` (output features) per placed module."""
        return sum(settings.rank + self.arch.shapes[name][1] for name in settings.targets)


def vera_config(settings: VeraSettings) -> VeraConfig:
    """A VeraConfig on exactly the target modules; the projections are saved with the adapter
    (``save_projection``), so a saved adapter does not depend on regenerating them."""
    from peft import VeraConfig  # here: the spec and the reports read this module without torch

    return VeraConfig(
        target_modules=sorted(settings.targets),
        r=settings.rank,
        d_initial=settings.d_initial,
        vera_dropout=settings.dropout,
        save_projection=True,
    )


register(
    MethodDefinition(name="vera", schema=VeraSchema, settings=VeraSettings, space=VeraSpace, peft_config=vera_config)
)
