"""The search-space language's building blocks: what every component schema is made of.

A space is a list of **components**, one per method, each written as a mapping with a
``method`` key (each method's schema lives in its own module of ``autopeft.methods``; the
space that combines them is ``autopeft.spec.space.SpaceSpec``). A list of values is
searched; a single value is fixed. Layers are written as ``all`` (the model's own layers,
found by introspection) or indices, modules as roles (q, k, v, o, ffn_up, ffn_gate, ffn_down).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Union, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["q", "k", "v", "o", "ffn_up", "ffn_gate", "ffn_down"]
_HIDDEN_FRACTION = re.compile(r"hidden/(\d+)")


class Strict(BaseModel):
    """Unknown keys are errors, true/false is never read as a number (pydantic would take
    ``trials: true`` as 1), and .nan or .inf is no number either (a NaN learning rate
    would pass every range check and diverge every trial)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, raw: Any) -> Any:
        if not isinstance(raw, Mapping):
            return raw
        checked = dict(raw)
        for key, value in raw.items():
            field = cls.model_fields.get(key)
            if field is None or _takes_bool(field.annotation):
                continue
            if isinstance(value, bool):
                checked[key] = BOOLEAN_GIVEN  # fails the field's own validation, named as the field
            elif isinstance(value, list):
                checked[key] = [BOOLEAN_GIVEN if isinstance(v, bool) else v for v in value]
        return checked


BOOLEAN_GIVEN = "<true/false>"  # stands in for a boolean where a number belongs (see spec_errors)


def _takes_bool(annotation: Any) -> bool:
    """Whether a field's type admits true/false (bool itself, or a union or list holding it)."""
    return annotation is bool or any(_takes_bool(arg) for arg in get_args(annotation))


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


def _dropout_rate(value: float | Range) -> float | Range:
    low, high = (value.low, value.high) if isinstance(value, Range) else (value, value)
    if not (0 <= low and high < 1):
        raise ValueError("dropout is a probability in [0, 1): the share of the adapter's inputs zeroed in training")
    return value


Dropout = Annotated[float | Range, AfterValidator(_dropout_rate)]  # a fixed rate or a range to search


def _positive_scale(value: float | Range) -> float | Range:
    low = value.low if isinstance(value, Range) else value
    if not low > 0:
        raise ValueError("must be above 0: at 0 the adapter changes nothing while it trains, below 0 it is flipped")
    return value


Scale = Annotated[float | Range, AfterValidator(_positive_scale)]  # LoRA's alpha / rank, fixed or searched


class ComponentSchema(Strict):
    """Base of every method's schema (what users write for one component under ``space:``).

    A subclass declares ``method: Literal["name"]`` (the tag that picks it) and its knobs,
    and names its per-layer switches and its searched sizes, so a reference configuration
    (one fixed point) can be written with the switches off and one size without a list.
    """

    per_layer_flags: ClassVar[tuple[str, ...]] = ()  # per-layer switches: off in a reference unless said
    size_fields: ClassVar[tuple[str, ...]] = ()  # lists of sizes: one value may stand alone in a reference

    @model_validator(mode="before")
    @classmethod
    def _one_size_is_fixed(cls, raw: Any) -> Any:
        """``rank: 8`` is ``rank: [8]``: a single value is fixed, as everywhere in the language."""
        if not isinstance(raw, Mapping):
            return raw
        sizes = {size: [raw[size]] for size in cls.size_fields if isinstance(raw.get(size), (int, str))}
        return {**raw, **sizes} if sizes else raw

    @classmethod
    def fixed_form(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        """``raw`` as one configuration: per-layer switches off unless said (a lone size is a
        one-value list, as in a space)."""
        fixed = dict(raw)
        for flag in cls.per_layer_flags:
            fixed.setdefault(flag, False)
        return fixed


class Placed(ComponentSchema):
    """A component placed in layers (``all`` or indices), with optional per-layer on/off bits."""

    per_layer_flags: ClassVar[tuple[str, ...]] = ("per_layer_placement",)

    layers: Literal["all"] | list[int] = "all"
    per_layer_placement: bool = False

    @field_validator("layers")
    @classmethod
    def _some_layer(cls, layers: Literal["all"] | list[int]) -> Literal["all"] | list[int]:
        if layers == []:
            raise ValueError("no layers: the component would be placed nowhere. Fix: list layer indices or write all")
        return layers


class OnModules(Placed):
    """A component placed on module roles (each role once, at least one)."""

    modules: list[Role]

    @field_validator("modules")
    @classmethod
    def _roles(cls, modules: list[str]) -> list[str]:
        return distinct_roles(modules)


class RankedOnModules(OnModules):
    """A component on module roles with a searched rank (LoRA, VeRA)."""

    rank: list[int]

    @field_validator("rank")
    @classmethod
    def _ranks(cls, ranks: list[int]) -> list[int]:
        return positive_sizes(ranks, allow_zero=False)


def distinct_roles(modules: list[str]) -> list[str]:
    """A validator's body: at least one role, each once."""
    if not modules:
        raise ValueError("list at least one module role")
    return list(dict.fromkeys(modules))


def positive_sizes(values: list[int], allow_zero: bool) -> list[int]:
    """A validator's body: a non-empty, sorted list of distinct sizes (>= 1, or >= 0 if 0 is off)."""
    floor = 0 if allow_zero else 1
    if not values or any(v < floor for v in values):
        raise ValueError(f"give a non-empty list of integers >= {floor}")
    return sorted(set(values))


Width = Union[int, str]


def widths(values: list[Width]) -> list[Width]:
    """A validator's body: widths are integers >= 0 (0 is off) or ``hidden/N``."""
    if not values:
        raise ValueError("give a non-empty list of widths")
    for value in values:
        fraction = _HIDDEN_FRACTION.fullmatch(value.replace(" ", "")) if isinstance(value, str) else None
        if isinstance(value, str) and fraction is None:
            raise ValueError(f"width '{value}' is neither an integer nor 'hidden/N'")
        if fraction is not None and int(fraction.group(1)) < 1:
            raise ValueError(f"width '{value}': N in hidden/N is 1 or more")
        if isinstance(value, int) and value < 0:
            raise ValueError("widths are >= 0 (0 switches the adapter off)")
    if all(value == 0 for value in values):
        raise ValueError("every width is 0, which switches the adapter off: list a width above 0")
    return values


def resolve_width(value: Width, hidden_size: int) -> int:
    """An integer width; ``hidden/N`` is sized against the model (at least 1)."""
    if isinstance(value, int):
        return value
    divisor = int(_HIDDEN_FRACTION.fullmatch(value.replace(" ", "")).group(1))
    return max(1, hidden_size // max(divisor, 1))


class ConstraintSpec(Strict):
    """Limits a configuration must respect; checked exactly before any training."""

    max_trainable_params: int | None = Field(default=None, ge=1)
    max_trainable_percent: float | None = Field(default=None, gt=0, le=100)
