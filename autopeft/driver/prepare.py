"""Preparing a study once: everything the search loop needs, checked before any training.

Data, model, architecture, space, references, baseline, the hypervolume reference and
(with ``importance:``) the importance scores are made here, in one place, into a
``PreparedStudy``. Every bad input fails here, before a study folder exists.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
from torch import nn

from autopeft.data.cache import encode_cached
from autopeft.data.encoding import EncodedSplit
from autopeft.driver.space import build_space, fixed_point
from autopeft.errors import SpecError, TrialFailed
from autopeft.methods import count_parameters
from autopeft.models import Architecture, discover_architecture, load_base_model, resolve_model_path
from autopeft.models.loading import check_max_length, load_skeleton, load_tokenizer, position_limit
from autopeft.models.memory import ModelLoading
from autopeft.proxy.devices import resolve_device
from autopeft.proxy.importance import importance_prior, importance_scores, least_important
from autopeft.proxy.measure import MB, tensor_bytes
from autopeft.proxy.training import evaluate
from autopeft.proxy.trial import TrialContext
from autopeft.space import Point, SearchSpace
from autopeft.spec import ImportanceSpec, StudySpec
from autopeft.tasks import TaskData, load_task_data

if TYPE_CHECKING:
    from autopeft.store.study import StudyStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedStudy:
    """What a run of a study works from; made once by ``prepare_study``."""

    spec: StudySpec
    data: TaskData
    context: TrialContext
    space: SearchSpace
    references: dict[str, Point]
    baseline: dict[str, float]  # the trivial predictor's metrics (language modelling: the untuned model's)
    validation_rows: int  # rows every trial is scored on
    hypervolume_reference: dict[str, float]
    parameter_limit: int | None  # the tightest trainable-parameter limit of the spec's constraints
    importance: tuple[dict[str, float], frozenset[str]] | None = None  # scores, modules switched off
    startup_prior: dict[str, float] | None = None  # placement bit -> P(on) in the first trials (importance prior)
    validation_classes: int | None = None  # classes among the scored validation rows (classification)

    def data_digests(self) -> dict[str, str]:
        """The train and validation rows' fingerprints (``data.test`` is never read by a search)."""
        return {"train": self.context.train.digest(), "validation": self.context.validation.digest()}

    @property
    def arch(self) -> Architecture:
        return self.space.arch


def load_inputs(spec: StudySpec, cache_dir: Path | None, device: str = "auto") -> tuple[TaskData, TrialContext]:
    """Data and model, loaded and checked; what a trial needs (a Ray worker loads only this).

    Tokenized splits are cached in ``cache_dir``, so a resumed study does not tokenize again.
    """
    loading = _checked_loading(spec)
    data = _load_data(spec)
    return data, _trial_context(spec, data, _load_model(spec, data, loading, device), cache_dir)


def _checked_loading(spec: StudySpec) -> ModelLoading:
    """How the weights will be held, refused (quantization no backend here runs) before the
    data loads, so the error is the first thing the user sees."""
    loading = ModelLoading(**spec.model_options.model_dump())
    loading.check_backend()
    return loading


def _load_data(spec: StudySpec) -> TaskData:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return load_task_data(spec.data.source(), spec.data.make_task(), seed=spec.seed)


def _note_short_splits(spec: StudySpec, data: TaskData) -> None:
    """A budget that asks for more rows than a split holds uses them all: say so, since the
    proxy then differs from the one the budget describes."""
    for field, asked, split, rows in (
        ("budget.train_examples", spec.budget.train_examples, "train", len(data.train)),
        ("budget.eval_examples", spec.budget.eval_examples, "validation", len(data.validation)),
    ):
        if asked is not None and asked > rows:
            logger.warning(
                "%s: %d asked, the %s split holds %d rows; the proxy uses all %d", field, asked, split, rows, rows
            )


def _load_model(spec: StudySpec, data: TaskData, loading: ModelLoading, device: str) -> nn.Module:
    target = resolve_device(device)
    model = load_base_model(spec.model, data.task, data.label_names, seed=spec.seed, loading=loading)
    return model if loading.quantized else model.to(target)  # a quantized model is placed as it loads


def _trial_context(spec: StudySpec, data: TaskData, base: nn.Module, cache_dir: Path | None) -> TrialContext:
    tokenizer = load_tokenizer(spec.model)
    length = spec.budget.max_length
    check_max_length(length, position_limit(base.config), "budget.max_length")  # else every trial fails in the model
    return TrialContext(
        base_model=base,
        base_model_path=resolve_model_path(spec.model),
        base_parameters=count_parameters(base)[1],
        train=encode_cached(data.task, data.train, tokenizer, length, cache_dir),
        validation=encode_cached(data.task, data.validation, tokenizer, length, cache_dir),
        budget=spec.budget.proxy(),
        task=data.task,
        device=next(base.parameters()).device,
        measure_latency="latency_overhead" in spec.objectives,
    )


def prepare_study(spec: StudySpec, cache_dir: Path | None, device: str = "auto") -> PreparedStudy:
    """Load and check data, model, space and references once (before anything is written to
    ``cache_dir``); tokenize; measure the baseline."""
    loading = _checked_loading(spec)
    data = _load_data(spec)
    _note_short_splits(spec, data)
    # The space is checked on the model's shapes before its weights load (minutes for a 7B model).
    shapes = load_skeleton(spec.model, data.task, data.label_names)
    space, references, limit = _checked_space(spec, shapes)
    base = _load_model(spec, data, loading, device)
    if discover_architecture(base, spec.roles) != space.arch or count_parameters(base) != count_parameters(shapes):
        space, references, limit = _checked_space(spec, base)  # a checkpoint its configuration misdescribes
    context = _trial_context(spec, data, base, cache_dir)
    baseline = baseline_metrics(context)
    return PreparedStudy(
        spec=spec,
        data=data,
        context=context,
        space=space,
        references=references,
        baseline=baseline,
        validation_rows=len(scored_validation(context)),
        hypervolume_reference=hypervolume_reference(baseline, context),
        parameter_limit=None if limit is None else limit[0],
        validation_classes=_classes(scored_validation(context)) if spec.data.task == "classification" else None,
    )


def _classes(split: EncodedSplit) -> int | None:
    """How many classes the rows hold: one alone makes every classification metric meaningless."""
    return None if split.labels is None else len(set(split.labels.tolist()))


def _checked_space(spec: StudySpec, model: nn.Module) -> tuple[SearchSpace, dict[str, Point], tuple[int, str] | None]:
    """The space on ``model`` (its weights are not read), the references in it and the
    tightest parameter limit, each checked."""
    space = build_space(spec.space, discover_architecture(model, spec.roles), model.config)
    if spec.importance is not None and not space.placeable_modules():
        raise SpecError(
            "importance",
            "the space has no per-layer placement bits to switch off",
            "set per_layer_placement: true on a method with modules (lora, ia3, adapters), or drop importance",
        )
    references = reference_points(spec, space.arch, model.config)
    limit = tightest_limit(spec, count_parameters(model)[1])
    check_the_budget_fits(space, limit)
    return space, references, limit


def narrow_by_importance(prepared: PreparedStudy, store: StudyStore) -> PreparedStudy:
    """The study with its least important placements switched off, as the spec's
    ``importance`` asks. Scores are computed once per study and stored: a resumed study
    searches the same space."""
    options = prepared.spec.importance
    if options is None:
        return prepared
    saved = store.importance()
    if saved is None:
        scores = module_scores(prepared.context, prepared.space.placeable_modules(), options, prepared.spec.seed)
        saved = scores, least_important(scores, options.keep) if options.use == "prune" else frozenset()
        store.set_importance(*saved, score=options.score)
    space = build_space(prepared.spec.space, prepared.arch, prepared.context.base_model.config, saved[1])
    prior = importance_prior(saved[0], space.placement_bit_modules()) if options.use == "prior" else None
    return replace(prepared, space=space, importance=saved, startup_prior=prior)


def module_scores(context: TrialContext, modules: list[str], options: ImportanceSpec, seed: int) -> dict[str, float]:
    """``modules`` scored as ``options`` say, on the proxy's training rows in its batch size."""
    budget = context.budget
    return importance_scores(
        context.base_model,
        modules,
        context.train.head(budget.train_examples),
        context.task,
        options.score,
        options.batches,
        budget.batch_size,
        options.head_warmup_steps,
        seed,
        context.device,
    )


def reference_points(spec: StudySpec, arch: Architecture, model_config: object) -> dict[str, Point]:
    """The spec's reference configurations, by name (a reference that is not one configuration fails here)."""
    return {
        name: fixed_point(reference, arch, model_config, f"references.{name}")
        for name, reference in spec.references.items()
    }


def scored_validation(context: TrialContext) -> EncodedSplit:
    """The validation rows every trial is scored on."""
    return context.validation.head(context.budget.eval_examples)


def baseline_metrics(context: TrialContext) -> dict[str, float]:
    """The task's metrics for a trivial predictor, or (language modelling) for the untuned model."""
    budget = context.budget
    validation = scored_validation(context)
    try:
        trivial = context.task.baseline(context.train.head(budget.train_examples), validation)
    except TrialFailed as failed:  # a custom metric on the constant predictions: no trial to fail yet
        raise SpecError(
            "objectives",
            f"the baseline (the trivial predictor's constant predictions): {failed}",
            "make the metric return a finite number for constant predictions",
        ) from None
    if trivial is not None:
        return trivial
    return evaluate(context.base_model, validation, budget.batch_size * 2, context.task, context.device)


def hypervolume_reference(baseline: dict[str, float], context: TrialContext) -> dict[str, float]:
    """The worst value of each objective that still counts: a configuration adds hypervolume
    only if it beats the baseline, trains fewer parameters and needs less memory than full
    fine-tuning (weights, gradients, two Adam moments), and at most doubles latency."""
    weights_mb = tensor_bytes(context.base_model.parameters()) / MB
    return baseline | {
        "trainable_params": float(context.base_parameters),
        "peak_memory_mb": 4 * weights_mb,
        "throughput": 0.0,
        "latency_overhead": 1.0,
    }


def tightest_limit(spec: StudySpec, base_parameters: int) -> tuple[int, str] | None:
    """(limit, the spec field that sets it) for the tightest trainable-parameter constraint."""
    limits = []
    for prefix, constraints in (("constraints", spec.constraints), ("space.constraints", spec.space.constraints)):
        if constraints.max_trainable_params is not None:
            limits.append((constraints.max_trainable_params, f"{prefix}.max_trainable_params"))
        if constraints.max_trainable_percent is not None:
            percent = int(constraints.max_trainable_percent / 100 * base_parameters)
            limits.append((percent, f"{prefix}.max_trainable_percent"))
    return min(limits) if limits else None


def check_the_budget_fits(space: SearchSpace, tightest: tuple[int, str] | None) -> None:
    """A parameter budget (``tightest_limit``) that no configuration of the space meets is an
    error before any training."""
    if tightest is None:
        return
    limit, field = tightest
    _, smallest = space.smallest_params()
    if smallest > limit:
        raise SpecError(
            field,
            f"no configuration of the space fits in {limit:,} trainable parameters: the smallest has "
            f"{smallest:,} (the task head included)",
            f"allow at least {smallest:,} trainable parameters, or offer smaller sizes or placements in the space",
        )
