"""transformers' Trainer as ``autopeft train`` runs it: the command's options, the recipe's
schedule and two learning rates, and autopeft's encoded rows as Trainer's dataset."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autopeft.data.encoding import EncodedSplit
from autopeft.finetune.recipe import RecipeBudget, RecipeHyperparameters
from autopeft.models.quiet import library_rename_warnings_off
from autopeft.proxy.training import param_groups
from autopeft.space.base import Hyperparameters

CHECKPOINTS = "checkpoints"  # inside the output folder: Trainer's checkpoints, for resuming
TRAINER_STATE = "trainer_state.json"  # the file Trainer writes last into a checkpoint
SECONDS_CALLBACK = "TrainingSeconds"  # where a checkpoint's trainer_state.json keeps the seconds trained

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    """What ``train_exported`` takes beside the two folders: how long and how big the run is,
    where it runs, its seed, what else it scores and where it reports (see its docstring). The
    fields follow its signature's order."""

    epochs: float = 3.0
    max_steps: int | None = None
    batch_size: int = 32
    max_length: int | None = None  # None: 256, or the model's position limit if shorter
    device: str = "auto"
    save_steps: int = 500
    seed: int | None = None
    test: str | None = None
    report_to: str = "none"
    push_to_hub: str | None = None


class EncodedRows(torch.utils.data.Dataset):
    """An encoded split as Trainer items: the row number, and the token ids that Trainer's
    length-grouped sampler measures. The collator pads the rows (``EncodedSplit.batch``)."""

    def __init__(self, split: EncodedSplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"row": index, "input_ids": self.split.features["input_ids"][index]}

    def collate(self, items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return self.split.batch([item["row"] for item in items])


def version_spelled_arguments(warmup_ratio: float, checkpointing: bool) -> dict[str, Any]:
    """TrainingArguments for a warmup fraction, length-grouped batches and recomputed
    activations, in the spelling of the installed transformers (5.x folded warmup_ratio into
    warmup_steps and group_by_length into train_sampling_strategy, and renamed
    gradient_checkpointing activation_checkpointing: the old names warn on every run)."""
    from dataclasses import fields

    import transformers

    names = {f.name for f in fields(transformers.TrainingArguments)}
    if "train_sampling_strategy" in names:
        grouping: dict[str, Any] = {"train_sampling_strategy": "group_by_length"}
    else:
        grouping = {"group_by_length": True}
    warmup = "warmup_steps" if int(transformers.__version__.split(".")[0]) >= 5 else "warmup_ratio"
    recompute = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    return grouping | {warmup: warmup_ratio, recompute: checkpointing}


def training_arguments(
    hp: RecipeHyperparameters,
    options: TrainOptions,
    checkpoints: Path,
    seed: int,
    target: torch.device,
    dtype: Any,
    budget: RecipeBudget | None = None,
) -> Any:
    """Trainer's arguments: the run's length, batch size and checkpoints, the recipe's
    schedule, and the search's precision and memory options (the batch as micro-batches,
    activations recomputed), so a model that fit the search fits its full training."""
    from transformers import TrainingArguments

    parts = min(1 if budget is None else budget.gradient_accumulation, options.batch_size)

    return TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=options.epochs,
        max_steps=options.max_steps if options.max_steps is not None else -1,
        per_device_train_batch_size=options.batch_size // parts,
        gradient_accumulation_steps=parts,
        lr_scheduler_type=hp.lr_schedule,
        max_grad_norm=hp.max_grad_norm,
        **version_spelled_arguments(hp.warmup_ratio, budget is not None and budget.gradient_checkpointing),
        remove_unused_columns=False,
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=1,
        logging_steps=logging_interval(options.save_steps),
        report_to=options.report_to,
        seed=seed,
        use_cpu=target.type == "cpu",
        bf16=dtype == torch.bfloat16,
        dataloader_num_workers=0,
    )


def logging_interval(save_steps: int) -> int:
    """Every 50 steps or fewer, on a divisor of ``save_steps``: every checkpoint then falls on a
    logged step, so the loss of the steps before a resume is in its log history, whole."""
    return max(d for d in range(1, min(50, max(save_steps, 1)) + 1) if save_steps % d == 0)


def make_trainer(model: nn.Module, hp: RecipeHyperparameters, train: EncodedSplit, args: Any) -> Any:
    """A Trainer with the recipe's two learning rates (adapter and head) in AdamW, over the
    encoded rows (padded per batch)."""
    from transformers import Trainer

    rates = Hyperparameters(learning_rate=hp.learning_rate, head_learning_rate=hp.head_learning_rate)
    optimizer = torch.optim.AdamW(param_groups(model, rates, hp.weight_decay))
    rows = EncodedRows(train)
    trainer = Trainer(
        model=model, args=args, data_collator=rows.collate, train_dataset=rows, optimizers=(optimizer, None)
    )
    logs_on_stderr(trainer)
    return trainer


def logs_on_stderr(trainer: Any) -> None:
    """Trainer's log lines (``{'loss': ..., 'learning_rate': ...}``) on stderr with its progress bar:
    its ProgressCallback (tqdm.write) and PrinterCallback (print) write them to stdout, where
    ``autopeft train`` prints only its result."""
    from transformers import PrinterCallback, ProgressCallback

    class LogsOnStderr:
        def on_log(self, *args: Any, **kwargs: Any) -> Any:
            with redirect_stdout(sys.stderr):
                return super().on_log(*args, **kwargs)

    for printing in (ProgressCallback, PrinterCallback):
        if trainer.pop_callback(printing) is not None:
            trainer.add_callback(type(printing.__name__, (LogsOnStderr, printing), {})())


@dataclass(frozen=True)
class Trained:
    """What the Trainer reports of a run, and whether it went on from a checkpoint."""

    train_loss: float
    steps: int
    epochs: float
    seconds: float
    resumed: bool


def _newest_first(checkpoints: Path) -> list[Path]:
    """Trainer's checkpoint folders (``checkpoint-N``), newest first; other names are passed over."""
    numbered = [
        (int(n), p) for p in checkpoints.glob("checkpoint-*") if (n := p.name[len("checkpoint-") :]).isdecimal()
    ]
    return [p for n, p in sorted(numbered, reverse=True) if p.is_dir() and p.name == f"checkpoint-{n}"]


def _saved_whole(checkpoint: Path) -> bool:
    """Trainer writes ``trainer_state.json`` last: a checkpoint without it, or with it cut
    short, was killed while saving."""
    try:
        json.loads((checkpoint / TRAINER_STATE).read_text())
        return True
    except (OSError, ValueError):
        return False


def has_complete_checkpoint(checkpoints: Path) -> bool:
    """Whether a run could go on from a checkpoint in ``checkpoints`` (reads only)."""
    return any(_saved_whole(folder) for folder in _newest_first(checkpoints))


def last_complete_checkpoint(checkpoints: Path) -> Path | None:
    """The newest checkpoint that was saved whole; newer ones cut short while saving are
    removed, and the run goes on from the one before (or from the start)."""
    for folder in _newest_first(checkpoints):
        if _saved_whole(folder):
            return folder
        logger.warning("train: %s was cut short while saving; going on from the checkpoint before it", folder)
        shutil.rmtree(folder)
    return None


def checkpoint_state(checkpoint: Path) -> dict[str, Any]:
    """A checkpoint's ``trainer_state.json``, read once for what a resume takes from it."""
    return json.loads((checkpoint / TRAINER_STATE).read_text())


def loss_before(state: dict[str, Any]) -> tuple[float, int]:
    """The summed training loss of the logged steps a checkpoint's state holds, and how many steps
    that covers (all of them: the logging interval divides the saving one)."""
    total, covered = 0.0, 0
    for entry in state.get("log_history", []):
        if "loss" in entry and covered < entry["step"] <= state["global_step"]:
            total, covered = total + entry["loss"] * (entry["step"] - covered), entry["step"]
    return total, covered


def seconds_before(state: dict[str, Any]) -> float:
    """How long the training a checkpoint's state holds took, over all its segments (0 for
    checkpoints saved before autopeft kept it)."""
    kept = (state.get("stateful_callbacks") or {}).get(SECONDS_CALLBACK) or {}
    return float((kept.get("attributes") or {}).get("seconds", 0.0))


def training_seconds(before: float) -> Any:
    """A Trainer callback whose state, saved in each checkpoint's trainer_state.json (Trainer's
    ``ExportableState``, under its class name), is the seconds trained up to it: ``before`` (the
    segments a resume goes on from) and this segment's."""
    from transformers import TrainerCallback
    from transformers.trainer_callback import ExportableState

    class TrainingSeconds(TrainerCallback, ExportableState):
        def __init__(self) -> None:
            self.started = time.perf_counter()

        def seconds(self) -> float:
            return before + time.perf_counter() - self.started

        def state(self) -> dict[str, Any]:
            return {"args": {}, "attributes": {"seconds": self.seconds()}}

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            # A checkpoint saved before autopeft kept the seconds has no entry for them, and
            # Trainer's next save looks the entry up before writing it: give it one.
            state.stateful_callbacks.setdefault(type(self).__name__, self.state())

    return TrainingSeconds()


def run_trainer(trainer: Any, out_dir: Path) -> Trained:
    """Train, going on from the last complete checkpoint in ``out_dir`` if there is one (said on
    stderr). The loss and seconds reported are the whole run's: Trainer's cover only the steps it
    ran now (the seconds are those of the training kept: a segment's steps after its last
    checkpoint ran again after the resume, and count once)."""
    resume = last_complete_checkpoint(out_dir / CHECKPOINTS)
    start = 0 if resume is None else int(resume.name.rpartition("-")[2])
    state = None if resume is None else checkpoint_state(resume)
    before, covered = (0.0, 0) if state is None else loss_before(state)
    if resume is not None:
        logger.warning("train: resuming from %s (step %d done)", resume.name, start)
        if SECONDS_CALLBACK not in (state.get("stateful_callbacks") or {}):
            logger.warning("train: %s does not say how long it trained; train_seconds counts from now", resume.name)
    clock = training_seconds(0.0 if state is None else seconds_before(state))
    trainer.add_callback(clock)
    with library_rename_warnings_off():
        output = trainer.train(resume_from_checkpoint=None if resume is None else str(resume))
    seconds = clock.seconds()
    epochs = round(trainer.state.epoch or 0.0, 4)
    now = output.global_step - start
    loss = (before + output.training_loss * now) / max(covered + now, 1)
    return Trained(loss, output.global_step, epochs, seconds, resume is not None)
