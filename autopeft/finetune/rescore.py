"""Test predictions for a run that finished before ``autopeft train`` kept them.

A finished run's trained adapter (``OUT/adapter``) is the model that was scored: loaded onto
the base model again, it gives each test row's prediction without training anything, and the
score those predictions give is checked against the one ``metrics.json`` recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autopeft.data.atomic import write_atomic
from autopeft.errors import AutopeftError
from autopeft.finetune.predictions import PREDICTIONS_FILE, read_predictions, scored_predictions
from autopeft.finetune.recipe import Recipe
from autopeft.finetune.train import ADAPTER, METRICS_FILE, load_splits
from autopeft.finetune.trainer import TrainOptions
from autopeft.methods import load_adapter
from autopeft.models import load_base_model
from autopeft.proxy.devices import autocast_dtype, resolve_device


def rescore_finished(export_dir: Path, out_dir: Path, device: str = "auto") -> dict[str, Any]:
    """The test predictions of the finished run in ``out_dir`` (trained from ``export_dir``),
    kept there as ``train`` keeps them; refused when the run scored no test split or when the
    predictions do not give the test score ``metrics.json`` recorded."""
    kept = read_predictions(out_dir)
    if kept is not None:
        return kept
    metrics = json.loads((Path(out_dir) / METRICS_FILE).read_text())
    if metrics.get("test_source") is None:
        raise AutopeftError(f"{out_dir}: the run scored no test split. Fix: train it with --test")
    recipe = Recipe.read(export_dir)
    options = TrainOptions(
        batch_size=metrics["batch_size"], max_length=metrics["max_length"], device=device, test=metrics["test_source"]
    )
    splits = load_splits(recipe, options, Path(out_dir) / "cache")
    loading = recipe.loading()
    base = load_base_model(recipe.model, splits.data.task, splits.data.label_names, seed=0, loading=loading)
    target = resolve_device(device)
    model = load_adapter(base, Path(out_dir) / ADAPTER).to(target)
    dtype = autocast_dtype(target, recipe.proxy_budget.precision)
    _, kept = scored_predictions(
        model, splits.test, splits.test_source, splits.data.task, options.batch_size * 2, dtype
    )
    if kept is None:
        raise AutopeftError(f"{out_dir}: the task predicts nothing per row")
    recorded = {name: metrics["test"][name] for name in kept["scores"] if name != "eval_loss"}
    again = {name: kept["scores"][name] for name in recorded}
    if again != recorded:
        raise AutopeftError(
            f"{out_dir}: the saved adapter scores {again} on the test split, metrics.json says {recorded}. "
            "Fix: train that run again (delete its folder)"
        )
    write_atomic(Path(out_dir) / PREDICTIONS_FILE, json.dumps(kept))
    return kept
