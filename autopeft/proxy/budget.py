"""The proxy budget: how long and on what each trial trains, as plain values.

The kernel (``autopeft.proxy.training``, ``autopeft.proxy.trial``) takes this type, so a proxy training
runs without a study spec; the spec's ``budget`` (``autopeft.spec.BudgetSpec``) validates
user input and converts to it. This module imports nothing of the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Precision = Literal["auto", "fp32", "bf16"]


@dataclass(frozen=True)
class ProxyBudget:
    """The cheap proxy training every trial gets.

    The defaults are the default proxy, chosen with benchmarks/proxy_fidelity.py (see the
    README); the study spec takes its defaults from here.
    """

    steps: int = 150
    batch_size: int = 32
    max_length: int = 64  # tokens per example; longer ones are cut
    train_examples: int | None = None  # the first N train rows; all if None
    eval_examples: int | None = None  # the first N validation rows; all if None
    warmup_ratio: float = 0.1  # fraction of steps with a rising learning rate
    weight_decay: float = 0.0
    precision: Precision = "auto"  # auto: bf16 autocast on GPUs that support it, fp32 otherwise
    gradient_accumulation: int = 1  # each step's batch runs as this many micro-batches (less memory, same step)
    gradient_checkpointing: bool = False  # recompute activations in the backward pass (less memory, slower)
