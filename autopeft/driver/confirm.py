"""The confirmation stage: after the search, train the most promising configurations again.

A search's front is made of its luckiest short runs: the best of many noisy scores is biased
upwards (the winner's curse), and near-ties are ranked by noise. So the stage (1) chooses
its candidates by a GP's posterior mean rather than the raw scores, spread along the front
from the most accurate to the smallest; (2) trains each again, and each tuned reference
(the best member of its rate grid), with new seeds; (3) keeps every run in the store, so a
resumed study trains only the runs still missing. The answer then reports their means.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable

import numpy as np
import torch
from botorch.utils.multi_objective.pareto import is_non_dominated
from optuna.trial import FrozenTrial, TrialState

from autopeft.driver.observer import SearchObserver
from autopeft.driver.prepare import PreparedStudy
from autopeft.executors import Executor, TrialRequest, TrialResult
from autopeft.optim.denoise import posterior_means
from autopeft.space.base import Point
from autopeft.spec import ConfirmSpec
from autopeft.spec.objectives import maximized_vector
from autopeft.store.confirmations import confirmation_run_key, reference_key, trial_key
from autopeft.store.records import tuned_references
from autopeft.store.study import StudyStore

FIRST_NUMBER = -1_000_000  # request numbers of confirmation runs: trials count up from 0, references down from -1


def confirmation_seed(study_seed: int, key: str, index: int) -> int:
    """The ``index``-th confirmation seed of a configuration: apart from the search's seeds
    (the study seed plus the trial number) and the same on every resume."""
    return (study_seed + 7_919 * (index + 1) + zlib.crc32(key.encode())) % 2**32


def denoised_front(trials: list[FrozenTrial], store: StudyStore, canonicalize: Callable | None) -> list[FrozenTrial]:
    """The completed trials on the front once the task metric is replaced by the GP's
    posterior mean (the other objectives, costs, are as measured), best metric first."""
    if not trials:
        return []
    metric = store.objectives[0].name
    distributions = {name: d for t in trials for name, d in t.distributions.items()}
    means = posterior_means([t.params for t in trials], [t.values[0] for t in trials], distributions, canonicalize)
    names = [o.name for o in store.objectives]
    rows = []
    for trial, mean in zip(trials, means, strict=True):
        measured = dict(zip(names, trial.values, strict=True)) | {metric: float(mean)}
        rows.append(maximized_vector(store.objectives, measured))
    on_front = is_non_dominated(torch.as_tensor(np.array(rows))).numpy()
    order = np.argsort([-rows[i][0] for i in range(len(trials))], kind="stable")
    return [trials[i] for i in order if on_front[i]]


def spread(front: list[FrozenTrial], count: int) -> list[FrozenTrial]:
    """``count`` trials of a front sorted best metric first, evenly spaced along it, so both
    ends (the most accurate and the smallest) are always among them."""
    if len(front) <= count:
        return front
    picks = np.unique(np.round(np.linspace(0, len(front) - 1, count)).astype(int))
    return [front[i] for i in picks]


class ConfirmationStage:
    """Chooses, runs and records a study's confirmation runs."""

    def __init__(self, store: StudyStore, prepared: PreparedStudy, confirm: ConfirmSpec) -> None:
        self.store = store
        self.prepared = prepared
        self.confirm = confirm

    def choose(self) -> list[str]:
        """The keys to confirm: spread denoised front trials, then each tuned reference; chosen
        once (kept), and added to when more trials come later."""
        completed = [t for t in self.store.trials() if t.state == TrialState.COMPLETE]
        front = denoised_front(completed, self.store, self.prepared.space.canonical_params)
        keys = [trial_key(t.number) for t in spread(front, self.confirm.candidates)]
        trained = [r for r in self.store.references() if not r.failed]
        keys += [reference_key(best.name) for best, _ in tuned_references(trained, self.store.objectives[0])]
        if keys and not set(keys) <= set(self.store.chosen_for_confirmation()):
            self.store.choose_for_confirmation(keys)
        return self.store.chosen_for_confirmation()

    def requests(self) -> list[TrialRequest]:
        """The runs still missing for every chosen configuration."""
        points = {trial_key(r.number): r.point for r in self.store.records() if r.point is not None}
        points |= {reference_key(r.name): r.point for r in self.store.references()}
        requests = []
        for key in self.choose():
            done = self.store.confirmation_runs(key)
            for index in range(self.confirm.seeds):
                seed = confirmation_seed(self.store.spec.seed, key, index)
                if seed not in done and key in points:
                    number = FIRST_NUMBER - len(requests)
                    point = Point.from_dict(points[key])
                    requests.append(TrialRequest(number, point, seed, steps=self.confirm.steps, confirms=key))
        return requests

    def record(self, request: TrialRequest, result: TrialResult) -> None:
        outcome = result.outcome
        steps = outcome.steps if outcome is not None else request.steps or self.store.spec.budget.steps
        measurements = None if outcome is None else outcome.measurements
        self.store.add_confirmation_run(request.confirms, request.seed, steps, measurements, result.fail_reason)

    def run(
        self,
        executor: Executor,
        observer: SearchObserver,
        deadline: float | None = None,
        pending: list[TrialRequest] | None = None,
    ) -> None:
        """Train the missing runs (``pending``, or ``requests()`` now) on ``executor``, in parallel
        where it has room; past the monotonic ``deadline`` no new run starts, and a resume trains
        the rest."""
        pending = self.requests() if pending is None else list(pending)
        if pending:
            observer.on_confirmation_start(len(pending), self.confirm.seeds)
        running: dict[int, TrialRequest] = {}
        while pending or running:
            while pending and len(running) < executor.capacity:
                if deadline is not None and time.monotonic() > deadline:
                    pending = []
                    break
                request = pending.pop(0)
                running[request.number] = request
                observer.on_confirmation_run_start(request.confirms, request.seed)
                executor.submit(request)
            if not running:
                break
            for result in executor.wait():
                request = running.pop(result.number)
                if not result.not_started:
                    self.record(request, result)
                    if result.losses:  # the curve, for a tracker that saw no steps (Ray)
                        observer.on_trial_losses(confirmation_run_key(request.confirms, request.seed), result.losses)
                    confirmation = self.store.confirmation(request.confirms)
                    observer.on_confirmation_end(request.confirms, confirmation, request.seed)
