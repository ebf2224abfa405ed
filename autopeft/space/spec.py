"""The search-space language: what users write under ``space:`` (YAML or Python objects).

A space is a list of **components**, one per method (LoRA, IA3, prefix tuning, LayerNorm
or bias tuning, serial or parallel bottleneck adapters), combined either as a **choice**
(the searched ``method`` picks one) or **together** (a hybrid: every component at once,
each switchable off through its own placement bits or a width of 0). A list of values is
searched; a single value is fixed. Parameters of a component exist only when it is used:
the optimizer sees unused ones at fixed values. Layers are written as ``all`` (the model's
own layers, found by introspection) or indices, modules as roles (q, k, v, o, ffn_up,
ffn_gate, ffn_down).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["q", "k", "v", "o", "ffn_up", "ffn_gate", "ffn_down"]
LoraVariant = Literal["lora", "dora", "rslora"]
_HIDDEN_FRACTION = re.compile(r"hidden/(\d+)")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(Strict):
    """A numeric interval to search; ``log`` samples it on a log scale (learning rates)."""

    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log-scale range needs low > 0")
        return self


def _distinct_roles(modules: list[str]) -> list[str]:
    if not modules:
        raise ValueError("list at least one module role")
    return list(dict.fromkeys(modules))


def _positive_sizes(values: list[int], allow_zero: bool) -> list[int]:
    floor = 0 if allow_zero else 1
    if not values or any(v < floor for v in values):
        raise ValueError(f"give a non-empty list of integers >= {floor}")
    return sorted(set(values))


class _Placed(Strict):
    """Where a component goes: layers (``all`` or indices) and per-layer on/off bits."""

    layers: Literal["all"] | list[int] = "all"
    per_layer_placement: bool = False


class LoraComponent(_Placed):
    """LoRA, DoRA or rsLoRA (``variant``; a list searches it) on module roles."""

    method: Literal["lora"]
    variant: LoraVariant | list[LoraVariant] = "lora"
    modules: list[Role] = ["q", "v"]
    per_layer_placement: bool = True
    rank: list[int] = [2, 4, 8, 16]
    per_layer_rank: bool = True
    alpha_ratio: float | Range = 2.0
    dropout: float | Range = 0.0

    @field_validator("modules")
    @classmethod
    def _roles(cls, modules: list[str]) -> list[str]:
        return _distinct_roles(modules)

    @field_validator("rank")
    @classmethod
    def _ranks(cls, ranks: list[int]) -> list[int]:
        return _positive_sizes(ranks, allow_zero=False)


class IA3Component(_Placed):
    """IA3: learned scaling vectors; on FFN down-projections they scale the input."""

    method: Literal["ia3"]
    modules: list[Role] = ["k", "v", "ffn_down"]

    @field_validator("modules")
    @classmethod
    def _roles(cls, modules: list[str]) -> list[str]:
        return _distinct_roles(modules)


class PrefixComponent(_Placed):
    """Prefix tuning (autopeft's own): learned key/value prefixes in each self-attention; 0 tokens is off."""

    method: Literal["prefix"]
    virtual_tokens: list[int] = [4, 8, 16]

    @field_validator("virtual_tokens")
    @classmethod
    def _tokens(cls, tokens: list[int]) -> list[int]:
        return _positive_sizes(tokens, allow_zero=True)


class LayerNormComponent(_Placed):
    """LayerNorm (RMSNorm) tuning: the norms of the chosen layers train in full."""

    method: Literal["layernorm"]


class BiasComponent(Strict):
    """Bias-only tuning (BitFit): every bias of the model trains."""

    method: Literal["bias"]


Width = Union[int, str]


def _widths(values: list[Width]) -> list[Width]:
    if not values:
        raise ValueError("give a non-empty list of widths")
    for value in values:
        if isinstance(value, str) and not _HIDDEN_FRACTION.fullmatch(value.replace(" ", "")):
            raise ValueError(f"width '{value}' is neither an integer nor 'hidden/N'")
        if isinstance(value, int) and value < 0:
            raise ValueError("widths are >= 0 (0 switches the adapter off)")
    return values


def resolve_width(value: Width, hidden_size: int) -> int:
    """An integer width; ``hidden/N`` is sized against the model (at least 1)."""
    if isinstance(value, int):
        return value
    divisor = int(_HIDDEN_FRACTION.fullmatch(value.replace(" ", "")).group(1))
    return max(1, hidden_size // max(divisor, 1))


class _Bottleneck(_Placed):
    width: list[Width] = [8, 16, 32, 64]
    per_layer_width: bool = False

    @field_validator("width")
    @classmethod
    def _width(cls, widths: list[Width]) -> list[Width]:
        return _widths(widths)


class SerialAdapterComponent(_Bottleneck):
    """Serial bottleneck adapter after the FFN (Pfeiffer) or after attention and FFN (Houlsby)."""

    method: Literal["serial_adapter"]
    positions: list[Literal["attention", "ffn"]] = ["ffn"]

    @field_validator("positions")
    @classmethod
    def _some_positions(cls, positions: list[str]) -> list[str]:
        if not positions:
            raise ValueError("list at least one of attention, ffn")
        return list(dict.fromkeys(positions))


class ParallelAdapterComponent(_Bottleneck):
    """Parallel bottleneck adapter beside the FFN, its output scaled by ``scaling``."""

    method: Literal["parallel_adapter"]
    scaling: float = 4.0


Component = Annotated[
    Union[
        LoraComponent,
        IA3Component,
        PrefixComponent,
        LayerNormComponent,
        BiasComponent,
        SerialAdapterComponent,
        ParallelAdapterComponent,
    ],
    Field(discriminator="method"),
]
COMPONENTS: dict[str, type[Strict]] = {
    "lora": LoraComponent,
    "ia3": IA3Component,
    "prefix": PrefixComponent,
    "layernorm": LayerNormComponent,
    "bias": BiasComponent,
    "serial_adapter": SerialAdapterComponent,
    "parallel_adapter": ParallelAdapterComponent,
}
METHODS = tuple(COMPONENTS)
# Methods PEFT provides; a PEFT model carries one of them, so a hybrid holds at most one.
PEFT_METHODS = ("lora", "ia3", "layernorm")


class ConstraintSpec(Strict):
    """Limits a configuration must respect; checked exactly before any training."""

    max_trainable_params: int | None = Field(default=None, ge=1)
    max_trainable_percent: float | None = Field(default=None, gt=0, le=100)


class SpaceSpec(Strict):
    """The whole space: components, how they combine, a per-layer switch, learning rates."""

    combine: Literal["choice", "together"] = "together"
    components: list[Component]
    layer_switch: bool = Field(
        default=False, description="one on/off bit per layer shared by every component (the AutoPEFT paper)"
    )
    learning_rate: float | Range = Range(low=1e-4, high=5e-3, log=True)
    head_learning_rate: float | Range = Range(low=1e-3, high=2e-2, log=True)
    constraints: ConstraintSpec = ConstraintSpec()

    @model_validator(mode="before")
    @classmethod
    def _single_method_form(cls, raw: Any) -> Any:
        """``space: {method: ia3, ...}`` is shorthand for a one-component space (method: lora if unsaid)."""
        if isinstance(raw, dict) and "components" not in raw:
            shared_keys = ("learning_rate", "head_learning_rate", "layer_switch", "constraints", "combine")
            shared = {k: raw[k] for k in shared_keys if k in raw}
            component = {"method": "lora"} | {k: v for k, v in raw.items() if k not in shared}
            return {"components": [component], **shared}
        return raw

    @field_validator("components")
    @classmethod
    def _distinct_methods(cls, components: list[Any]) -> list[Any]:
        methods = [c.method for c in components]
        if not methods:
            raise ValueError("list at least one component")
        if len(set(methods)) != len(methods):
            raise ValueError("each method may appear once")
        return components

    @model_validator(mode="after")
    def _one_peft_method_together(self) -> SpaceSpec:
        peft = [c.method for c in self.components if c.method in PEFT_METHODS]
        if self.combine == "together" and len(peft) > 1:
            raise ValueError(
                f"a hybrid (combine: together) holds at most one PEFT method, got {', '.join(peft)}; "
                "use combine: choice, or pair one of them with adapters or bias tuning"
            )
        return self
