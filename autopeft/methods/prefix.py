"""Prefix tuning, owned by the package: learned key/value prefixes in each self-attention.

Every query of a placed layer also attends to ``virtual_tokens`` learned key/value pairs.
This is prefix tuning in its parallel form (He et al., ICLR 2022, "Towards a unified view of
parameter-efficient transfer learning"; the form LLaMA-Adapter trains): the prefix gets its
own softmax, and its output is added to the attention's output before the output projection,
instead of sharing the softmax with the sequence's keys. That needs only two tensors every
transformer has, the query projection's output and the output projection's input, so it
works on every family whose q and o modules the architecture discovery finds, whatever its
attention implementation, cache or position scheme (PEFT's prefix tuning rides on
``past_key_values``, which encoders no longer take). Prefix values start at zero, so a fresh
prefix leaves the model's outputs unchanged. Keys and values follow the model's key/value
heads (grouped-query attention shares them across query heads).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import field_validator

from autopeft.methods.registry import MethodDefinition, register
from autopeft.space.component import ComponentSpace, MethodSettings, MethodUnavailable
from autopeft.space.language import Placed, positive_sizes

if TYPE_CHECKING:
    from torch import nn


class PrefixSchema(Placed):
    """Prefix tuning (autopeft's own): learned key/value prefixes in each self-attention; 0 tokens is off."""

    size_fields: ClassVar[tuple[str, ...]] = ("virtual_tokens",)

    method: Literal["prefix"]
    virtual_tokens: list[int] = [4, 8, 16]

    @field_validator("virtual_tokens")
    @classmethod
    def _tokens(cls, tokens: list[int]) -> list[int]:
        return positive_sizes(tokens, allow_zero=True)


@dataclass(frozen=True)
class PrefixTarget:
    """A placed layer: its query projection (tapped) and attention output projection (wrapped)."""

    query: str
    output: str


@dataclass(frozen=True)
class PrefixSettings(MethodSettings):
    """``targets``: the placed layers; ``virtual_tokens`` per layer; the model's head counts."""

    targets: tuple[PrefixTarget, ...]
    virtual_tokens: int
    heads: int
    kv_heads: int

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> PrefixSettings:
        targets = tuple(PrefixTarget(t["query"], t["output"]) for t in raw["targets"])
        return cls(targets, int(raw["virtual_tokens"]), int(raw["heads"]), int(raw["kv_heads"]))

    def placed_count(self) -> int:
        return len(self.targets)

    def placements(self) -> dict[str, float]:
        return {target.output: self.virtual_tokens for target in self.targets}


class PrefixSpace(ComponentSpace[PrefixSettings]):
    """Parameters: ``virtual_tokens`` (0 switches prefix tuning off), ``L{layer}.attn`` bits when
    placement is per layer.
    """

    def __init__(self, spec: PrefixSchema, arch: Any, prefix: str = "") -> None:
        super().__init__(spec, arch, prefix)
        field = self.field("method")
        heads, kv_heads = arch.num_heads, arch.num_kv_heads
        if heads <= 0 or kv_heads <= 0 or heads % kv_heads:
            raise MethodUnavailable(
                field,
                f"the {arch.model_type} config gives no usable attention head count ({heads} heads, {kv_heads} kv)",
                "choose another method",
            )
        self.modules = {
            layer: (arch.module_name(layer, "q", field), arch.module_name(layer, "o", field)) for layer in self.layers
        }
        for query, output in self.modules.values():
            width = arch.shapes[output][0]
            if width % heads or arch.shapes[query][1] < width:
                raise MethodUnavailable(
                    field,
                    f"{query} and {output} do not split into {heads} attention heads",
                    "choose another method, or map q and o by hand with `roles:`",
                )
        self.heads, self.kv_heads = heads, kv_heads
        self.declare("virtual_tokens", list(spec.virtual_tokens))
        self.declare_placement({layer: {"attn": o} for layer, (_, o) in self.modules.items()}, spec.per_layer_placement)

    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> PrefixSettings:
        tokens = int(self.value(params, "virtual_tokens"))
        targets = tuple(
            PrefixTarget(query, output)
            for layer, (query, output) in self.modules.items()
            if tokens > 0 and self.placed(params, layer, "attn", layers_on)
        )
        return PrefixSettings(targets, tokens, self.heads, self.kv_heads)

    def count(self, settings: PrefixSettings) -> int:
        per_layer = [
            2 * settings.virtual_tokens * settings.kv_heads * (self.arch.shapes[t.output][0] // self.heads)
            for t in settings.targets
        ]
        return sum(per_layer)


def inject_prefix(model: nn.Module, settings: PrefixSettings) -> None:
    """Give each target layer a learned prefix: wrap its output projection, tap its queries."""
    from autopeft.methods.prefix_layers import PrefixAttention  # torch: only when a model is built
    from autopeft.methods.wrapping import Tap, replace_module

    for target in settings.targets:
        attention = replace_module(
            model,
            target.output,
            lambda module: PrefixAttention(module, settings.virtual_tokens, settings.heads, settings.kv_heads),
        )
        replace_module(model, target.query, lambda module, reader=attention: Tap(module, reader, "output"))


register(
    MethodDefinition(
        name="prefix", schema=PrefixSchema, settings=PrefixSettings, space=PrefixSpace, inject=inject_prefix
    )
)
