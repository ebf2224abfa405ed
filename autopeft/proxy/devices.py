"""Where a trial runs: the GPU its worker was given when there is one, the CPU otherwise.

One code path for both: the model and each batch go to ``device``; bf16 autocast where the
device supports it (``precision: auto``).
"""

from __future__ import annotations

import contextlib

import torch

from autopeft.errors import SpecError


def named_device(name: str) -> torch.device | None:
    """The device ``name`` names, None for auto; whether it is there is ``resolve_device``'s
    question (a Ray driver only checks the name: its workers have the GPUs)."""
    if name == "auto":
        return None
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise SpecError("device", f"'{name}' is not a device autopeft trains on", "use auto, cpu, cuda or cuda:N")
    return device


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` is the first visible GPU (the one Ray or CUDA_VISIBLE_DEVICES assigned), else the CPU."""
    device = named_device(name)
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SpecError("device", f"'{name}' was asked for but no GPU is visible", "use auto or cpu")
    return device


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` (auto: bf16 on GPUs that support it), or None for fp32."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Autocast to ``dtype`` on ``device``, or nothing when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    if device.type == "cpu":
        return batch
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}
