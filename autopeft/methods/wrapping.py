"""Wrapping a model's linear modules: the mechanism the package's own methods share.

Bottleneck adapters and prefix tuning replace a module by a wrapper that calls it and adds
something; a wrapper looks like what it wraps (``weight`` stays readable: T5 reads it) and
can be wrapped again (by another method, or around PEFT's LoRA layers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from autopeft.models.arch import linear_shape


class Wrapper(nn.Module):
    """A module wrapped around ``base_layer``."""

    def __init__(self, base_layer: nn.Module) -> None:
        super().__init__()
        self.base_layer = base_layer

    @property
    def weight(self) -> torch.Tensor:
        return self.base_layer.weight


class Tap(Wrapper):
    """Calls ``base_layer`` unchanged and hands its input or output to ``reader.pending``.

    Methods that need a tensor from elsewhere in the layer (the parallel adapter reads the
    FFN's input, prefix tuning the attention's queries) read it from the module they wrap.
    """

    def __init__(self, base_layer: nn.Module, reader: nn.Module, what: str) -> None:
        super().__init__(base_layer)
        object.__setattr__(self, "reader", reader)  # a reference, not a second owner of its weights
        self.what = what

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        y = self.base_layer(x, *args, **kwargs)
        self.reader.pending = x if self.what == "input" else y
        return y


class Reader(Wrapper):
    """A wrapper that consumes the tensor a ``Tap`` handed it during the same forward pass."""

    def __init__(self, base_layer: nn.Module) -> None:
        super().__init__(base_layer)
        self.pending: torch.Tensor | None = None

    def take(self) -> torch.Tensor:
        x, self.pending = self.pending, None
        if x is None:
            raise RuntimeError(f"{type(self).__name__}: the tapped tensor was not seen (is its source module wrapped?)")
        return x


def replace_module(model: nn.Module, name: str, build: Callable[[nn.Module], nn.Module]) -> nn.Module:
    """Replace the submodule ``name`` by ``build(submodule)``; returns the new module."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name)
    wrapped = build(getattr(parent, child))
    setattr(parent, child, wrapped)
    return wrapped


def module_shape(module: nn.Module) -> tuple[int, int]:
    """(in, out) features of a linear module, looking through wrappers (PEFT's LoRA, ours)."""
    base = module
    while linear_shape(base) is None and hasattr(base, "base_layer"):
        base = base.base_layer
    shape = linear_shape(base)
    if shape is None:
        raise TypeError(f"{type(module).__name__} is not a linear module")
    return shape
