"""The method registry: every method is one module of ``autopeft.methods`` that registers one
``MethodDefinition``; the spec language, the search space, building, saving and reports read it.

A definition says everything about a method:

- ``schema``: the pydantic model users write under ``space:`` (a ``ComponentSchema`` whose
  ``method`` literal is the method's name);
- ``settings``: its typed resolved settings (a ``MethodSettings``), stored as a plain mapping;
- ``space``: its ``ComponentSpace`` (dimensions, settings, exact trainable count);
- how it is built: ``peft_config`` (settings -> a stock PEFT config; a point of this method
  alone is saved as a plain PEFT adapter) or ``inject`` (changes the model in place; saved in
  the autopeft format), exactly one of them;
- ``label``: its short name in reports (default: its name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

from autopeft.errors import AutopeftError
from autopeft.space.component import ComponentSpace, MethodSettings
from autopeft.space.language import ComponentSchema

if TYPE_CHECKING:
    from peft import PeftConfig
    from torch import nn


@dataclass(frozen=True)
class MethodDefinition:
    """One method: its schema, settings, space, and how it is built and saved."""

    name: str
    schema: type[ComponentSchema]
    settings: type[MethodSettings]
    space: type[ComponentSpace]
    peft_config: Callable[[Any], PeftConfig] | None = None
    inject: Callable[[nn.Module, Any], None] | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if (self.peft_config is None) == (self.inject is None):
            raise TypeError(f"method {self.name!r}: give exactly one of peft_config and inject")
        field = self.schema.model_fields.get("method")
        if field is None or get_args(field.annotation) != (self.name,):
            raise TypeError(f"method {self.name!r}: its schema needs `method: Literal[{self.name!r}]`")

    @property
    def is_peft(self) -> bool:
        """Whether stock PEFT builds it (a PEFT model carries one such method)."""
        return self.peft_config is not None

    def read_settings(self, stored: Mapping[str, Any]) -> MethodSettings:
        """The typed settings of a point's stored component."""
        return self.settings.from_dict(stored)

    def readable_settings(self, stored: Mapping[str, Any]) -> MethodSettings | None:
        """The settings of a stored component, or None for a partial record (which reports
        show by the method's name alone)."""
        try:
            return self.read_settings(stored)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def describe(self, stored: Mapping[str, Any]) -> str:
        """e.g. ``lora x12``: the label and how many modules (or layers) it places."""
        label = self.label or self.name
        settings = self.readable_settings(stored)
        count = None if settings is None else settings.placed_count()
        return label if count is None else f"{label} x{count}"


_REGISTRY: dict[str, MethodDefinition] = {}


def register(method: MethodDefinition) -> MethodDefinition:
    """Add a method (once, from its module); the order of registration is the order methods are listed in."""
    if method.name in _REGISTRY and _REGISTRY[method.name] != method:
        raise ValueError(f"method {method.name!r} is registered twice")
    _REGISTRY[method.name] = method
    return method


def definitions() -> tuple[MethodDefinition, ...]:
    """Every registered method, in registration order."""
    return tuple(_REGISTRY.values())


def method_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def find_method(name: str) -> MethodDefinition | None:
    return _REGISTRY.get(name)


def method(name: str) -> MethodDefinition:
    """The method called ``name``; an error naming the known ones if there is none."""
    found = _REGISTRY.get(name)
    if found is None:
        raise AutopeftError(
            f"unknown method '{name}'. Fix: use one of: {', '.join(_REGISTRY)} (or upgrade autopeft, "
            "if a newer version wrote it)"
        )
    return found


def describe_component(name: str, stored: Mapping[str, Any]) -> str:
    """A point's component in a few words (see ``MethodDefinition.describe``); unknown methods by name."""
    found = _REGISTRY.get(name)
    return found.describe(stored) if found is not None else name


def component_placements(name: str, stored: Mapping[str, Any]) -> dict[str, float]:
    """A point's component as placed module -> size (see ``MethodSettings.placements``); empty
    for an unknown method or a partial record."""
    found = _REGISTRY.get(name)
    settings = None if found is None else found.readable_settings(stored)
    return {} if settings is None else settings.placements()
