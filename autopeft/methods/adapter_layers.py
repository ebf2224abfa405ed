"""The bottleneck adapters' torch modules (see ``adapters``), apart so that the method's
schema and settings load without torch."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from autopeft.methods.wrapping import Reader, Wrapper


class Bottleneck(nn.Module):
    """down (d_in -> width), ReLU, up (width -> d_out); up starts at zero."""

    def __init__(self, d_in: int, width: int, d_out: int) -> None:
        super().__init__()
        self.down = nn.Linear(d_in, width)
        self.up = nn.Linear(width, d_out)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(torch.relu(self.down(x)))


class SerialAdapterLayer(Wrapper):
    """``base_layer`` followed by a residual bottleneck on its output."""

    def __init__(self, base_layer: nn.Module, width: int, d_out: int) -> None:
        super().__init__(base_layer)
        self.adapter = Bottleneck(d_out, width, d_out)

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        y = self.base_layer(*args, **kwargs)
        return y + self.adapter(y)


class ParallelAdapterOutput(Reader):
    """Wraps the FFN's last projection and adds the scaled bottleneck of the FFN input (tapped)."""

    def __init__(self, base_layer: nn.Module, d_in: int, width: int, d_out: int, scaling: float) -> None:
        super().__init__(base_layer)
        self.adapter = Bottleneck(d_in, width, d_out)
        self.scaling = scaling

    def forward(self, h: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        x = self.take()
        return self.base_layer(h, *args, **kwargs) + self.scaling * self.adapter(x)
