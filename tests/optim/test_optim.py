"""The MOBO sampler: encoding, constraints, duplicates, pending trials, and that it learns."""

from __future__ import annotations

import math
import warnings

import numpy as np
import optuna
import pytest
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from autopeft.optim.hypervolume import hypervolume, reference_point
from autopeft.optim.mobo import MoboSampler
from autopeft.optim.param_encoding import SpaceEncoder
from autopeft.testing.synthetic import SyntheticPeftProblem

SPACE = {
    "lr": FloatDistribution(1e-5, 1e-2, log=True),
    "dropout": FloatDistribution(0.0, 0.3),
    "rank": CategoricalDistribution([2, 4, 8, 16]),
    "L0.q": CategoricalDistribution([False, True]),
    "width": IntDistribution(0, 10),
    "method": CategoricalDistribution(["lora", "ia3", "adapter"]),
}


def test_encoding_round_trips_and_snaps_to_legal_values():
    encoder = SpaceEncoder(SPACE)
    assert encoder.dim == 5 + 3  # one-hot for the unordered method
    params = {"lr": 3e-4, "dropout": 0.1, "rank": 8, "L0.q": True, "width": 7, "method": "ia3"}
    row = encoder.encode(params)
    assert ((0 <= row) & (row <= 1)).all()
    decoded = encoder.decode(row)
    assert decoded["lr"] == pytest.approx(3e-4) and decoded["dropout"] == pytest.approx(0.1)
    assert {k: decoded[k] for k in ("rank", "L0.q", "width", "method")} == {
        "rank": 8,
        "L0.q": True,
        "width": 7,
        "method": "ia3",
    }
    rng = np.random.default_rng(0)
    for row in np.vstack([encoder.random(50, rng), encoder.neighbors(encoder.random(5, rng), 10, rng)]):
        params = encoder.decode(row)
        assert all(SPACE[name]._contains(SPACE[name].to_internal_repr(value)) for name, value in params.items())


def test_reference_point_sits_below_the_observed_front():
    Y = np.array([[0.55, -3.0], [0.60, -4.0], [0.52, -2.0]])
    ref = reference_point(Y).numpy()
    assert (ref < Y.min(axis=0)).all(), "every observation improves on it, even on a hard task"
    assert hypervolume(Y, ref) > 0


def run_synthetic(sampler, trials: int, problem: SyntheticPeftProblem, seed: int = 0):
    rng = np.random.default_rng(seed)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    for _ in range(trials):
        trial = study.ask()
        params = problem.suggest(trial)
        study.tell(trial, list(problem.evaluate(params, rng)))
    return study


def log_params(problem):
    return lambda params: math.log10(1 + problem.trainable_parameters(params))


def test_mobo_respects_budget_and_never_repeats_a_point():
    problem = SyntheticPeftProblem(num_layers=4)
    budget = 200_000
    sampler = MoboSampler(
        seed=0,
        n_startup_trials=4,
        known_objectives={1: log_params(problem)},
        canonicalize=problem.canonical_params,
        feasible=lambda params: problem.trainable_parameters(params) <= budget,
        n_random_candidates=128,
    )
    study = run_synthetic(sampler, 14, problem)
    points = [tuple(sorted(problem.canonical_params(t.params).items())) for t in study.trials[4:]]
    assert len(set(points)) == len(points)
    assert all(problem.trainable_parameters(t.params) <= budget for t in study.trials)


def _spy_on_pending(monkeypatch) -> list:
    """Record the pending points each acquisition is built with."""
    from autopeft.optim import mobo as sampling

    seen: list = []
    real = sampling.make_acquisition

    def spy(model, X, Y, X_pending, **kwargs):
        seen.append(None if X_pending is None else X_pending.clone())
        return real(model, X, Y, X_pending, **kwargs)

    monkeypatch.setattr(sampling, "make_acquisition", spy)
    return seen


def test_pending_points_lower_the_acquisition_where_they_sit():
    from autopeft.optim.acquisition import make_acquisition
    from autopeft.optim.surrogate import WarmStartedGP

    generator = torch.Generator().manual_seed(0)
    X = torch.rand(12, 2, generator=generator, dtype=torch.double)
    Y = torch.stack([X[:, 0] - X[:, 1] ** 2, X[:, 1] - X[:, 0] ** 2], dim=-1)
    from autopeft.optim.surrogate import joint_model

    model = joint_model([WarmStartedGP().fit(X, Y[:, 0]), WarmStartedGP().fit(X, Y[:, 1])])
    x = torch.tensor([[0.7, 0.7]], dtype=torch.double)
    alone = make_acquisition(model, X, Y, None, seed=0)(x.unsqueeze(0)).item()
    beside = make_acquisition(model, X, Y, x, seed=0)(x.unsqueeze(0)).item()
    assert beside < alone - 1.0, "a point already running adds (almost) nothing more"


def test_mobo_accounts_for_pending_trials(monkeypatch):
    problem = SyntheticPeftProblem(num_layers=4)
    sampler = MoboSampler(
        seed=1, n_startup_trials=4, known_objectives={1: log_params(problem)}, n_random_candidates=128
    )
    study = run_synthetic(sampler, 6, problem)
    seen = _spy_on_pending(monkeypatch)
    first, second = study.ask(), study.ask()  # two workers asking before either reports
    a, b = problem.suggest(first), problem.suggest(second)
    assert a != b
    assert seen[0] is None, "nothing runs when the first asks"
    encoder = SpaceEncoder(study.trials[0].distributions)
    torch.testing.assert_close(seen[1], encoder.encode_many([a]))


def test_a_batch_of_asks_fits_once_and_spreads_out(monkeypatch):
    problem = SyntheticPeftProblem(num_layers=4)
    sampler = MoboSampler(
        seed=2, n_startup_trials=4, known_objectives={1: log_params(problem)}, n_random_candidates=128
    )
    study = run_synthetic(sampler, 6, problem)
    seen = _spy_on_pending(monkeypatch)
    batch = [study.ask() for _ in range(3)]  # three workers free at once: no result in between
    points = [problem.suggest(batch[0])]
    fitted = sampler._fitted
    points += [problem.suggest(trial) for trial in batch[1:]]
    assert sampler._fitted is fitted, "one fit serves the whole batch"
    assert len({tuple(sorted(p.items())) for p in points}) == 3
    assert [0 if x is None else len(x) for x in seen] == [0, 1, 2], "each ask sees the earlier ones as pending"


def test_mobo_beats_random_on_the_synthetic_problem():
    problem = SyntheticPeftProblem(num_layers=6, seed=3)
    ref = np.array([0.5, -math.log10(1 + problem.num_layers * problem._module_terms(0, 0, 0)[0])])

    def score(study):
        values = [problem.true_values(t.params) for t in study.trials]
        return hypervolume(np.array([[a, -math.log10(1 + c)] for a, c in values]), ref)

    trials = 24
    mobo = score(
        run_synthetic(
            MoboSampler(
                seed=0,
                n_startup_trials=8,
                known_objectives={1: log_params(problem)},
                canonicalize=problem.canonical_params,
                n_random_candidates=256,
            ),
            trials,
            problem,
        )
    )
    randoms = [score(run_synthetic(optuna.samplers.RandomSampler(seed=s), trials, problem, s)) for s in range(3)]
    assert mobo > np.median(randoms)


def test_a_seeded_mobo_study_is_repeatable():
    problem = SyntheticPeftProblem(num_layers=4)

    def proposals():
        sampler = MoboSampler(
            seed=7,
            n_startup_trials=3,
            known_objectives={1: log_params(problem)},
            canonicalize=problem.canonical_params,
            n_random_candidates=64,
        )
        return [t.params for t in run_synthetic(sampler, 7, problem).trials]

    assert proposals() == proposals()


def test_mobo_runs_its_gp_on_its_own_threads_and_gives_them_back(monkeypatch):
    from autopeft.optim import mobo as sampling

    problem = SyntheticPeftProblem(num_layers=4)
    sampler = MoboSampler(seed=3, n_startup_trials=4, known_objectives={1: log_params(problem)}, threads=1)
    study = run_synthetic(sampler, 5, problem)
    seen: list[int] = []
    real = sampling.make_acquisition

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(sampling, "make_acquisition", spy)
    torch.set_num_threads(2)
    problem.suggest(study.ask())
    assert seen == [1], "the suggestion ran on one thread"
    assert torch.get_num_threads() == 2, "and the caller's setting is restored"


def test_a_failed_gp_fit_is_logged(caplog, monkeypatch):
    from autopeft.optim import surrogate

    def broken(*args, **kwargs):
        raise RuntimeError("not positive definite")

    monkeypatch.setattr(surrogate, "fit_gpytorch_mll", broken)
    X = torch.rand(6, 2, dtype=torch.double)
    with caplog.at_level("WARNING", logger="autopeft"):
        surrogate.WarmStartedGP().fit(X, X.sum(-1))
    assert "GP fit on 6 observations failed (RuntimeError: not positive definite)" in caplog.text


def test_jitter_warnings_stay_inside_the_sampler_and_the_denoiser(monkeypatch):
    """A Cholesky rescued by a tiny jitter is routine near duplicate points: it must not reach the
    user's output; other warnings still do."""
    from linear_operator.utils.warnings import NumericalWarning

    from autopeft.optim import denoise
    from autopeft.optim import mobo as sampling

    def jittery(*args, **kwargs):
        warnings.warn("A not p.d., added jitter of 1.0e-08 to the diagonal", NumericalWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
        return real_make(*args, **kwargs)

    real_make = sampling.make_acquisition
    monkeypatch.setattr(sampling, "make_acquisition", jittery)
    problem = SyntheticPeftProblem(num_layers=4)
    sampler = MoboSampler(seed=3, n_startup_trials=4, known_objectives={1: log_params(problem)})
    study = run_synthetic(sampler, 4, problem)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        problem.suggest(study.ask())
    assert [str(w.message) for w in caught] == ["something else"]

    real_fit = denoise.WarmStartedGP.fit

    def jittery_fit(self, *args, **kwargs):  # the fit and the posterior's Cholesky both may jitter
        warnings.warn("A not p.d., added jitter of 1.0e-07 to the diagonal", NumericalWarning, stacklevel=1)
        model = real_fit(self, *args, **kwargs)
        real_posterior = model.posterior

        def posterior(*args, **kwargs):
            warnings.warn("A not p.d., added jitter of 1.0e-06 to the diagonal", NumericalWarning, stacklevel=1)
            return real_posterior(*args, **kwargs)

        model.posterior = posterior
        return model

    monkeypatch.setattr(denoise.WarmStartedGP, "fit", jittery_fit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        denoise.posterior_means(
            [{"x": v / 10} for v in range(8)], [0.5 + v / 50 for v in range(8)], {"x": FloatDistribution(0, 1)}
        )
    assert not [w for w in caught if "jitter" in str(w.message)]
