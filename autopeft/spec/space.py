"""What users write under ``space:`` (``SpaceSpec``): components, one per method (each method's
schema is registered by its module in ``autopeft.methods``; ``method`` picks it), combined either
as a **choice** (the searched ``method`` picks one) or **together** (a hybrid: every component at
once, each switchable off through its own placement bits or a width of 0). A list of values is
searched; a single value is fixed. Layers are written as ``all`` (the model's own layers, found by
introspection) or indices, modules as roles (q, k, v, o, ffn_up, ffn_gate, ffn_down).

The space this makes for a model is ``autopeft.driver.space.ComposedSpace``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from autopeft.methods import definitions, method
from autopeft.space.language import ConstraintSpec, Range, Strict

METHOD = "method"
DEFAULT_METHOD = "lora"  # the method of a space written without one

# Any registered method's schema, picked by its ``method`` tag.
AnyComponentSchema = Annotated[Union[tuple(d.schema for d in definitions())], Field(discriminator="method")]


class SpaceSpec(Strict):
    """The whole space: components, how they combine, a per-layer switch, learning rates."""

    combine: Literal["choice", "together"] = "together"
    components: list[AnyComponentSchema]
    layer_switch: bool = Field(
        default=False, description="one on/off bit per layer shared by every component (the AutoPEFT paper)"
    )
    learning_rate: float | Range = Range(low=1e-4, high=5e-3, log=True)
    head_learning_rate: float | Range = Range(low=1e-3, high=2e-2, log=True)

    @field_validator("learning_rate", "head_learning_rate")
    @classmethod
    def _positive_rate(cls, rate: float | Range) -> float | Range:
        if (rate.low if isinstance(rate, Range) else rate) <= 0:
            raise ValueError("learning rates are above 0 (a negative one trains by gradient ascent)")
        return rate

    constraints: ConstraintSpec = ConstraintSpec()

    @model_validator(mode="before")
    @classmethod
    def _single_method_form(cls, raw: Any) -> Any:
        """``space: {method: ia3, ...}`` is shorthand for a one-component space (method: lora if unsaid)."""
        if isinstance(raw, dict) and "components" not in raw:
            shared_keys = ("learning_rate", "head_learning_rate", "layer_switch", "constraints", "combine")
            shared = {k: raw[k] for k in shared_keys if k in raw}
            component = {"method": DEFAULT_METHOD} | {k: v for k, v in raw.items() if k not in shared}
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
        peft = [c.method for c in self.components if method(c.method).is_peft]
        if self.combine == "together" and len(peft) > 1:
            raise ValueError(
                f"a hybrid (combine: together) holds at most one PEFT method, got {', '.join(peft)}; "
                "use combine: choice, or pair one of them with adapters or bias tuning"
            )
        return self
