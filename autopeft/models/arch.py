"""Architecture discovery: the layer stack and which linear modules play which role.

A search space is written in canonical roles (q, k, v, o, ffn_up, ffn_gate, ffn_down) and
"every layer"; this module maps both onto a concrete model's module names, so the same
space runs on BERT, RoBERTa, DistilBERT, Llama, Qwen2, ... unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from torch import nn

from autopeft.errors import SpecError

# Names of a layer's sub-modules (relative to the layer) for each role, as full regexes.
ROLE_PATTERNS: dict[str, str] = {
    "q": r"(.*\.)?(query|q_proj|q_lin|q)",
    "k": r"(.*\.)?(key|k_proj|k_lin|k)",
    "v": r"(.*\.)?(value|v_proj|v_lin|v)",
    "o": r"attention\.output\.dense|(.*\.)?(o_proj|out_lin|o|out_proj)",
    "ffn_up": r"intermediate\.dense|(.*\.)?(up_proj|lin1|fc1|wi|wi_0)",
    "ffn_gate": r"(.*\.)?(gate_proj|wi_1)",
    "ffn_down": r"output\.dense|(.*\.)?(down_proj|lin2|fc2|wo)",
}

_LAYER_LIST_NAMES = re.compile(r"(.*\.)?(layer|layers|h|block|blocks)$")


@dataclass(frozen=True)
class Architecture:
    """Where a model's layers are and the full module name of each (layer, role)."""

    model_type: str
    num_layers: int
    layer_prefix: str
    modules: dict[int, dict[str, str]] = field(default_factory=dict)
    shapes: dict[str, tuple[int, int]] = field(default_factory=dict)
    head_parameters: int = 0

    def roles(self) -> list[str]:
        """The roles this model has (in canonical order)."""
        present = {role for per_layer in self.modules.values() for role in per_layer}
        return [role for role in ROLE_PATTERNS if role in present]

    def module_name(self, layer: int, role: str) -> str:
        """The full module name for ``role`` in ``layer``; a SpecError if the model lacks it."""
        if not 0 <= layer < self.num_layers:
            raise SpecError(
                "space.layers",
                f"layer {layer} is out of range for this {self.num_layers}-layer model",
                f"use layer indices 0..{self.num_layers - 1}",
            )
        try:
            return self.modules[layer][role]
        except KeyError:
            raise SpecError(
                "space.modules",
                f"role '{role}' not found in this {self.model_type} model",
                f"use roles this model has: {', '.join(self.roles())}",
            ) from None


def _find_layer_list(model: nn.Module, num_layers: int | None) -> tuple[str, nn.ModuleList]:
    candidates = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.ModuleList) and _LAYER_LIST_NAMES.fullmatch(name) and len(module) > 0
    ]
    if num_layers is not None:
        sized = [c for c in candidates if len(c[1]) == num_layers]
        candidates = sized or candidates
    if not candidates:
        raise SpecError(
            "model",
            "no stack of transformer layers found",
            "use a supported architecture (BERT, RoBERTa, DistilBERT, GPT-2, Llama, Qwen2, ...)",
        )
    # The longest stack is the transformer body (not, say, a list of heads).
    return max(candidates, key=lambda c: len(c[1]))


def _linear_shape(module: nn.Module) -> tuple[int, int] | None:
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    return None


def discover_architecture(model: nn.Module) -> Architecture:
    """Find the layer stack and map each role to its module name in every layer."""
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", type(model).__name__)
    num_layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    prefix, layers = _find_layer_list(model, num_layers)

    modules: dict[int, dict[str, str]] = {}
    shapes: dict[str, tuple[int, int]] = {}
    linear_names: list[str] = []
    for index, layer in enumerate(layers):
        found: dict[str, str] = {}
        for relative, sub in layer.named_modules():
            shape = _linear_shape(sub)
            if shape is None or not relative:
                continue
            linear_names.append(relative)
            for role, pattern in ROLE_PATTERNS.items():
                if role not in found and re.fullmatch(pattern, relative):
                    full = f"{prefix}.{index}.{relative}"
                    found[role] = full
                    shapes[full] = shape
                    break
        modules[index] = found
    if not any(modules.values()):
        names = sorted(set(linear_names))
        raise SpecError(
            "model",
            f"unknown architecture '{model_type}': no linear module matched a role "
            f"(linear modules in a layer: {', '.join(names) or 'none'})",
            "use a supported architecture (BERT, RoBERTa, DistilBERT, Llama, Qwen2, Mistral, Gemma)",
        )
    return Architecture(model_type, len(layers), prefix, modules, shapes, _head_parameters(model))


# The task heads PEFT trains in full (its ``modules_to_save`` for sequence classification).
HEAD_MODULES = ("classifier", "score")


def _head_parameters(model: nn.Module) -> int:
    names = dict(model.named_children())
    return sum(p.numel() for name in HEAD_MODULES if name in names for p in names[name].parameters())
