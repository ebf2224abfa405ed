"""Architecture discovery: the layer stacks and which linear modules play which role.

A search space is written in canonical roles (q, k, v, o, ffn_up, ffn_gate, ffn_down) and
"every layer"; this module maps both onto a concrete model's module names, so the same
space runs on BERT, RoBERTa, DeBERTa-v2, DistilBERT, GPT-2, Llama, Mistral, Qwen2, Gemma
and T5 unchanged. Encoder-decoder models (T5) number their encoder layers first, then
their decoder layers. GPT-2's fused ``c_attn`` plays q, k and v at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from autopeft.errors import SpecError

if TYPE_CHECKING:
    from torch import nn

# Names of a layer's sub-modules (relative to the layer) for each role, as full regexes.
ROLE_PATTERNS: dict[str, str] = {
    "q": r"(.*\.)?(query|query_proj|q_proj|q_lin|q|c_attn)",
    "k": r"(.*\.)?(key|key_proj|k_proj|k_lin|k|c_attn)",
    "v": r"(.*\.)?(value|value_proj|v_proj|v_lin|v|c_attn)",
    "o": r"attention\.output\.dense|attn\.c_proj|(.*\.)?(o_proj|out_lin|o|out_proj)",
    "ffn_up": r"intermediate\.dense|mlp\.c_fc|(.*\.)?(up_proj|lin1|fc1|wi|wi_0)",
    "ffn_gate": r"(.*\.)?(gate_proj|wi_1)",
    "ffn_down": r"output\.dense|mlp\.c_proj|(.*\.)?(down_proj|lin2|fc2|wo)",
}
ROLES = tuple(ROLE_PATTERNS)

_LAYER_LIST_NAMES = re.compile(r"(.*\.)?(layer|layers|h|block|blocks)$")

# Task heads trained in full (PEFT's ``modules_to_save``): top-level children of the model.
# DistilBERT's ``pre_classifier`` and DeBERTa's ``pooler`` are freshly initialised too.
HEAD_MODULES = ("pre_classifier", "pooler", "classifier", "score", "classification_head")


@dataclass(frozen=True)
class Architecture:
    """Where a model's layers are and the full module name of each (layer, role)."""

    model_type: str
    num_layers: int
    layer_names: tuple[str, ...]
    modules: dict[int, dict[str, str]] = field(default_factory=dict)
    shapes: dict[str, tuple[int, int]] = field(default_factory=dict)
    head_modules: tuple[str, ...] = ()
    head_parameters: int = 0
    hidden_size: int = 0
    num_heads: int = 0  # attention heads (query), 0 when the config does not say
    num_kv_heads: int = 0  # key/value heads (fewer than num_heads with grouped-query attention)
    norms: dict[int, tuple[str, ...]] = field(default_factory=dict)
    norm_parameters: dict[str, int] = field(default_factory=dict)
    bias_parameters: int = 0

    def roles(self) -> list[str]:
        """The roles this model has (in canonical order)."""
        present = {role for per_layer in self.modules.values() for role in per_layer}
        return [role for role in ROLES if role in present]

    def check_layer(self, layer: int, field_name: str = "space.layers") -> None:
        if not 0 <= layer < self.num_layers:
            raise SpecError(
                field_name,
                f"layer {layer} is out of range for this {self.num_layers}-layer model",
                f"use layer indices 0..{self.num_layers - 1}",
            )

    def module_name(self, layer: int, role: str, field_name: str = "space.modules") -> str:
        """The full module name for ``role`` in ``layer``; a SpecError if the model lacks it."""
        self.check_layer(layer)
        try:
            return self.modules[layer][role]
        except KeyError:
            raise SpecError(
                field_name,
                f"role '{role}' not found in layer {layer} of this {self.model_type} model",
                f"use roles this model has: {', '.join(self.roles())}",
            ) from None


def _layer_stacks(model: nn.Module) -> list[tuple[str, nn.ModuleList]]:
    """The outermost lists of layers (T5 has two: encoder and decoder), in model order."""
    from torch import nn  # here: the spec reads ``Architecture`` without torch

    candidates = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.ModuleList) and _LAYER_LIST_NAMES.fullmatch(name) and len(module) > 0
    ]
    outermost = [(n, m) for n, m in candidates if not any(n.startswith(other + ".") for other, _ in candidates)]
    if not outermost:
        raise SpecError(
            "model",
            "no stack of transformer layers found",
            "use a supported architecture (BERT, RoBERTa, DeBERTa-v2, DistilBERT, GPT-2, Llama, Mistral, Qwen2, "
            "Gemma, T5)",
        )
    return outermost


def linear_shape(module: nn.Module) -> tuple[int, int] | None:
    """(in_features, out_features) of a linear module, GPT-2's Conv1D included."""
    from torch import nn

    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if type(module).__name__ == "Conv1D" and getattr(module, "weight", None) is not None:
        rows, columns = module.weight.shape  # Conv1D stores (in, out)
        return int(rows), int(columns)
    return None


def is_norm(module: nn.Module) -> bool:
    """LayerNorm, RMSNorm and the families' own norm classes (T5LayerNorm, LlamaRMSNorm, ...)."""
    from torch import nn

    return isinstance(module, nn.LayerNorm) or (
        type(module).__name__.endswith(("LayerNorm", "RMSNorm", "Norm"))
        and any(True for _ in module.parameters(recurse=False))
    )


def _match_roles(
    layer: nn.Module, full_prefix: str, patterns: Mapping[str, str], shapes: dict[str, tuple[int, int]]
) -> tuple[dict[str, str], list[str]]:
    found: dict[str, str] = {}
    linear_names: list[str] = []
    for relative, sub in layer.named_modules():
        shape = linear_shape(sub)
        if shape is None or not relative:
            continue
        linear_names.append(relative)
        for role, pattern in patterns.items():
            # The first match wins (T5's self-attention q before its cross-attention q);
            # one module may play several roles (GPT-2's fused c_attn is q, k and v).
            if role not in found and re.fullmatch(pattern, relative):
                found[role] = f"{full_prefix}.{relative}"
                shapes[found[role]] = shape
    return found, linear_names


def discover_architecture(model: nn.Module, roles: Mapping[str, str] | None = None) -> Architecture:
    """Find the layer stacks and map each role to its module name in every layer.

    ``roles`` (role -> regex of a module name relative to a layer) maps an architecture
    by hand; its entries replace the built-in patterns for those roles.
    """
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", type(model).__name__)
    patterns = dict(ROLE_PATTERNS)
    if roles:
        patterns.update(roles)
    modules: dict[int, dict[str, str]] = {}
    shapes: dict[str, tuple[int, int]] = {}
    norms: dict[int, tuple[str, ...]] = {}
    norm_parameters: dict[str, int] = {}
    layer_names: list[str] = []
    linear_names: set[str] = set()
    for prefix, stack in _layer_stacks(model):
        for position, layer in enumerate(stack):
            index = len(layer_names)
            layer_names.append(f"{prefix}.{position}")
            modules[index], names = _match_roles(layer, layer_names[-1], patterns, shapes)
            linear_names.update(names)
            layer_norms = [(f"{layer_names[-1]}.{n}", m) for n, m in layer.named_modules() if n and is_norm(m)]
            norms[index] = tuple(name for name, _ in layer_norms)
            norm_parameters.update({name: sum(p.numel() for p in m.parameters()) for name, m in layer_norms})
    if not any(modules.values()):
        listed = ", ".join(sorted(linear_names)) or "none"
        raise SpecError(
            "model",
            f"unknown architecture '{model_type}': no linear module matched a role "
            f"(linear modules in a layer: {listed})",
            "map them by hand in the spec, e.g. `roles: {q: attn.query, v: attn.value, ffn_down: mlp.out}` "
            "(regexes of names relative to a layer)",
        )
    heads = _head_modules(model)
    head_ids = {id(p) for _, module in heads for p in module.parameters()}
    biases = sum(p.numel() for name, p in model.named_parameters() if name.endswith(".bias") and id(p) not in head_ids)
    return Architecture(
        model_type=model_type,
        num_layers=len(layer_names),
        layer_names=tuple(layer_names),
        modules=modules,
        shapes=shapes,
        head_modules=tuple(name for name, _ in heads),
        head_parameters=sum(p.numel() for _, module in heads for p in module.parameters()),
        hidden_size=_hidden_size(config),
        num_heads=_config_int(config, ("num_attention_heads", "n_head", "num_heads", "n_heads")),
        num_kv_heads=_config_int(
            config, ("num_key_value_heads", "num_attention_heads", "n_head", "num_heads", "n_heads")
        ),
        norms=norms,
        norm_parameters=norm_parameters,
        bias_parameters=biases,
    )


def _head_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, child) for name, child in model.named_children() if name in HEAD_MODULES]


def _hidden_size(config: object) -> int:
    return _config_int(config, ("hidden_size", "d_model", "n_embd", "dim"))


def _config_int(config: object, keys: tuple[str, ...]) -> int:
    """The first of ``keys`` the config sets to an integer (families name the same thing differently)."""
    for key in keys:
        value = getattr(config, key, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 0


def _unwrapped(model: nn.Module) -> nn.Module:
    """The model a PEFT model wraps; any other model itself."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def head_module_names(model: nn.Module) -> list[str]:
    """The task head's top-level module names (trained in full by every method).

    ``model`` may be a PEFT model: the head is looked up on the model it wraps.
    """
    return [name for name, _ in _head_modules(_unwrapped(model))]


def peft_task_type(model: nn.Module) -> str:
    """PEFT's task type for a model (CAUSAL_LM for language-model heads, SEQ_CLS for
    classifiers), as the tasks decide it (``autopeft.tasks.peft_task_type``)."""
    from autopeft.tasks import peft_task_type as for_class  # on use: the tasks import SciPy and scikit-learn

    return for_class(type(_unwrapped(model)))
