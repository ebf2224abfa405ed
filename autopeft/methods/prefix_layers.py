"""Prefix tuning's torch module (see ``prefix``), apart so that the method's schema and
settings load without torch."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from autopeft.methods.wrapping import Reader, module_shape


class PrefixAttention(Reader):
    """Wraps a layer's attention output projection; adds attention over the learned prefix.

    The queries are tapped from the layer's query projection (its first ``heads * head_dim``
    outputs, so GPT-2's fused q/k/v projection works too).
    """

    def __init__(self, base_layer: nn.Module, tokens: int, heads: int, kv_heads: int) -> None:
        super().__init__(base_layer)
        width = module_shape(base_layer)[0]
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, width // heads
        weight = base_layer.weight
        # Drawn on the CPU, then moved: a seed gives the same prefix on any device (full training
        # builds the adapter before the model moves to the GPU; the search, after).
        self.prefix_key = nn.Parameter(
            (0.02 * torch.randn(tokens, kv_heads * self.head_dim, dtype=weight.dtype)).to(weight.device)
        )
        self.prefix_value = nn.Parameter(
            torch.zeros(tokens, kv_heads * self.head_dim, device=weight.device, dtype=weight.dtype)
        )

    def prefix_output(self, queries: torch.Tensor) -> torch.Tensor:
        """softmax(q K^T / sqrt(d)) V over the prefix, per head, flattened as the heads' outputs are."""
        *lead, _ = queries.shape
        q = queries[..., : self.heads * self.head_dim].reshape(*lead, self.heads, self.head_dim)
        group = self.heads // self.kv_heads
        keys = self.prefix_key.view(-1, self.kv_heads, self.head_dim).repeat_interleave(group, dim=1)
        values = self.prefix_value.view(-1, self.kv_heads, self.head_dim).repeat_interleave(group, dim=1)
        scores = torch.einsum("...hd,phd->...hp", q, keys) / math.sqrt(self.head_dim)
        out = torch.einsum("...hp,phd->...hd", scores.softmax(dim=-1), values)
        return out.reshape(*lead, self.heads * self.head_dim)

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.base_layer(x + self.prefix_output(self.take()).to(x.dtype), *args, **kwargs)
