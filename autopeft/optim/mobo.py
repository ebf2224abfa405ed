"""MoboSampler: multi-objective Bayesian optimization as an optuna sampler.

It plugs into optuna, so studies stay optuna studies (storage, dashboard, baselines).
Per suggestion: encode finished trials -> fit a warm-started GP per learned objective
(known objectives such as trainable parameters are computed exactly) -> qLogNEHVI with a
data-inferred reference point and the running trials as pending points -> discrete local
search over legal, feasible, never-evaluated points.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import optuna
import torch
from botorch.models.model import Model
from optuna.distributions import BaseDistribution
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from autopeft.optim.acquisition import make_acquisition
from autopeft.optim.candidates import propose
from autopeft.optim.param_encoding import Canonicalizer, SpaceEncoder, row_key
from autopeft.optim.surrogate import WarmStartedGP, joint_model, known_model, quiet_jitter

KnownObjective = Callable[[dict[str, Any]], float]


class MoboSampler(optuna.samplers.BaseSampler):
    """GP surrogates + qLogNEHVI over the space's numeric encoding.

    Args:
        seed: makes the initial design and the candidate search repeatable.
        n_startup_trials: random trials before the surrogate takes over.
        known_objectives: objective index -> exact function of a trial's params, in the
            study's direction (for trainable parameters: their log, so that halving a
            small adapter counts as much as halving a large one); those objectives are
            computed, not learned, for observations and candidates alike.
        feasible: params -> whether the point respects the constraints (a parameter
            budget); infeasible points are never proposed.
        canonicalize: params -> the same point with unused values fixed (the search
            space's ``canonical_params``), so equivalent points count as one.
        values_of: trial -> the objective values to learn from (in the study's
            directions), or None; by default a completed trial's values. Under successive
            halving also a stopped trial's highest-rung scores, so it teaches the model too.
        threads: CPU threads for the GP work (None: torch's default, one per core); one
            keeps suggestions fast when trainings share the driver's cores.
        startup_prior: boolean parameter -> the probability that a random draw (the startup
            trials) sets it True; others are drawn uniformly.
        metric_every: every this many suggestions after the startup, the last one maximizes the
            learned metric's noisy expected improvement alone (around the most accurate points
            so far) instead of the hypervolume's; None: never. Hypervolume over a log-parameter
            axis rewards each halving of a small configuration, so qLogNEHVI alone walks the
            cheap end and its most accurate configuration stays the best random one (16 of 18
            benchmark runs, issue 38); a user usually wants the accurate end.
    """

    def __init__(
        self,
        seed: int | None = None,
        n_startup_trials: int = 10,
        known_objectives: dict[int, KnownObjective] | None = None,
        feasible: Callable[[dict[str, Any]], bool] | None = None,
        canonicalize: Canonicalizer | None = None,
        values_of: Callable[[FrozenTrial], Sequence[float] | None] | None = None,
        n_random_candidates: int = 512,
        threads: int | None = 1,
        startup_prior: dict[str, float] | None = None,
        metric_every: int | None = 3,
    ) -> None:
        self.canonicalize = canonicalize
        self.values_of = values_of or _completed_values
        self._rng = np.random.default_rng(seed)
        self._seed = seed
        self._random = optuna.samplers.RandomSampler(seed=seed)
        self.n_startup_trials = n_startup_trials
        self.known_objectives = known_objectives or {}
        self.feasible = feasible
        self.n_random_candidates = n_random_candidates
        self.threads = threads
        self.startup_prior = startup_prior
        self.metric_every = metric_every
        self._gps: dict[int, WarmStartedGP] = {}
        # The last fitted model, the observations it was fitted to and the best candidates
        # its search scored: a batch of asks with no new result in between (workers freed
        # together) fits once and searches from those candidates; only the pending points change.
        self._fitted: tuple[Any, Any] | None = None
        self._carried: np.ndarray | None = None

    def reseed_rng(self) -> None:
        self._random.reseed_rng()
        self._rng = np.random.default_rng()

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        # The parameters every earlier trial drew, whatever its outcome: optuna's
        # IntersectionSearchSpace counts completed trials only, so a run of rejected
        # (over-budget) trials would leave the sampler blind to the constraints.
        space: dict[str, BaseDistribution] | None = None
        for other in study.get_trials(deepcopy=False):
            if other.number == trial.number or not other.distributions:
                continue
            if space is None:
                space = dict(other.distributions)
            else:
                space = {n: d for n, d in space.items() if other.distributions.get(n) == d}
        return {n: d for n, d in (space or {}).items() if SpaceEncoder.supports(d) and not d.single()}

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        # Only the first trial (whose space is not known yet) and new parameters come here.
        choices = getattr(param_distribution, "choices", ())
        if self.startup_prior and param_name in self.startup_prior and set(choices) == {False, True}:
            return bool(self._rng.random() < self.startup_prior[param_name])
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def sample_relative(self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]) -> dict:
        if not search_space:
            return {}
        # GP fitting may draw from torch's global generator (restarts): seed a private copy
        # so a seeded study is repeatable and the caller's generator is left alone.
        with torch.random.fork_rng(), limited_threads(self.threads), quiet_jitter():
            torch.manual_seed(int(self._rng.integers(2**31)))
            return self._suggest(study, trial, search_space)

    def _suggest(self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]) -> dict:
        encoder = SpaceEncoder(search_space, self.canonicalize)
        usable = [
            t
            for t in study.get_trials(deepcopy=False)
            if t.number != trial.number and all(name in t.params for name in search_space)
        ]
        learned = [(t, v) for t in usable if (v := self.values_of(t)) is not None]
        taught = [t for t, _ in learned]
        # Every point tried, running or queued (whatever its outcome) is never proposed again.
        observed = encoder.encode_many([t.params for t in usable]).numpy()
        if len(taught) < self.n_startup_trials:
            return self._random_point(encoder, observed, self.startup_prior)

        X = encoder.encode_many([t.params for t in taught])
        Y = self._maximized_values(study.directions, [v for _, v in learned])
        for index, function in self.known_objectives.items():
            Y[:, index] = self._sign(study.directions[index]) * torch.tensor(
                [float(function(t.params)) for t in taught], dtype=torch.double
            )
        observations = (tuple(search_space), tuple((t.number, tuple(v)) for t, v in learned))
        if self._fitted is None or self._fitted[0] != observations:
            self._fitted = (observations, self._model(encoder, X, Y, study.directions))
            self._carried = None
        model = self._fitted[1]
        pending = [t for t in usable if t.state == TrialState.RUNNING]
        X_pending = encoder.encode_many([t.params for t in pending]) if pending else None
        seed = int(self._rng.integers(2**31))
        metric = next((i for i in range(Y.shape[-1]) if i not in self.known_objectives), None)
        turn = trial.number - self.n_startup_trials
        if self.metric_every and metric is not None and turn % self.metric_every == self.metric_every - 1:
            # The accurate end: noisy expected improvement of the metric alone, searched around
            # the most accurate configurations so far.
            metric_model = model.models[metric] if hasattr(model, "models") else model
            acquisition = make_acquisition(metric_model, X, Y[:, [metric]], X_pending, seed=seed)
            seeds, front_turn = X.numpy()[np.argsort(-Y[:, metric].numpy())[:8]], False
        else:
            acquisition = make_acquisition(model, X, Y, X_pending, seed=seed)
            seeds, front_turn = X.numpy()[_non_dominated(Y.numpy())], True
        row, carried = propose(
            acquisition,
            encoder,
            seeds,
            observed,
            self._rng,
            feasible=self._row_filter(encoder),
            n_random=self.n_random_candidates,
            start=self._carried if front_turn else None,
        )
        if front_turn:  # a batch's next front turn searches on from them (same model)
            self._carried = carried
        if row is None:  # the acquisition found no new feasible candidate: explore at random (no prior)
            return self._random_point(encoder, observed)
        return encoder.decode(row)

    # -- pieces -------------------------------------------------------------------------
    @staticmethod
    def _sign(direction: StudyDirection) -> float:
        return 1.0 if direction == StudyDirection.MAXIMIZE else -1.0

    def _maximized_values(self, directions: Sequence[StudyDirection], values: list[Sequence[float]]) -> torch.Tensor:
        signs = torch.tensor([self._sign(d) for d in directions], dtype=torch.double)
        return torch.tensor(values, dtype=torch.double).reshape(-1, len(directions)) * signs

    def _model(
        self, encoder: SpaceEncoder, X: torch.Tensor, Y: torch.Tensor, directions: Sequence[StudyDirection]
    ) -> Model:
        models = []
        for index in range(Y.shape[-1]):
            known = self.known_objectives.get(index)
            if known is not None:
                models.append(known_model(_rowwise(encoder, known, self._sign(directions[index]))))
            else:
                gp = self._gps.setdefault(index, WarmStartedGP())
                models.append(gp.fit(X, Y[:, index], apart=encoder.continuous_columns))
        return joint_model(models)

    def _row_filter(self, encoder: SpaceEncoder) -> Callable[[np.ndarray], np.ndarray] | None:
        if self.feasible is None:
            return None
        return lambda rows: np.array([bool(self.feasible(encoder.decode(r))) for r in rows], dtype=bool)

    def _random_point(
        self, encoder: SpaceEncoder, observed: np.ndarray, prior: dict[str, float] | None = None, tries: int = 256
    ) -> dict:
        """A random feasible point not tried yet (any feasible one if all draws were tried),
        its boolean parameters drawn True with ``prior``'s probabilities where given."""
        rows = encoder.random(tries, self._rng, prior)
        if self.feasible is not None:
            ok = self._row_filter(encoder)(rows)
            rows = rows[ok] if ok.any() else rows
        seen = {row_key(r) for r in observed}
        fresh = [r for r in rows if row_key(r) not in seen]
        return encoder.decode(fresh[0] if fresh else rows[0])


@contextmanager
def limited_threads(threads: int | None) -> Iterator[None]:
    """Run the GP work on ``threads`` threads (torch's and the BLAS pools'), then restore them.

    The driver usually shares its machine with workers that train: with the default one
    thread per core, the GP's small matrix work oversubscribes the cores and a suggestion
    takes several times longer.
    """
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)


def _completed_values(trial: FrozenTrial) -> Sequence[float] | None:
    return trial.values if trial.state == TrialState.COMPLETE else None


def _rowwise(encoder: SpaceEncoder, function: KnownObjective, sign: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """A tensor function computing ``sign * function(params)`` for each encoded row."""
    cache: dict[bytes, float] = {}

    def apply(rows: torch.Tensor) -> torch.Tensor:
        out = []
        for row in rows.detach().cpu().numpy():
            key = row_key(row)
            if key not in cache:
                cache[key] = sign * float(function(encoder.decode(row)))
            out.append(cache[key])
        return torch.tensor(out, dtype=torch.double)

    return apply


def _non_dominated(Y: np.ndarray) -> np.ndarray:
    from botorch.utils.multi_objective.pareto import is_non_dominated

    return is_non_dominated(torch.as_tensor(Y)).numpy()
