"""Importance scores: which modules deserve an adapter, judged from a few batches.

Every score reads the same thing: the model after a fresh task head was trained for a few
steps (gradients through a random head rank modules differently), then the task loss's
gradient G on each module's weight W over the same ``batches`` training batches. They differ
in what they make of it:

- ``gradient_energy``: mean(G^2) per weight element. For LoRA, whose B starts at zero, the
  gradient reaching B is G A^T, so this follows ||G||^2; per element, so the large FFN
  matrices do not win on size alone.
- ``taylor``: mean(|W * G|), the first-order Taylor estimate of the loss change if the
  weights were removed: the sensitivity of SNIP and AdaLoRA.
- ``fisher``: the diagonal empirical Fisher, mean(g^2) over single examples' gradients g
  (gradient energy squares the batch mean instead), per weight element.
- ``lora_gradient``: the energy of the gradient that would reach a fresh LoRA B of rank 8,
  G A^T, with A drawn as PEFT draws it (seeded); per element of B, so it normalises by the
  module's output size only.
- ``random``: seeded random scores, the control.

Scores narrow the search (the least important placements are switched off before any
trial); they do not replace it: papers disagree on where adapters help most.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable

import torch
from torch import nn

from autopeft.data.encoding import EncodedSplit
from autopeft.models.arch import head_module_names
from autopeft.proxy.devices import to_device
from autopeft.proxy.score_names import DEFAULT_SCORE, SCORES, ScoreName
from autopeft.proxy.training import batch_indices
from autopeft.tasks import Task

HEAD_WARMUP_LR = 1e-2
LORA_PROBE_RANK = 8
PRIOR_RANGE = (0.2, 0.8)  # P(placed) of the least and the most important module in the first trials

# One score's reading of a module: (weight, its gradient, the module's LoRA probe A) -> a number.
Reading = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], float]


def _energy(weight: torch.Tensor, grad: torch.Tensor, probe: torch.Tensor) -> float:
    return float(grad.float().pow(2).mean())


_READINGS: dict[str, Reading] = {
    "gradient_energy": _energy,
    "fisher": _energy,  # the same reading, of single examples' gradients
    "taylor": lambda weight, grad, probe: float((weight.float() * grad.float()).abs().mean()),
    "lora_gradient": lambda weight, grad, probe: float((grad.float() @ probe.T).pow(2).mean()),
}


def _as_linear(module: nn.Module, tensor: torch.Tensor) -> torch.Tensor:
    """A weight-shaped tensor of ``module`` as (out, in); GPT-2's Conv1D keeps (in, out)."""
    return tensor.T if type(module).__name__ == "Conv1D" else tensor


def _warmed_copy(
    base_model: nn.Module,
    train: EncodedSplit,
    task: Task,
    batch_size: int,
    steps: int,
    generator: torch.Generator,
    device: torch.device,
) -> nn.Module:
    """A frozen copy of the model whose fresh task head trained ``steps`` steps."""
    model = copy.deepcopy(base_model).to(device)
    model.requires_grad_(False)
    head = [p for name in head_module_names(model) for p in model.get_submodule(name).parameters()]
    if task.name != "causal_lm" and head and steps > 0:
        for parameter in head:
            parameter.requires_grad_(True)
        optimizer = torch.optim.AdamW(head, lr=HEAD_WARMUP_LR)
        model.train()
        for indices in batch_indices(train.lengths(), batch_size, steps, generator):
            model(**to_device(train.batch(indices), device)).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        model.requires_grad_(False)
    return model


def random_scores(modules: list[str], seed: int = 0) -> dict[str, float]:
    """The ``random`` score: seeded draws that read no model, the control the others must beat."""
    draw = random.Random(seed)
    return {name: draw.random() for name in modules}


def importance_scores(
    base_model: nn.Module,
    modules: list[str],
    train: EncodedSplit,
    task: Task,
    score: ScoreName = DEFAULT_SCORE,
    batches: int = 16,
    batch_size: int = 16,
    head_warmup_steps: int = 100,
    seed: int = 0,
    device: torch.device | None = None,
) -> dict[str, float]:
    """Each of ``modules`` scored by ``score`` (one of ``SCORES``), averaged over ``batches``
    training batches; ``base_model`` itself is left untouched."""
    if score not in SCORES:
        raise ValueError(f"unknown importance score {score!r}; known: {', '.join(SCORES)}")
    if score == "random":
        return random_scores(modules, seed)
    device = device or torch.device("cpu")
    # Seeded (head warm-up, dropout) on a private copy of torch's generator: the caller's is left alone.
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model = _warmed_copy(base_model, train, task, batch_size, head_warmup_steps, generator, device)
        layers = {name: model.get_submodule(name) for name in modules}
        for module in layers.values():
            module.weight.requires_grad_(True)
        probes = _lora_probes(layers, seed, device) if score == "lora_gradient" else {}
        read = _READINGS[score]
        totals = dict.fromkeys(modules, 0.0)
        model.eval()  # no dropout: the scores measure the model, not the noise
        for indices in batch_indices(train.lengths(), batch_size, batches, generator):
            groups = [[i] for i in indices] if score == "fisher" else [indices]
            for group in groups:
                model(**to_device(train.batch(group), device)).loss.backward()
                for name, module in layers.items():
                    weight, grad = _as_linear(module, module.weight.detach()), _as_linear(module, module.weight.grad)
                    totals[name] += read(weight, grad, probes.get(name)) / len(groups)
                    module.weight.grad = None
    return {name: value / batches for name, value in totals.items()}


def _lora_probes(layers: dict[str, nn.Module], seed: int, device: torch.device) -> dict[str, torch.Tensor]:
    """A LoRA A (rank 8, kaiming-uniform as PEFT initialises it) per module, seeded."""
    generator = torch.Generator().manual_seed(seed + 1)
    probes = {}
    for name, module in layers.items():
        fan_in = _as_linear(module, module.weight).shape[1]
        bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) on a (rank, fan_in) matrix
        probes[name] = ((torch.rand(LORA_PROBE_RANK, fan_in, generator=generator) * 2 - 1) * bound).to(device)
    return probes


def least_important(scores: dict[str, float], keep: float) -> frozenset[str]:
    """The modules outside the top ``keep`` fraction by score (at least one is kept)."""
    ranked = sorted(scores, key=lambda name: (-scores[name], name))
    kept = max(1, math.ceil(keep * len(ranked)))
    return frozenset(ranked[kept:])


def importance_prior(scores: dict[str, float], bits: dict[str, str]) -> dict[str, float]:
    """Placement bit -> the probability that a random first trial turns it on, rising linearly
    with its module's rank by score across ``PRIOR_RANGE`` (least important to most): the
    scores lean the initial design without switching anything off."""
    ranked = sorted(scores, key=lambda name: (scores[name], name))
    low, high = PRIOR_RANGE
    step = (high - low) / max(1, len(ranked) - 1)
    probability = {name: low + step * index for index, name in enumerate(ranked)}
    return {bit: probability[module] for bit, module in bits.items() if module in probability}
