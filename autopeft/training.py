"""The proxy training loop: a short, seeded, budgeted training and a validation score.

Kept as a plain PyTorch loop (no Trainer) so its overhead over a bare loop stays small.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from sklearn.metrics import accuracy_score
from torch import nn

from autopeft.data.encoding import EncodedSplit
from autopeft.errors import TrialFailed
from autopeft.models.arch import head_module_names
from autopeft.space.base import Hyperparameters
from autopeft.spec import BudgetSpec

# Training has diverged when the smoothed loss exceeds this multiple of the first step's.
DIVERGENCE_FACTOR = 10.0


class DivergenceCheck:
    """Stops a run whose loss is not finite or has blown up.

    Adam with clipped gradients rarely produces NaN even at absurd learning rates: the
    loss climbs by orders of magnitude instead. An exponential average (so one noisy batch
    does not count) above ``DIVERGENCE_FACTOR`` times the first loss counts as diverged.
    """

    def __init__(self, factor: float = DIVERGENCE_FACTOR, smoothing: float = 0.3):
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
    """What one proxy training measured."""

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


def batch_indices(size: int, batch_size: int, steps: int, generator: torch.Generator):
    """Index batches for ``steps`` steps, reshuffling at every pass over the data."""
    order = torch.randperm(size, generator=generator)
    cursor = 0
    for _ in range(steps):
        if cursor + batch_size > size:
            order, cursor = torch.randperm(size, generator=generator), 0
        yield order[cursor : cursor + batch_size]
        cursor += batch_size


@torch.no_grad()
def evaluate(model: nn.Module, split: EncodedSplit, batch_size: int) -> dict[str, float]:
    """Validation accuracy and mean loss."""
    model.eval()
    predictions, losses = [], []
    for start in range(0, len(split), batch_size):
        batch = split.batch(range(start, min(start + batch_size, len(split))))
        out = model(**batch)
        losses.append(out.loss.item() * len(batch["labels"]))
        predictions.append(out.logits.argmax(-1))
    predicted = torch.cat(predictions).numpy()
    return {"accuracy": float(accuracy_score(split.labels.numpy(), predicted)), "eval_loss": sum(losses) / len(split)}


def train_proxy(
    model: nn.Module,
    train: EncodedSplit,
    validation: EncodedSplit,
    hp: Hyperparameters,
    budget: BudgetSpec,
    seed: int,
    on_step: Callable[[int, float], None] | None = None,
    rungs: list[int] | None = None,
    on_rung: Callable[[int, dict[str, float]], bool] | None = None,
) -> TrainResult:
    """Train ``model`` on ``budget.steps`` batches of ``train``; score it on ``validation``.

    At each step count in ``rungs`` (before the last step) the model is scored and
    ``on_rung(step, metrics)`` decides whether training goes on; if not, the result holds
    that rung's metrics. A loss that turns NaN or infinite or blows up (DivergenceCheck),
    or running out of memory, raises TrialFailed.
    """
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    train = train.head(budget.train_examples)
    batch_size = min(budget.batch_size, len(train))
    optimizer = torch.optim.AdamW(param_groups(model, hp, budget.weight_decay))
    warmup = int(budget.warmup_ratio * budget.steps)
    schedule = get_linear_schedule_with_warmup(optimizer, warmup, budget.steps)
    model.train()
    started = time.perf_counter()
    loss_value = math.nan
    checkpoints = {r for r in (rungs or []) if r < budget.steps}
    check_divergence = DivergenceCheck()
    validation = validation.head(budget.eval_examples)
    try:
        for step, indices in enumerate(batch_indices(len(train), batch_size, budget.steps, generator)):
            loss = model(**train.batch(indices)).loss
            loss_value = loss.item()
            check_divergence(step, loss_value)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            if on_step is not None:
                on_step(step + 1, loss_value)
            if step + 1 in checkpoints and on_rung is not None:
                metrics = evaluate(model, validation, batch_size * 2)
                model.train()
                if not on_rung(step + 1, metrics):
                    return TrainResult(metrics, time.perf_counter() - started, step + 1, loss_value, stopped_early=True)
        train_seconds = time.perf_counter() - started
        metrics = evaluate(model, validation, batch_size * 2)
    except torch.OutOfMemoryError:
        raise TrialFailed("out of memory: lower budget.batch_size or budget.max_length") from None
    if not math.isfinite(metrics["eval_loss"]):
        raise TrialFailed(f"training diverged: validation loss is {metrics['eval_loss']}")
    return TrainResult(metrics, train_seconds, budget.steps, loss_value)
