"""The proxy training loop: a short, seeded, budgeted training and a validation score.

Kept as a plain PyTorch loop (no Trainer) so its overhead over a bare loop stays small.
The task decides the loss targets and the metrics; the loop is the same for every task
and device.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from autopeft.data.encoding import EncodedSplit
from autopeft.errors import TrialFailed
from autopeft.models.arch import head_module_names
from autopeft.proxy.budget import ProxyBudget
from autopeft.proxy.devices import autocast, autocast_dtype, to_device
from autopeft.proxy.measure import MemoryMeter
from autopeft.space.base import Hyperparameters
from autopeft.tasks import Task

# Training has diverged when the smoothed loss exceeds this multiple of the first step's.
DIVERGENCE_FACTOR = 10.0
# Batches are formed from windows of this many batches' rows sorted by length, so a batch
# pads little (as transformers' group_by_length does).
LENGTH_GROUP_BATCHES = 50


class DivergenceCheck:
    """Stops a run whose loss is not finite or has blown up.

    Adam with clipped gradients rarely produces NaN even at absurd learning rates: the
    loss climbs by orders of magnitude instead. An exponential average (so one noisy batch
    does not count) above ``DIVERGENCE_FACTOR`` times the first loss counts as diverged.
    """

    def __init__(self, factor: float = DIVERGENCE_FACTOR, smoothing: float = 0.3) -> None:
        self.factor = factor
        self.smoothing = smoothing
        self.first: float | None = None
        self.average: float | None = None

    def __call__(self, step: int, loss: float) -> None:
        if not math.isfinite(loss):
            raise TrialFailed(f"training diverged: loss became {loss} at step {step}")
        if self.first is None:
            self.first, self.average = loss, loss
            return
        self.average = (1 - self.smoothing) * self.average + self.smoothing * loss
        if self.average > self.factor * max(self.first, 1e-3):
            raise TrialFailed(
                f"training diverged: loss rose from {self.first:.3g} to {loss:.3g} by step {step} "
                "(lower the learning rate)"
            )


@dataclass(frozen=True)
class TrainResult:
    """What one proxy training measured: validation metrics, throughput and peak memory."""

    metrics: dict[str, float]
    train_seconds: float
    steps: int
    final_loss: float
    stopped_early: bool = False


def param_groups(model: nn.Module, hp: Hyperparameters, weight_decay: float) -> list[dict]:
    """AdamW parameter groups: the adapter at ``learning_rate``, the head at ``head_learning_rate``."""
    # PEFT wraps the task head in ``modules_to_save``; without PEFT (adapters only) the
    # head is one of the model's top-level modules. Either way it gets its own learning rate.
    head_names = tuple(head_module_names(model))
    head, adapter = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            is_head = ".modules_to_save." in name or name.split(".")[0] in head_names
            (head if is_head else adapter).append(parameter)
    groups = [{"params": adapter, "lr": hp.learning_rate}, {"params": head, "lr": hp.head_learning_rate}]
    return [dict(g, weight_decay=weight_decay) for g in groups if g["params"]]


def batch_indices(lengths: list[int], batch_size: int, steps: int, generator: torch.Generator) -> Iterator[list[int]]:
    """Index batches for ``steps`` steps; every pass over the data is reshuffled.

    Within a pass, windows of ``LENGTH_GROUP_BATCHES`` batches are sorted by length before
    being cut into batches, and the batches are shuffled again: random batches of similar
    lengths, so little compute goes to padding.
    """
    size = len(lengths)
    produced = 0
    window = batch_size * LENGTH_GROUP_BATCHES
    while produced < steps:
        order = torch.randperm(size, generator=generator).tolist()
        order = order[: size - size % batch_size]
        batches = []
        for start in range(0, len(order), window):
            rows = sorted(order[start : start + window], key=lambda i: lengths[i])
            batches += [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]
        for b in torch.randperm(len(batches), generator=generator).tolist():
            if produced == steps:
                return
            yield batches[b]
            produced += 1


@torch.no_grad()
def evaluate(
    model: nn.Module,
    split: EncodedSplit,
    batch_size: int,
    task: Task,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """The task's validation metrics and mean loss (rows scored in length order, to pad little)."""
    predicted, mean_loss = predict(model, split, batch_size, task, device, dtype)
    return task.measure(predicted, split.labels, mean_loss)


def predict(
    model: nn.Module,
    split: EncodedSplit,
    batch_size: int,
    task: Task,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor | None, float]:
    """Each row's prediction, in the split's order (None when only the loss counts), and the
    mean loss: what ``evaluate`` scores, kept for who compares runs row by row."""
    device = device or torch.device("cpu")
    model.eval()
    order = sorted(range(len(split)), key=split.lengths().__getitem__)
    predictions: list[torch.Tensor] = []
    total_loss, total_weight = 0.0, 0
    for start in range(0, len(order), batch_size):
        batch = to_device(split.batch(order[start : start + batch_size]), device)
        with autocast(device, dtype):
            out = model(**batch)
        weight = task.loss_weight(batch)
        total_loss += out.loss.float().item() * weight
        total_weight += weight
        predicted = task.predictions(out.logits.float())
        if predicted is not None:
            predictions.append(predicted.cpu())
    in_order = None
    if predictions:
        in_order = torch.empty_like(torch.cat(predictions))
        in_order[torch.tensor(order)] = torch.cat(predictions)
    return in_order, total_loss / max(total_weight, 1)


def accumulate(
    model: nn.Module,
    train: EncodedSplit,
    indices: list[int],
    parts: int,
    task: Task,
    device: torch.device,
    dtype: torch.dtype | None,
    memory: MemoryMeter,
) -> float:
    """One step's gradients from ``indices`` run as ``parts`` micro-batches, each loss weighted by
    its share of the step's targets, so the sum is the whole batch's mean loss (and gradient)."""
    micro = [to_device(train.batch(indices[i::parts]), device) for i in range(parts) if indices[i::parts]]
    weights = [task.loss_weight(batch) for batch in micro]
    total = 0.0
    for batch, weight in zip(micro, weights, strict=True):
        with memory.step(batch):
            with autocast(device, dtype):
                loss = model(**batch).loss * (weight / sum(weights))
            loss.backward()
        total += loss.item()
    return total


def recompute_activations(model: nn.Module) -> None:
    """Recompute activations in the backward pass (non-reentrant, which PEFT's frozen inputs
    need), under the installed transformers' name (5.x renamed gradient_checkpointing_enable
    and warns on the old one)."""
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def train_proxy(
    model: nn.Module,
    train: EncodedSplit,
    validation: EncodedSplit,
    hp: Hyperparameters,
    budget: ProxyBudget,
    seed: int,
    task: Task,
    device: torch.device | None = None,
    on_step: Callable[[int, float], None] | None = None,
    rungs: list[int] | None = None,
    on_rung: Callable[[int, dict[str, float]], bool] | None = None,
) -> TrainResult:
    """Train ``model`` (already on ``device``) on ``budget.steps`` batches of ``train``; score it
    on ``validation``.

    The metrics hold the task's validation metrics plus ``throughput`` (training examples
    per second) and ``peak_memory_mb``. At each step count in ``rungs`` (before the last
    step) the model is scored and ``on_rung(step, metrics)`` decides whether training goes
    on; if not, the result holds that rung's metrics. A loss that turns NaN or infinite or
    blows up (DivergenceCheck), or running out of memory, raises TrialFailed.
    """
    from transformers import get_linear_schedule_with_warmup

    device = device or torch.device("cpu")
    dtype = autocast_dtype(device, budget.precision)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    train = train.head(budget.train_examples)
    validation = validation.head(budget.eval_examples)
    batch_size = min(budget.batch_size, len(train))
    optimizer = torch.optim.AdamW(param_groups(model, hp, budget.weight_decay))
    schedule = get_linear_schedule_with_warmup(optimizer, int(budget.warmup_ratio * budget.steps), budget.steps)
    trainable = [p for group in optimizer.param_groups for p in group["params"]]
    memory = MemoryMeter(model, device)
    check_divergence = DivergenceCheck()
    checkpoints = {r for r in (rungs or []) if r < budget.steps}
    training_seconds, examples, loss_value = 0.0, 0, math.nan

    def measured() -> dict[str, float]:
        scores = evaluate(model, validation, batch_size * 2, task, device, dtype)
        model.train()
        return scores | {
            "throughput": examples / max(training_seconds, 1e-9),
            "peak_memory_mb": memory.peak_mb(optimizer),
        }

    if budget.gradient_checkpointing:
        recompute_activations(model)
    model.train()
    out_of_memory = False
    try:
        for step, indices in enumerate(batch_indices(train.lengths(), batch_size, budget.steps, generator)):
            started = time.perf_counter()
            loss_value = accumulate(model, train, indices, budget.gradient_accumulation, task, device, dtype, memory)
            check_divergence(step, loss_value)
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            training_seconds += time.perf_counter() - started
            examples += len(indices)
            if on_step is not None:
                on_step(step + 1, loss_value)
            if step + 1 in checkpoints and on_rung is not None:
                metrics = measured()
                if not on_rung(step + 1, metrics):
                    return TrainResult(metrics, training_seconds, step + 1, loss_value, stopped_early=True)
        metrics = measured()
    except (torch.OutOfMemoryError, MemoryError):
        out_of_memory = True  # raised below, once this frame's tensors can be freed
    if out_of_memory:
        raise TrialFailed("out of memory: lower budget.batch_size or budget.max_length")
    if not math.isfinite(metrics["eval_loss"]):
        raise TrialFailed(f"training diverged: validation loss is {metrics['eval_loss']}")
    return TrainResult(metrics, training_seconds, budget.steps, loss_value)
