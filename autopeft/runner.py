"""The search loop: space -> sampler -> trial -> storage, until the study has its trials.

Uses optuna's ask/tell interface so that the loop (not optuna) decides how trials run and
how failures are recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import optuna

from autopeft.data.cache import encode_cached
from autopeft.data.encoding import EncodedSplit
from autopeft.devices import resolve_device
from autopeft.errors import SpecError
from autopeft.executors import Executor, Judge, LocalExecutor, TrialRequest, TrialResult, execute
from autopeft.importance import gradient_energy, least_important
from autopeft.measure import MB, tensor_bytes
from autopeft.methods import count_parameters
from autopeft.models import Architecture, discover_architecture, load_base_model, resolve_model_path
from autopeft.models.loading import load_tokenizer
from autopeft.optim.fidelity import RUNGS, RungBoard, SuccessiveHalving, best_known_values
from autopeft.samplers import make_sampler
from autopeft.space import Point, SearchSpace, build_space, fixed_point
from autopeft.spec import StudySpec, load_spec, parse_spec, resolve_paths, with_executor
from autopeft.study import (
    ATTEMPTS,
    FAIL_REASON,
    MEASUREMENTS,
    PERCENT,
    POINT,
    SECONDS,
    STEPS,
    TRAINABLE,
    WORKER,
    ReferenceRecord,
    StudyStore,
    TrialRecord,
)
from autopeft.tasks import TaskData, load_task_data
from autopeft.training import evaluate
from autopeft.trial import TrialContext

DEFAULT_RUNS_DIR = "autopeft-runs"
CACHE_DIR = "cache"  # inside the study folder: tokenized splits


class SearchObserver:
    """Hooks for showing progress; the default shows nothing."""

    def on_start(
        self, store: StudyStore, done: int, total: int, baseline: dict[str, float], references: int = 0
    ) -> None:
        """The run begins: ``done`` of ``total`` trials finished, ``references`` references to train."""

    def on_trial_start(self, number: int) -> None: ...

    def on_step(self, step: int, loss: float) -> None: ...

    def on_trial_end(self, record: TrialRecord) -> None: ...

    def on_reference_start(self, name: str) -> None: ...

    def on_reference_end(self, record: ReferenceRecord) -> None: ...


@dataclass
class SearchResult:
    """A study's folder, all its trials and its Pareto set."""

    study_dir: Path
    metric: str
    task: str  # the spec's data.task: classification, regression or causal_lm
    objectives: list[str] = field(default_factory=list)
    trials: list[TrialRecord] = field(default_factory=list)
    pareto: list[TrialRecord] = field(default_factory=list)
    baseline: dict[str, float] | None = None  # metrics of a trivial predictor (or the untuned model)
    validation_rows: int | None = None  # how many validation rows the metrics are measured on
    hypervolume_history: list[tuple[int, float]] = field(default_factory=list)
    importance: dict[str, float] | None = None  # module -> gradient energy, when the study prunes
    pruned: list[str] = field(default_factory=list)  # modules importance pruning switched off
    references: list[ReferenceRecord] = field(default_factory=list)  # the spec's references, as trained

    @classmethod
    def from_store(cls, store: StudyStore) -> SearchResult:
        baseline, validation_rows = store.baseline()
        scores, pruned = store.importance() or (None, frozenset())
        return cls(
            store.path,
            store.objectives[0].name,
            store.spec.data.task,
            [o.name for o in store.objectives],
            store.records(),
            store.pareto(),
            baseline,
            validation_rows,
            store.hypervolume_history(),
            scores,
            sorted(pruned),
            store.references(),
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready data (``autopeft show --json``); the Pareto set as trial numbers."""
        data = asdict(self)
        data["study_dir"] = str(self.study_dir)
        data["pareto"] = [record.number for record in self.pareto]
        return data


def study_dir_for(spec: StudySpec) -> Path:
    """Where a spec's study lives: its ``study_dir`` or ``autopeft-runs/NAME``."""
    return Path(spec.study_dir) if spec.study_dir else Path(DEFAULT_RUNS_DIR) / spec.name


def prepare_study(
    spec: StudySpec, cache_dir: Path | None, device: str = "auto"
) -> tuple[TaskData, TrialContext, SearchSpace]:
    """Load and check data, model and space once: every bad input fails here, before training.

    Tokenized splits are cached in ``cache_dir``, so a resumed study does not tokenize again.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    target = resolve_device(device)
    data = load_task_data(spec.data.source(), spec.data.make_task(), seed=spec.seed)
    tokenizer = load_tokenizer(spec.model)
    base = load_base_model(spec.model, data.task, data.label_names, seed=spec.seed)
    space = build_space(spec.space, discover_architecture(base, spec.roles), base.config)
    if spec.prune is not None and not space.placeable_modules():
        raise SpecError(
            "prune",
            "the space has no per-layer placement bits to prune",
            "set per_layer_placement: true on a method with modules (lora, ia3, adapters), or drop prune",
        )
    reference_points(spec, space.arch, base.config)  # a reference that is not one configuration fails here
    _, total = count_parameters(base)
    length = spec.budget.max_length
    context = TrialContext(
        base_model=base.to(target),
        base_model_path=resolve_model_path(spec.model),
        base_parameters=total,
        train=encode_cached(data.task, data.train, tokenizer, length, cache_dir),
        validation=encode_cached(data.task, data.validation, tokenizer, length, cache_dir),
        budget=spec.budget.proxy(),
        task=data.task,
        device=target,
        measure_latency="latency_overhead" in spec.objectives,
    )
    return data, context, space


def reference_points(spec: StudySpec, arch: Architecture, model_config: Any) -> dict[str, Point]:
    """The spec's reference configurations, by name."""
    return {
        name: fixed_point(reference, arch, model_config, f"references.{name}")
        for name, reference in spec.references.items()
    }


def trial_worker(
    spec: dict[str, Any], cache_dir: str, device: str, rungs: list[int] | None, judge: Judge | None
) -> Callable[[TrialRequest], TrialResult]:
    """Set up a remote worker once: load the study's model and tokenized data (from the
    study's cache when the worker shares the driver's disk); trials then run on them."""
    cache: Path | None = Path(cache_dir)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        cache = None  # a node that cannot write the driver's path tokenizes without a cache
    _, context, _ = prepare_study(parse_spec(spec, source="worker"), cache, device)
    return partial(execute, context=context, rungs=rungs, judge=judge)


def scored_validation(context: TrialContext) -> EncodedSplit:
    """The validation rows every trial is scored on."""
    return context.validation.head(context.budget.eval_examples)


def baseline_metrics(context: TrialContext) -> dict[str, float]:
    """The task's metrics for a trivial predictor, or (language modelling) for the untuned model."""
    budget = context.budget
    validation = scored_validation(context)
    trivial = context.task.baseline(context.train.head(budget.train_examples), validation)
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


def parameter_limit(spec: StudySpec, base_parameters: int) -> int | None:
    """The tightest trainable-parameter limit the study's and the space's constraints set, if any."""
    limits = []
    for constraints in (spec.constraints, spec.space.constraints):
        limits.append(constraints.max_trainable_params)
        if constraints.max_trainable_percent is not None:
            limits.append(int(constraints.max_trainable_percent / 100 * base_parameters))
    limits = [limit for limit in limits if limit is not None]
    return min(limits) if limits else None


class StudyRun:
    """One run of a study: asks the sampler, trains, records, until the study is full."""

    def __init__(
        self,
        store: StudyStore,
        prepared: tuple[TaskData, TrialContext, SearchSpace],
        observer: SearchObserver | None = None,
        device: str = "auto",
    ):
        self.store = store
        self.device = device  # where trials train (the workers' device under Ray)
        self.spec = store.spec
        self.data, self.context, self.space = prepared
        self.observer = observer or SearchObserver()
        self.limit = parameter_limit(self.spec, self.context.base_parameters)
        halving = self.spec.budget.successive_halving
        self.schedule = None if halving is None else SuccessiveHalving(halving.eta, halving.min_fraction)
        self.rungs = None if self.schedule is None else self.schedule.rungs(self.spec.budget.steps)
        self.study = store.optuna_study()
        self.space = self._pruned(self.space)
        # A resumed run draws from a new seed: the first run's seed would propose its points again.
        self.study.sampler = self._sampler(seed=self.spec.seed + len(self.study.get_trials(deepcopy=False)))
        self.in_flight: dict[int, optuna.Trial] = {}  # asked, not yet recorded
        self.references = reference_points(self.spec, self.space.arch, self.context.base_model.config)
        self.references_in_flight: dict[int, str] = {}  # request number (below zero) -> reference name
        self.board = (
            None if self.schedule is None else RungBoard.from_study(self.study, self.schedule, store.objectives)
        )

    def _pruned(self, space: SearchSpace) -> SearchSpace:
        """The space with its least important placements switched off, as the spec's ``prune``
        asks. Scores are computed once per study and stored: a resumed study searches the same space."""
        prune = self.spec.prune
        if prune is None:
            return space
        saved = self.store.importance(self.study)
        if saved is None:
            budget, context = self.spec.budget, self.context
            scores = gradient_energy(
                context.base_model,
                space.placeable_modules(),
                context.train.head(budget.train_examples),
                context.task,
                prune.batches,
                budget.batch_size,
                prune.head_warmup_steps,
                self.spec.seed,
                context.device,
            )
            saved = scores, least_important(scores, prune.keep)
            self.store.set_importance(self.study, *saved)
        return build_space(self.spec.space, space.arch, self.context.base_model.config, saved[1])

    def _feasible(self, params: dict[str, Any]) -> bool:
        space = self.space
        return space.is_buildable(params) and (self.limit is None or space.trainable_parameters(params) <= self.limit)

    def _sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        return make_sampler(
            self.spec.sampler,
            seed,
            self.spec.trials,
            self.store.objectives,
            trainable_parameters=self.space.trainable_parameters,
            feasible=self._feasible,
            canonicalize=self.space.canonical_params,
            values_of=None if self.rungs is None else partial(best_known_values, objectives=self.store.objectives),
        )

    def _queue_first_trials(self) -> None:
        """A new study's first trials: an earlier study's Pareto configurations (warm start),
        else the space's centre.

        Values for parameters the new space lacks are ignored and parameters the old one
        lacked are sampled, so a front transfers across tasks and (by layer index) models.
        """
        if self.study.trials:
            return
        if self.spec.warm_start is not None:
            for record in StudyStore.open(self.spec.warm_start).pareto():
                self.study.enqueue_trial(record.params, skip_if_exists=True)
        elif self.spec.start_at_center and self._feasible(center := self.space.center_params()):
            self.study.enqueue_trial(center)

    def run(self, executor: Executor | None = None) -> SearchResult:
        """Run trials until the study has ``spec.trials`` finished ones (on ``executor``:
        by default one at a time, in this process)."""
        self._queue_first_trials()
        self.store.recover_interrupted(self.study)
        done = self.store.finished_count(self.study)
        baseline = baseline_metrics(self.context)
        self.store.set_model_facts(self.study, self.data.label_names, list(self.space.arch.head_modules))
        self.store.set_hypervolume_reference(self.study, hypervolume_reference(baseline, self.context))
        self.store.set_baseline(self.study, baseline, len(scored_validation(self.context)))
        to_start = max(self.spec.trials - done, 0)
        references = self._reference_requests()
        self.observer.on_start(self.store, done, self.spec.trials, baseline, len(references))
        if to_start == 0 and not references:
            return SearchResult.from_store(self.store)
        executor = executor or self._executor(to_start + len(references))
        try:
            while to_start > 0 or references or self._running():
                while (to_start > 0 or references) and self._running() < executor.capacity:
                    if references:
                        request = references.pop(0)
                        self.references_in_flight[request.number] = request.reference
                        self.observer.on_reference_start(request.reference)
                    else:
                        to_start -= 1
                        request = self._ask()
                    if request is not None:
                        executor.submit(request)
                if not self._running():
                    continue  # every trial asked was failed without training
                for result in executor.wait():
                    if result.number in self.references_in_flight:
                        self._record_reference(self.references_in_flight.pop(result.number), result)
                    else:
                        self._record(self.in_flight.pop(result.number), result)
        finally:
            executor.close()
        return SearchResult.from_store(self.store)

    def _running(self) -> int:
        return len(self.in_flight) + len(self.references_in_flight)

    def _reference_requests(self) -> list[TrialRequest]:
        """The spec's references not yet trained in this study (first, so the bar to beat shows early)."""
        trained = {record.name for record in self.store.references(self.study)}
        return [
            TrialRequest(-1 - index, point, self.spec.seed, reference=name)
            for index, (name, point) in enumerate(self.references.items())
            if name not in trained
        ]

    def _executor(self, trials: int) -> Executor:
        """The executor the spec names, with no more workers than ``trials``."""
        options = self.spec.executor
        if options.kind == "local":
            return LocalExecutor(self._run_locally)
        from autopeft.executors.ray import RayExecutor

        cache = str(self.store.path / CACHE_DIR)
        setup = partial(trial_worker, self.spec.model_dump(mode="json"), cache, self.device, self.rungs)
        return RayExecutor(
            setup,
            options.workers,
            address=options.address,
            cpus_per_trial=options.cpus_per_trial,
            gpus_per_trial=options.gpus_per_trial,
            max_workers=trials,
            board=self.board,
        )

    def _ask(self) -> TrialRequest | None:
        """The next trial from the sampler, or None when it is failed without training (over
        the parameter budget: only mobo knows the constraint in advance)."""
        trial = self.study.ask()
        self.observer.on_trial_start(trial.number)
        point = self.space.sample(trial)
        trial.set_user_attr(POINT, point.to_dict())
        self.in_flight[trial.number] = trial
        predicted = self.space.trainable_parameters(trial.params)
        if self.limit is not None and predicted > self.limit:
            reason = f"over the parameter budget: {predicted:,} > {self.limit:,} trainable parameters"
            self._record(self.in_flight.pop(trial.number), TrialResult(trial.number, fail_reason=reason))
            return None
        return TrialRequest(trial.number, point, self.spec.seed + trial.number)

    def _run_locally(self, request: TrialRequest) -> TrialResult:
        """A trial in this process, with step progress and successive-halving rungs."""
        judge = None if self.board is None else self.board.judge
        return execute(request, self.context, on_step=self.observer.on_step, rungs=self.rungs, judge=judge)

    def _record(self, trial: optuna.Trial, result: TrialResult) -> None:
        """Write a finished trial to the study."""
        outcome = result.outcome
        if result.attempts > 1:
            trial.set_user_attr(ATTEMPTS, result.attempts)
        if result.rungs:
            trial.set_user_attr(RUNGS, result.rungs)
        if result.worker is not None:
            trial.set_user_attr(WORKER, result.worker)
        if outcome is None:
            trial.set_user_attr(FAIL_REASON, result.fail_reason)
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            trial.set_user_attr(TRAINABLE, outcome.trainable_params)
            trial.set_user_attr(PERCENT, outcome.percent_of_base)
            trial.set_user_attr(SECONDS, outcome.train_seconds)
            trial.set_user_attr(STEPS, outcome.steps)
            trial.set_user_attr(MEASUREMENTS, outcome.measurements)
            if outcome.stopped_early:
                # Scores from a shorter training are not comparable: the trial stays off the front.
                self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                self.study.tell(trial, [outcome.measurements[o.name] for o in self.store.objectives])
        self.store.save_hypervolume_history(self.study)
        self.observer.on_trial_end(self.store.record(trial.number))

    def _record_reference(self, name: str, result: TrialResult) -> None:
        """Keep a finished reference in the study (apart from the trials: the sampler never sees it)."""
        point, outcome = self.references[name].to_dict(), result.outcome
        if outcome is None:
            record = ReferenceRecord(name, point, {}, fail_reason=result.fail_reason)
        else:
            record = ReferenceRecord(
                name,
                point,
                dict(outcome.measurements),
                outcome.trainable_params,
                outcome.percent_of_base,
                outcome.train_seconds,
            )
        self.store.set_reference(self.study, record)
        self.observer.on_reference_end(record)


def search(
    spec: StudySpec | Mapping[str, Any] | str | Path,
    *,
    trials: int | None = None,
    study_dir: str | Path | None = None,
    sampler: str | None = None,
    warm_start: str | Path | None = None,
    observer: SearchObserver | None = None,
    device: str = "auto",
    executor: str | Mapping[str, Any] | None = None,
) -> SearchResult:
    """Search PEFT configurations as ``spec`` says; returns every trial and the Pareto set.

    ``spec`` is a StudySpec, a mapping of its keys, or the path of a YAML spec. Keyword
    arguments override the spec's values. Running it again on the same folder continues
    the study. ``device`` is auto (a visible GPU, else the CPU), cpu, cuda or cuda:N.
    ``executor`` is "local", "ray" or a mapping of ExecutorSpec keys (address, workers, ...)
    merged into the spec's ``executor``.
    """
    if isinstance(spec, Mapping):
        spec = parse_spec(dict(spec), source="search()")
    elif not isinstance(spec, StudySpec):
        spec = load_spec(spec)
    updates = {k: v for k, v in {"trials": trials, "sampler": sampler}.items() if v is not None}
    if study_dir is not None:
        updates["study_dir"] = str(study_dir)
    if warm_start is not None:
        updates["warm_start"] = str(Path(warm_start).resolve())
    spec = parse_spec(spec.model_dump() | updates, source="search()") if updates else spec
    spec = spec if executor is None else with_executor(spec, executor, source="search()")
    spec = resolve_paths(spec, Path.cwd())  # remote workers and later resumes may start elsewhere
    folder = study_dir_for(spec)
    prepared = prepare_study(spec, folder / CACHE_DIR, _driver_device(spec, device))  # input errors surface here
    return StudyRun(StudyStore.create(folder, spec), prepared, observer, device).run()


def resume(
    study_dir: str | Path,
    *,
    observer: SearchObserver | None = None,
    device: str = "auto",
    executor: str | Mapping[str, Any] | None = None,
) -> SearchResult:
    """Continue a stopped study: finished trials are kept, interrupted ones run again
    (on ``executor`` if given, else on the executor it ran on)."""
    store = StudyStore.open(study_dir)
    if executor is not None:
        store.spec = with_executor(store.spec, executor, source="resume()")
    prepared = prepare_study(store.spec, store.path / CACHE_DIR, _driver_device(store.spec, device))
    return StudyRun(store, prepared, observer, device).run()


def _driver_device(spec: StudySpec, device: str) -> str:
    """Where the driver keeps its copy of the model: with Ray it trains nothing, so the CPU."""
    return "cpu" if spec.executor.kind == "ray" else device


def load_study(study_dir: str | Path) -> SearchResult:
    """Read a study's trials and Pareto set without running anything."""
    return SearchResult.from_store(StudyStore.open(study_dir))
