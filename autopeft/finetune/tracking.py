"""``autopeft train --report-to mlflow|wandb``: the full training's run, where the search's are.

The run is opened here, in the study's MLflow experiment (nested under the search's parent run
when the export knows it and it is in the same tracking store) or in the study's W&B group,
named after the exported configuration (``trial 12 full training``). transformers' Trainer
callbacks log the loss and learning rate into the run that is active, so they log into this
one; at the end it gets the validation and test scores. ``MLFLOW_EXPERIMENT_NAME`` and
``WANDB_PROJECT``, when set, are the libraries' own and still win.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from autopeft.finetune.recipe import Recipe

SCORED_SPLITS = ("validation", "test")
logger = logging.getLogger(__name__)


def run_name(recipe: Recipe) -> str:
    """The run's name: the exported trial's or reference's, as the search's run for it is named."""
    if recipe.trial is not None:
        return f"trial {recipe.trial} full training"
    if recipe.reference is not None:
        return f"reference {recipe.reference} full training"
    return "full training"


def final_metrics(scores: Mapping[str, Any], train_seconds: float, train_loss: float) -> dict[str, float]:
    """What the run gets at its end: each split's scores as ``validation_accuracy``,
    ``test_accuracy``..., and the training's length and last loss."""
    metrics = {
        f"{split}_{name}": float(value)
        for split in SCORED_SPLITS
        for name, value in (scores.get(split) or {}).items()
        if isinstance(value, (int, float))
    }
    return metrics | {"train_seconds": train_seconds, "train_loss": train_loss}


class TrainingRun:
    """The open run: ``log_end`` gives it the final scores."""

    def __init__(self, log: Any = None) -> None:
        self._log = log

    def log_end(self, scores: Mapping[str, Any], train_seconds: float, train_loss: float) -> None:
        """Log the final scores; an outage now is a warning (the trained adapter and metrics.json
        are still written)."""
        if self._log is None:
            return
        try:
            self._log(final_metrics(scores, train_seconds, train_loss))
        except Exception as error:  # noqa: BLE001 - the training is done: never lose it to the tracker
            logger.warning("train: logging the final scores failed (%s: %s)", type(error).__name__, error)


@contextmanager
def tracked_training(recipe: Recipe, report_to: str) -> Iterator[TrainingRun]:
    """The run ``report_to`` names, open while the body trains and scores; it ends FINISHED, or
    KILLED (Ctrl-C) or FAILED when the body raises. Other trackers (tensorboard, none) are
    Trainer's alone: nothing is opened."""
    if report_to == "mlflow":
        with _mlflow_run(recipe) as run:
            yield run
    elif report_to == "wandb":
        with _wandb_run(recipe) as run:
            yield run
    else:
        yield TrainingRun()


@contextmanager
def _mlflow_run(recipe: Recipe) -> Iterator[TrainingRun]:
    import mlflow

    experiment = mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME") or recipe.study_name or "autopeft")
    tags = {"autopeft.kind": "full training", "autopeft.study": recipe.study or ""}
    parent = (recipe.tracking or {}).get("mlflow", {})
    if parent.get("experiment_id") == experiment.experiment_id and _exists(mlflow, parent.get("run_id")):
        tags["mlflow.parentRunId"] = parent["run_id"]
    mlflow.start_run(experiment_id=experiment.experiment_id, run_name=run_name(recipe), tags=tags)
    try:
        yield TrainingRun(mlflow.log_metrics)
    except BaseException as error:
        mlflow.end_run("KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
        raise
    mlflow.end_run("FINISHED")


def _exists(mlflow: Any, run_id: str | None) -> bool:
    if not run_id:
        return False
    try:
        return mlflow.MlflowClient().get_run(run_id).info.lifecycle_stage == "active"
    except mlflow.exceptions.MlflowException:
        return False  # another tracking store than the search's


@contextmanager
def _wandb_run(recipe: Recipe) -> Iterator[TrainingRun]:
    import wandb

    group = (recipe.tracking or {}).get("wandb", {}).get("group") or recipe.study_name
    run = wandb.init(group=group, name=run_name(recipe), job_type="train", config={"study": recipe.study})
    try:
        yield TrainingRun(run.log)
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            run.mark_preempting()
        run.finish(exit_code=1)
        raise
    run.finish()
