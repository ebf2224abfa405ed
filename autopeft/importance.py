"""Importance scores: which modules deserve an adapter, judged from a few batches.

A module's score is the mean squared gradient of the task loss with respect to its weight
(gradient energy per element). For LoRA, whose B starts at zero, the gradient reaching B is
G A^T, so its energy follows ||G||^2; dividing by the element count keeps the large FFN
matrices from winning on size alone. A fresh classification head is trained for a few
steps first, since gradients through a random head rank modules differently.

Scores narrow the search (the least important placements are switched off before any
trial); they do not replace it: papers disagree on where adapters help most.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from autopeft.data.encoding import EncodedSplit
from autopeft.devices import to_device
from autopeft.models.arch import head_module_names
from autopeft.tasks import Task
from autopeft.training import batch_indices

HEAD_WARMUP_LR = 1e-2


def _weight(model: nn.Module, module_name: str) -> nn.Parameter:
    return model.get_submodule(module_name).weight


def gradient_energy(
    base_model: nn.Module,
    modules: list[str],
    train: EncodedSplit,
    task: Task,
    batches: int = 16,
    batch_size: int = 16,
    head_warmup_steps: int = 100,
    seed: int = 0,
    device: torch.device | None = None,
) -> dict[str, float]:
    """Mean squared loss gradient per weight element of each of ``modules``, averaged over
    ``batches`` training batches (``base_model`` itself is left untouched)."""
    device = device or torch.device("cpu")
    model = copy.deepcopy(base_model).to(device)
    model.requires_grad_(False)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    lengths = train.lengths()
    head = [p for name in head_module_names(model) for p in model.get_submodule(name).parameters()]
    if task.name != "causal_lm" and head and head_warmup_steps > 0:
        for parameter in head:
            parameter.requires_grad_(True)
        optimizer = torch.optim.AdamW(head, lr=HEAD_WARMUP_LR)
        model.train()
        for indices in batch_indices(lengths, batch_size, head_warmup_steps, generator):
            model(**to_device(train.batch(indices), device)).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        model.requires_grad_(False)
    weights = {name: _weight(model, name) for name in modules}
    for weight in weights.values():
        weight.requires_grad_(True)
    energy = {name: 0.0 for name in modules}
    model.eval()  # no dropout: the scores measure the model, not the noise
    for indices in batch_indices(lengths, batch_size, batches, generator):
        model(**to_device(train.batch(indices), device)).loss.backward()
        for name, weight in weights.items():
            energy[name] += float(weight.grad.float().pow(2).mean())
            weight.grad = None
    del model
    return {name: value / batches for name, value in energy.items()}


def least_important(scores: dict[str, float], keep: float) -> frozenset[str]:
    """The modules outside the top ``keep`` fraction by score (at least one is kept)."""
    ranked = sorted(scores, key=lambda name: (-scores[name], name))
    kept = max(1, math.ceil(keep * len(ranked)))
    return frozenset(ranked[kept:])
