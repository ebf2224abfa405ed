"""``autopeft train``: fully train an exported configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from autopeft.cli.app import app, console, errors, fail
from autopeft.cli.signals import sigterm_as_interrupt
from autopeft.errors import AutopeftError


def interrupted(out: Path) -> AutopeftError:
    """What an interrupted train says: how to go on, where a checkpoint was kept."""
    from autopeft.finetune.trainer import CHECKPOINTS, has_complete_checkpoint

    if has_complete_checkpoint(out / CHECKPOINTS):
        return AutopeftError(
            f"train: interrupted. Fix: run the same command again to resume from {out}'s last checkpoint"
        )
    return AutopeftError(
        "train: interrupted before its first checkpoint (every --save-steps steps), so nothing is kept. "
        "Fix: run the same command again to start over"
    )


@app.command()
def train(
    exported: Annotated[Path, typer.Argument(help="Folder written by `autopeft export` (adapter config + recipe).")],
    out: Annotated[Path, typer.Option(help="Folder for the trained adapter, metrics.json and checkpoints.")],
    epochs: Annotated[float, typer.Option(help="Passes over the whole train split.")] = 3.0,
    max_steps: Annotated[Optional[int], typer.Option(help="Optimizer steps in all (overrides --epochs).")] = None,
    batch_size: Annotated[int, typer.Option(help="Training examples per step.")] = 32,
    max_length: Annotated[
        Optional[int], typer.Option(help="Tokens per example (longer cut); default 256, or the model's limit.")
    ] = None,
    device: Annotated[str, typer.Option(help="auto (a visible GPU, else the CPU), cpu, cuda or cuda:N.")] = "auto",
    save_steps: Annotated[int, typer.Option(help="Checkpoint every this many steps.")] = 500,
    seed: Annotated[
        Optional[int], typer.Option(help="Seed of the fresh adapter, head and batch order (default: the recipe's).")
    ] = None,
    test: Annotated[
        Optional[str],
        typer.Option(help="Held-out rows to score after training (a file or split; default: the spec's data.test)."),
    ] = None,
    report_to: Annotated[
        str, typer.Option(help="Where transformers' Trainer logs training: mlflow, wandb, tensorboard or none.")
    ] = "none",
    push_to_hub: Annotated[
        Optional[str],
        typer.Option(help="After training, upload the adapter to this Hugging Face Hub repo (e.g. USER/NAME)."),
    ] = None,
) -> None:
    """Fully train an exported configuration (transformers' Trainer) and score it on validation.

    Running it again with the same --out resumes from the last checkpoint.
    """
    from autopeft.finetune.train import ADAPTER, ALREADY_TRAINED, METRICS_FILE, train_exported

    with sigterm_as_interrupt() as terminated:  # the handler is train's only while it trains
        try:
            metrics = train_exported(
                exported,
                out,
                epochs=epochs,
                max_steps=max_steps,
                batch_size=batch_size,
                max_length=max_length,
                device=device,
                save_steps=save_steps,
                seed=seed,
                test=test,
                report_to=report_to,
                push_to_hub=push_to_hub,
            )
        except AutopeftError as error:
            fail(error)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the checkpoints stay, the same command goes on from them
            fail(interrupted(out), code=143 if terminated else 130)
    if metrics.pop(ALREADY_TRAINED, False):
        again = "nothing trained again. To train longer or start over, give a new --out"
        errors.print(f"train: {out} holds this run, trained to the end; {again}", highlight=False, soft_wrap=True)
    splits = [split for split in ("validation", "test") if split in metrics]
    scores = "; ".join(
        f"{split}: " + ", ".join(f"{name} {value:.4f}" for name, value in metrics[split].items()) for split in splits
    )
    console.print(
        f"trained {metrics['steps']} steps ({metrics['epochs']} epochs) in {metrics['train_seconds']:.0f}s; {scores}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"adapter: {out / ADAPTER}\nmetrics: {out / METRICS_FILE}", highlight=False, soft_wrap=True)
