"""LayerNorm tuning (stock PEFT ``LNTuningConfig``) and bias-only tuning (BitFit, native)."""

from __future__ import annotations

from typing import Any

from peft import LNTuningConfig
from torch import nn

from autopeft.errors import SpecError
from autopeft.models.arch import head_module_names
from autopeft.space.component import ComponentSpace, MethodUnavailable


class LayerNormSpace(ComponentSpace):
    """Parameters: ``L{layer}.norm`` bits when placement is per layer. Setting: ``targets``
    (the norm modules of the placed layers, trained in full).
    """

    method = "layernorm"

    def __init__(self, spec: Any, arch: Any, prefix: str = ""):
        super().__init__(spec, arch, prefix)
        if not any(arch.norms.get(layer) for layer in self.layers):
            raise SpecError(self.field("method"), "no norm modules found in the chosen layers", "choose another method")
        self.declare_placement({layer: {"norm": ""} for layer in self.layers}, spec.per_layer_placement)

    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> dict[str, Any]:
        targets = [
            name
            for layer in self.layers
            if self.placed(params, layer, "norm", layers_on)
            for name in self.arch.norms.get(layer, ())
        ]
        return {"targets": targets}

    def count(self, settings: dict[str, Any]) -> int:
        return sum(self.arch.norm_parameters[name] for name in settings["targets"])


def layernorm_config(settings: dict[str, Any]) -> LNTuningConfig:
    return LNTuningConfig(target_modules=sorted(settings["targets"]))


class BiasSpace(ComponentSpace):
    """No parameters: every bias outside the head trains. Setting: ``enabled``."""

    method = "bias"
    uses_layers = False

    def __init__(self, spec: Any, arch: Any, prefix: str = ""):
        super().__init__(spec, arch, prefix)
        if arch.bias_parameters == 0:
            raise MethodUnavailable(
                self.field("method"), f"this {arch.model_type} model has no biases", "choose another method"
            )

    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> dict[str, Any]:
        return {"enabled": True}

    def is_empty(self, settings: dict[str, Any]) -> bool:
        return not settings["enabled"]

    def count(self, settings: dict[str, Any]) -> int:
        return self.arch.bias_parameters


def train_biases(model: nn.Module, settings: dict[str, Any]) -> None:
    """Unfreeze every bias outside the head (the head trains anyway)."""
    head_modules = head_module_names(model)
    for name, parameter in model.named_parameters():
        if name.endswith(".bias") and name.split(".")[0] not in head_modules:
            parameter.requires_grad_(True)
