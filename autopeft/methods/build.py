"""Materializing a point: the PEFT part through stock PEFT, then the package's own modules.

A point holds at most one method that PEFT builds (a PEFT model carries one); the methods
injected by the package (``MethodDefinition.inject``) change the (PEFT-wrapped) model after
it. The task head always trains in full.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from autopeft.errors import TrialFailed
from autopeft.methods.registry import method
from autopeft.models.arch import head_module_names, peft_task_type
from autopeft.models.quiet import library_rename_warnings_off
from autopeft.space.base import PlacedComponent, Point

if TYPE_CHECKING:
    from peft import PeftConfig
    from torch import nn


def peft_component(point: Point) -> PlacedComponent | None:
    """The component PEFT builds, if any."""
    found = [c for c in point.components if method(c.method).is_peft]
    if len(found) > 1:
        raise TrialFailed(f"a point holds at most one PEFT method, got {', '.join(c.method for c in found)}")
    return found[0] if found else None


def is_pure_peft(point: Point) -> bool:
    """Whether stock PEFT alone expresses the point (so it exports as a plain PEFT adapter)."""
    return len(point.components) == 1 and method(point.components[0].method).is_peft


def peft_config_for(
    point: Point,
    head_modules: list[str],
    base_model_name_or_path: str | None = None,
    task_type: str = "SEQ_CLS",
) -> PeftConfig:
    """The stock PEFT config of the point's PEFT component; the head (if any) trains in full."""
    component = peft_component(point)
    if component is None:
        raise ValueError(f"'{point.method}' has no PEFT component")
    definition = method(component.method)
    config = definition.peft_config(definition.read_settings(component.settings))
    config.task_type = task_type
    config.modules_to_save = list(head_modules) or None
    config.base_model_name_or_path = base_model_name_or_path
    return config


def build_model(base: nn.Module, point: Point, *, copy_base: bool = True) -> nn.Module:
    """The trainable model for ``point`` on ``base`` (a deep copy unless ``copy_base`` is False,
    so the base serves every trial unchanged).
    """
    if not point.components:
        raise TrialFailed("nothing placed: every component of the point is off")
    head = head_module_names(base)
    model = copy.deepcopy(base) if copy_base else base
    component = peft_component(point)
    if component is not None:
        from peft import get_peft_model  # here: reading a study needs no torch

        with library_rename_warnings_off():
            model = get_peft_model(model, peft_config_for(point, head, task_type=peft_task_type(base)))
        inner = model.get_base_model()
    else:
        inner = model
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(name.split(".")[0] in head)
    for native in point.components:
        definition = method(native.method)
        if definition.inject is not None:
            definition.inject(inner, definition.read_settings(native.settings))
    return model


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts; ``parameters()`` yields a shared tensor once."""
    parameters = list(model.parameters())
    return sum(p.numel() for p in parameters if p.requires_grad), sum(p.numel() for p in parameters)
