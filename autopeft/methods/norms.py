"""LayerNorm tuning (stock PEFT ``LNTuningConfig``) and bias-only tuning (BitFit, native)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from autopeft.errors import SpecError
from autopeft.methods.registry import MethodDefinition, register
from autopeft.models.arch import head_module_names
from autopeft.space.component import ComponentSpace, MethodSettings, MethodUnavailable
from autopeft.space.language import ComponentSchema, Placed

if TYPE_CHECKING:
    from peft import LNTuningConfig
    from torch import nn


class LayerNormSchema(Placed):
    """LayerNorm (RMSNorm) tuning: the norms of the chosen layers train in full."""

    method: Literal["layernorm"]


@dataclass(frozen=True)
class LayerNormSettings(MethodSettings):
    """``targets``: the norm modules of the placed layers, trained in full."""

    targets: tuple[str, ...]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LayerNormSettings:
        return cls(tuple(raw["targets"]))

    def placed_count(self) -> int:
        return len(self.targets)

    def placements(self) -> dict[str, float]:
        return dict.fromkeys(self.targets, 1)


class LayerNormSpace(ComponentSpace[LayerNormSettings]):
    """Parameters: ``L{layer}.norm`` bits when placement is per layer."""

    def __init__(self, spec: LayerNormSchema, arch: Any, prefix: str = "") -> None:
        super().__init__(spec, arch, prefix)
        if not any(arch.norms.get(layer) for layer in self.layers):
            raise SpecError(self.field("method"), "no norm modules found in the chosen layers", "choose another method")
        self.declare_placement({layer: {"norm": ""} for layer in self.layers}, spec.per_layer_placement)

    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> LayerNormSettings:
        targets = tuple(
            name
            for layer in self.layers
            if self.placed(params, layer, "norm", layers_on)
            for name in self.arch.norms.get(layer, ())
        )
        return LayerNormSettings(targets)

    def count(self, settings: LayerNormSettings) -> int:
        return sum(self.arch.norm_parameters[name] for name in settings.targets)


def layernorm_config(settings: LayerNormSettings) -> LNTuningConfig:
    from peft import LNTuningConfig  # here: the spec and the reports read this module without torch

    return LNTuningConfig(target_modules=sorted(settings.targets))


register(
    MethodDefinition(
        name="layernorm",
        schema=LayerNormSchema,
        settings=LayerNormSettings,
        space=LayerNormSpace,
        peft_config=layernorm_config,
    )
)


class BiasSchema(ComponentSchema):
    """Bias-only tuning (BitFit): every bias of the model trains."""

    method: Literal["bias"]


@dataclass(frozen=True)
class BiasSettings(MethodSettings):
    """``enabled``: every bias outside the head trains."""

    enabled: bool

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BiasSettings:
        return cls(bool(raw["enabled"]))

    def placed_count(self) -> None:
        return None

    def placements(self) -> dict[str, float]:
        return {}  # every bias, not module by module

    def is_empty(self) -> bool:
        return not self.enabled


class BiasSpace(ComponentSpace[BiasSettings]):
    """No parameters: every bias outside the head trains."""

    uses_layers = False

    def __init__(self, spec: BiasSchema, arch: Any, prefix: str = "") -> None:
        super().__init__(spec, arch, prefix)
        if arch.bias_parameters == 0:
            raise MethodUnavailable(
                self.field("method"), f"this {arch.model_type} model has no biases", "choose another method"
            )

    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> BiasSettings:
        return BiasSettings(True)

    def count(self, settings: BiasSettings) -> int:
        return self.arch.bias_parameters


def train_biases(model: nn.Module, settings: BiasSettings) -> None:
    """Unfreeze every bias outside the head (the head trains anyway)."""
    head_modules = head_module_names(model)
    for name, parameter in model.named_parameters():
        if name.endswith(".bias") and name.split(".")[0] not in head_modules:
            parameter.requires_grad_(True)


register(MethodDefinition(name="bias", schema=BiasSchema, settings=BiasSettings, space=BiasSpace, inject=train_biases))
