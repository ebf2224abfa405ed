"""Export a trial for full training with stock tools: a PEFT adapter config and a recipe."""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

from autopeft.errors import UsageError
from autopeft.finetune.recipe import RECIPE_FILE, Recipe, RecipeBudget, RecipeHyperparameters, RecipeSearch
from autopeft.methods import write_adapter_config
from autopeft.methods.io import AUTOPEFT_CONFIG, PEFT_CONFIG
from autopeft.models import resolve_model_path
from autopeft.models.loading import shared_model_name
from autopeft.space.base import Point
from autopeft.spec.objectives import Objective
from autopeft.spec.rate_grids import grid_name
from autopeft.store.confirmations import record_key
from autopeft.store.records import Confirmation, ReferenceRecord, TrialRecord, tuned_references
from autopeft.store.study import StudyStore
from autopeft.tasks.kinds import TASK_KINDS


def export_trial(study_dir: str | Path, trial: int, out_dir: str | Path, force: bool = False) -> Path:
    """Write the adapter config and ``recipe.yaml`` (the trial's training hyperparameters and
    proxy budget) into ``out_dir``.

    The config is a stock ``adapter_config.json`` (loads with ``peft.PeftConfig.from_pretrained``)
    when PEFT alone expresses the trial, and ``autopeft_adapter.json`` (loads with
    ``autopeft.load_adapter``) for bottleneck adapters, prefix and bias tuning and hybrids.
    """
    if not isinstance(trial, numbers.Integral) or isinstance(trial, bool):  # numpy's ints (a DataFrame's) are
        raise UsageError(
            f"--trial: {trial!r} is not a trial number. Fix: give an integer, e.g. export_trial(study, 3, out)"
        )
    trial = int(trial)
    store = StudyStore.open(study_dir, read_only=True)
    record = store.record(trial)
    if record.state != "complete":
        raise UsageError(
            f"--trial: trial {trial} did not complete ({record.fail_reason or record.state}). "
            f"Fix: export a completed trial, e.g. one listed by 'autopeft show {store.path}'"
        )
    stored = store.adapter_config(trial=trial)
    return _export(store, record, {"trial": trial}, store.spec.seed + record.seed_number, out_dir, force, stored)


def export_reference(study_dir: str | Path, name: str, out_dir: str | Path, force: bool = False) -> Path:
    """Like ``export_trial``, for one of the study's trained references (so that it can be
    trained in full exactly as a found configuration is). The name of a reference tuned on a
    learning-rate grid exports the grid's best member, the one ``show`` compares; the recipe's
    ``reference`` names that member."""
    store = StudyStore.open(study_dir, read_only=True)
    records = {record.name: record for record in store.references()}
    record = records.get(name) or best_grid_member(list(records.values()), name, store.objectives[0])
    if record is None or record.failed:
        known = [r for r in records if not records[r].failed]
        problem = f"no trained reference {name!r} in {store.path}" if record is None else f"{name!r} failed"
        fix = (
            f"use one of: {', '.join(known)}"
            if known
            else "export a trial (--trial N), or add `references:` to the spec and run the search again"
        )
        raise UsageError(f"--reference: {problem}. Fix: {fix}")
    stored = store.adapter_config(reference=record.name)
    return _export(store, record, {"reference": record.name}, store.spec.seed, out_dir, force, stored)


def best_grid_member(references: list[ReferenceRecord], name: str, objective: Objective) -> ReferenceRecord | None:
    """The member of ``name``'s learning-rate grid that ``show`` compares the reference at (its
    best proxy score on the study's first ``objective``), or None when ``name`` is no grid's."""
    members = [record for record in references if grid_name(record.name) == name != record.name]
    return tuned_references(members, objective)[0][0] if members else None


def confirmed_summary(confirmation: Confirmation | None, metric: str) -> dict[str, Any] | None:
    """The confirmation runs as the recipe states them: the metric's mean, its standard error
    between seeds, each run's score, the seeds and steps."""
    if confirmation is None:
        return None
    return {
        "metric": metric,
        "mean": confirmation.mean(metric),
        "standard_error": confirmation.standard_error(metric),
        "runs": confirmation.scores(metric),
        "seeds": confirmation.seeds,
        "steps": confirmation.steps,
    }


def _export(
    store: StudyStore,
    record: TrialRecord | ReferenceRecord,
    source: dict[str, Any],
    seed: int,
    out_dir: str | Path,
    force: bool,
    peft_config: dict[str, Any] | None,
) -> Path:
    """The config and recipe of a trained configuration (a trial or a reference: both records
    carry the point, the measurements and the trainable-parameter count). ``peft_config``: the
    adapter config the study kept (then PEFT, and torch, are not loaded)."""
    spec = store.spec
    point = Point.from_dict(record.point)
    measured = {**record.values, "trainable_params": record.trainable_params, "percent_of_base": record.percent_of_base}
    out = _empty_folder(Path(out_dir), force, keep=store.path)
    task = TASK_KINDS[spec.data.task]
    local = resolve_model_path(spec.model)
    shared = shared_model_name(spec.model)
    config_file = write_adapter_config(point, store.head_modules(), out, shared, task.peft_task_type, peft_config)
    Recipe(
        study=str(store.path.resolve()),
        study_name=spec.name,
        tracking=store.tracker_runs() or None,
        **source,
        model=spec.model,
        model_options=spec.model_options.model_dump(),
        base_model_name_or_path=shared,
        base_model_local_path=local,
        data=spec.data,
        labels=store.label_names(),
        method=point.method,
        adapter_config=config_file.name,
        hyperparameters=RecipeHyperparameters(
            learning_rate=point.hyperparameters.learning_rate,
            head_learning_rate=point.hyperparameters.head_learning_rate,
            lr_schedule="linear",
            warmup_ratio=spec.budget.warmup_ratio,
            weight_decay=spec.budget.weight_decay,
            max_grad_norm=1.0,
            optimizer="adamw",
        ),
        proxy_budget=RecipeBudget(**spec.budget.model_dump(exclude_none=True)),
        seed=seed,  # the proxy training's seed: the adapter's first weights and the batch order
        head_seed=spec.seed,  # the fresh task head every trial of the study started from
        data_seed=spec.seed,  # what carved the study's validation rows from train (validation_fraction)
        measured=measured,
        confirmed=confirmed_summary(store.confirmation(record_key(record)), store.objectives[0].name),
        search=RecipeSearch(
            name=spec.name,
            sampler=spec.sampler,
            trials=store.finished_count(),
            objectives=[objective.name for objective in store.objectives],
        ),
    ).write(out)
    return out


EXPORT_FILES = (RECIPE_FILE, AUTOPEFT_CONFIG, PEFT_CONFIG)  # what an export writes into its folder


def _empty_folder(out: Path, force: bool, keep: Path) -> Path:
    """``out``, with no earlier export's files: an export never mixes with an earlier one (a
    stale config would train); ``--force`` removes those files and nothing else.
    A folder holding ``keep`` (the study) is refused: emptying it would delete the study."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} is a file. Fix: give a folder path")
    if keep.resolve().is_relative_to(out.resolve()):
        raise UsageError(f"--out: {out} holds the study {keep}. Fix: give a folder outside the study")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise UsageError(
                f"--out: {out} is not empty. Fix: give a new folder, or add --force to replace its contents"
            )
        if not (out / RECIPE_FILE).is_file():  # --force replaces an export, never a folder of the user's
            raise UsageError(
                f"--out: {out} holds files but no earlier export ({RECIPE_FILE}); --force replaces only an "
                "export. Fix: give a new or empty folder"
            )
        for name in EXPORT_FILES:  # only the export's own files: a user's notes or a run trained there stay
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    return out
