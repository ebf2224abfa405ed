"""LoRA points as stock ``peft.LoraConfig``: exact module names, per-module rank and alpha."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from peft import LoraConfig

from autopeft.errors import TrialFailed


def lora_config(settings: dict[str, Any], base_model_name_or_path: str | None = None) -> LoraConfig:
    """A LoraConfig placing a module of its own rank on each target.

    The most common rank becomes ``r``; the others go to ``rank_pattern``/``alpha_pattern``
    keyed by the escaped full module name, which PEFT matches exactly.
    """
    targets: dict[str, int] = settings["targets"]
    if not targets:
        raise TrialFailed("no LoRA module placed: every placement bit is off")
    ratio = float(settings["alpha_ratio"])
    default_rank = Counter(targets.values()).most_common(1)[0][0]
    rank_pattern = {re.escape(name): rank for name, rank in targets.items() if rank != default_rank}
    return LoraConfig(
        task_type="SEQ_CLS",
        target_modules=sorted(targets),
        r=default_rank,
        lora_alpha=ratio * default_rank,
        rank_pattern=rank_pattern,
        alpha_pattern={name: ratio * rank for name, rank in rank_pattern.items()},
        lora_dropout=float(settings["dropout"]),
        base_model_name_or_path=base_model_name_or_path,
    )
