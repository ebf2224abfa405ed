"""The search loop, and only the loop: ask the sampler, submit to an executor, record, report.

Preparation (``prepare``), storage (``study``) and where trials run (``executors``) live
elsewhere; the loop wires them together through optuna's ask/tell interface, so that it
(not optuna) decides how trials run and how failures are recorded.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

import numpy as np
import optuna

from autopeft.driver.confirm import ConfirmationStage
from autopeft.driver.observer import SearchObserver
from autopeft.driver.prepare import PreparedStudy
from autopeft.driver.reference_grid import ReferenceGrids
from autopeft.executors import Executor, LocalExecutor, TrialRequest, TrialResult, execute
from autopeft.optim.fidelity import RungBoard, SuccessiveHalving
from autopeft.optim.samplers import make_sampler
from autopeft.store.confirmations import reference_key, trial_key
from autopeft.store.records import training_seed_number
from autopeft.store.study import CACHE_DIR, StudyStore
from autopeft.store.trials import RERUN_OF, best_known_values

logger = logging.getLogger(__name__)


class SearchLoop:
    """One run of a study: asks the sampler, trains, records, until the study is full."""

    def __init__(
        self,
        store: StudyStore,
        prepared: PreparedStudy,
        observer: SearchObserver | None = None,
        device: str = "auto",
        hours: float | None = None,
        started: float | None = None,
    ) -> None:
        self.store = store
        self.prepared = prepared
        self.spec = store.spec  # the study's spec: trials and executor may differ from the first run's
        self.space = prepared.space
        self.device = device  # where trials train (the workers' device under Ray)
        self.observer = observer or SearchObserver()
        self.hours = hours if hours is not None else self.spec.budget.hours  # this run's wall-clock budget
        self.started = started  # time.monotonic() when the run's clock started (the command's start); else at run()
        halving = self.spec.budget.successive_halving
        self.schedule = None if halving is None else SuccessiveHalving(halving.eta, halving.min_fraction)
        self.rungs = None if self.schedule is None else self.schedule.rungs(self.spec.budget.steps)
        self.board = None if self.schedule is None else RungBoard(self.schedule, store.objectives, store.rung_scores())
        # A resumed run draws from a new seed: the first run's seed would propose its points again.
        store.use_sampler(self._sampler(seed=self.spec.seed + len(store.trials())))
        self.in_flight: dict[int, optuna.Trial] = {}  # asked, not yet recorded
        self.references_in_flight: dict[int, str] = {}  # request number (below zero) -> reference name
        self.start_by: float | None = None  # time.time() of this run's deadline, set when it starts
        self.grids = ReferenceGrids(store, prepared, first_number=-1 - len(prepared.references))

    def _feasible(self, params: dict[str, Any]) -> bool:
        limit = self.prepared.parameter_limit
        return self.space.is_buildable(params) and (limit is None or self.space.trainable_parameters(params) <= limit)

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
            startup_prior=self.prepared.startup_prior,
        )

    def _queue_first_trials(self) -> None:
        """A new study's first trials: an earlier study's Pareto configurations (warm start),
        else the space's centre.

        Values for parameters the new space lacks, or that lie outside its choices and ranges,
        are ignored and the rest sampled, so a front transfers across tasks and (by layer
        index) models.
        """
        if self.store.trials():
            return
        if self.spec.warm_start is not None:
            for record in StudyStore.open(self.spec.warm_start, read_only=True).pareto()[: self.spec.trials]:
                kept = self.space.params_within(record.params)
                outside = sorted(name for name in set(record.params) - set(kept) if name in self.space.dims)
                if outside:
                    logger.warning(
                        "warm_start: trial %d's %s lie outside this space; drawn anew",
                        record.number,
                        ", ".join(outside),
                    )
                self.store.enqueue(kept)
        elif self.spec.start_at_center and self._feasible(center := self.space.center_params()):
            self.store.enqueue(center)
        elif self.spec.sampler == "mobo" and self.prepared.parameter_limit is not None:
            # mobo's first draw knows no space yet; a feasible random point keeps it within budget
            self.store.enqueue(self.space.random_params(np.random.default_rng(self.spec.seed), self._feasible))

    def _write_study_facts(self) -> None:
        prepared = self.prepared
        self.store.set_model_facts(prepared.data.label_names, list(prepared.arch.head_modules))
        self.store.set_hypervolume_reference(prepared.hypervolume_reference)
        self.store.set_baseline(prepared.baseline, prepared.validation_rows, prepared.validation_classes)

    def run(self, executor: Executor | None = None) -> None:
        """Run trials until the study has ``spec.trials`` finished ones (on ``executor``:
        by default the one the spec names, with no more workers than there are trials to run)."""
        hours = self.hours
        started = time.monotonic() if self.started is None else self.started
        deadline = None if hours is None else started + hours * 3600
        # A trial or reference queued on a remote worker past the deadline is handed back unrun.
        self.start_by = None if deadline is None else time.time() + deadline - time.monotonic()
        self._queue_first_trials()
        recovered = self.store.recover_interrupted()
        done = self.store.finished_count()
        self._write_study_facts()
        to_start = max(self.spec.trials - done, 0)
        references = self._reference_requests() + self.grids.extensions()  # a resume's pending extensions
        self.observer.on_start(
            self.store, done - len(recovered), self.spec.trials, self.prepared.baseline, len(references)
        )
        for record in recovered:  # finished before the kill, reported now (trackers log them)
            self.observer.on_trial_end(record)
        confirmation = (
            None if self.spec.confirm is None else ConfirmationStage(self.store, self.prepared, self.spec.confirm)
        )
        # With nothing left to search, the confirmation runs are known now (asked once, not again below).
        ready = confirmation.requests() if confirmation is not None and to_start == 0 and not references else None
        if to_start == 0 and not references and not ready:
            return
        executor = executor or self._executor(max(to_start + len(references), 1))
        executor.on_step = self.observer.on_run_step  # steps of runs on remote workers
        try:
            timed_out = False
            while to_start > 0 or references or self._running():
                if deadline is not None and time.monotonic() > deadline and (to_start or references):
                    self.observer.on_time_up(hours, to_start + len(references))
                    to_start, references = 0, []  # the trials in flight finish; --resume runs the rest
                    timed_out = True
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
                        reference = self.references_in_flight.pop(result.number)
                        if not result.not_started:  # else it is still untrained: a resume trains it
                            self._record_reference(reference, result)
                            references += [] if timed_out else self.grids.extensions()  # peaked at an edge
                    elif result.not_started:
                        trial = self.in_flight.pop(result.number)
                        self.store.interrupt(trial.number, trial.params)  # a resume runs it first
                    else:
                        self._record(self.in_flight.pop(result.number), result)
            if confirmation is not None and not timed_out:  # the answer's means, once the search is done
                confirmation.run(executor, self.observer, deadline, ready)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM turned into one: ended now as a resume would
            self.store.recover_interrupted()  # written in full: told; else interrupted, and runs first
            self.in_flight.clear()
            self.observer.on_interrupted()
            raise
        finally:
            executor.close()

    def _running(self) -> int:
        return len(self.in_flight) + len(self.references_in_flight)

    def _reference_requests(self) -> list[TrialRequest]:
        """The spec's references not yet trained in this study (first, so the bar to beat shows early)."""
        trained = {record.name for record in self.store.references()}
        return [
            TrialRequest(-1 - index, point, self.spec.seed, reference=name, start_by=self.start_by)
            for index, (name, point) in enumerate(self.prepared.references.items())
            if name not in trained
        ]

    def _executor(self, trials: int) -> Executor:
        """The executor the spec names, with no more workers than ``trials``."""
        if self.spec.executor.kind == "local":
            return LocalExecutor(self._run_locally)
        from autopeft.driver.worker import ray_executor

        return ray_executor(
            self.spec, self.store.path / CACHE_DIR, self.device, self.rungs, self.board, max_workers=trials
        )

    def _ask(self) -> TrialRequest | None:
        """The next trial from the sampler, or None when it is failed without training (over
        the parameter budget: only mobo knows the constraint in advance)."""
        trial = self.store.ask()
        self.observer.on_trial_start(trial.number)
        point = self.space.sample(trial)
        self.store.start(trial, point, self.space.unused_params(trial.params))
        self.in_flight[trial.number] = trial
        predicted, limit = self.space.trainable_parameters(trial.params), self.prepared.parameter_limit
        if limit is not None and predicted > limit:
            reason = f"over the parameter budget: {predicted:,} > {limit:,} trainable parameters"
            self._record(self.in_flight.pop(trial.number), TrialResult(trial.number, fail_reason=reason))
            return None
        seed = self.spec.seed + training_seed_number(trial.number, trial.user_attrs.get(RERUN_OF))
        return TrialRequest(trial.number, point, seed, start_by=self.start_by)

    def _run_locally(self, request: TrialRequest) -> TrialResult:
        """A trial in this process, with step progress and successive-halving rungs."""
        judge = None if self.board is None else self.board.judge

        def on_step(step: int, loss: float) -> None:  # the one run in flight: both hooks
            self.observer.on_step(step, loss)
            self.observer.on_run_step(request, step, loss)

        return execute(request, self.prepared.context, on_step=on_step, rungs=self.rungs, judge=judge)

    def _record(self, trial: optuna.Trial, result: TrialResult) -> None:
        if result.losses:
            self.observer.on_trial_losses(trial_key(trial.number), result.losses)
        self.observer.on_trial_end(self.store.finish(trial, result))

    def _record_reference(self, name: str, result: TrialResult) -> None:
        """Keep a finished reference in the study (apart from the trials: the sampler never sees it)."""
        record = self.grids.record(name, result)
        self.store.set_reference(record)
        if result.losses:
            self.observer.on_trial_losses(reference_key(name), result.losses)
        self.observer.on_reference_end(record)
