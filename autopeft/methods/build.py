"""Materializing a point: PEFT config, a fresh PEFT model on a copy of the base, its size."""

from __future__ import annotations

import copy
import warnings

from peft import PeftConfig, get_peft_model
from torch import nn

from autopeft.methods.lora import lora_config
from autopeft.space.base import Point

_CONFIG_BUILDERS = {"lora": lora_config}


def peft_config_for(point: Point, base_model_name_or_path: str | None = None) -> PeftConfig:
    """The stock PEFT config that expresses ``point``."""
    return _CONFIG_BUILDERS[point.method](point.settings, base_model_name_or_path)


def build_peft_model(base: nn.Module, config: PeftConfig) -> nn.Module:
    """A PEFT model on a deep copy of ``base``, so the base serves every trial unchanged."""
    with warnings.catch_warnings():
        # peft calls a transformers API that transformers 5 deprecates; nothing for users to do.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(copy.deepcopy(base), config)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts; ``parameters()`` yields a shared tensor once."""
    parameters = list(model.parameters())
    return sum(p.numel() for p in parameters if p.requires_grad), sum(p.numel() for p in parameters)
