"""The confirmation stage: the front's candidates and the tuned references train again with new
seeds after the search, and the result reports those runs' means."""

from __future__ import annotations

import statistics
from pathlib import Path

import autopeft
from autopeft.driver import confirm as confirm_module
from autopeft.driver.confirm import confirmation_seed, spread
from autopeft.store.study import StudyStore


def _spec(quick_spec: dict) -> dict:
    return quick_spec | {
        "trials": 4,
        "confirm": {"candidates": 2, "seeds": 2},
        "references": {
            "r2": {
                "method": "lora",
                "modules": ["q", "v"],
                "rank": 2,
                "learning_rate": [1e-3, 3e-3],
                "head_learning_rate": 3e-3,
            }
        },
    }


def test_the_result_reports_the_confirmation_runs_not_the_proxy(quick_spec, monkeypatch):
    seeds_trained = []
    original = confirm_module.ConfirmationStage.record

    def spy(self, request, result):
        seeds_trained.append((request.confirms, request.seed, result.outcome.measurements["accuracy"]))
        original(self, request, result)

    monkeypatch.setattr(confirm_module.ConfirmationStage, "record", spy)
    result = autopeft.search(_spec(quick_spec))
    confirmed = [t for t in result.trials if t.confirmed is not None]
    references = [r for r in result.references if r.confirmed is not None]
    assert 1 <= len(confirmed) <= 2 and len(references) == 1  # the best grid member of r2 only
    assert len(seeds_trained) == 2 * (len(confirmed) + 1)
    for trial in confirmed:
        runs = [acc for key, _, acc in seeds_trained if key == f"trial {trial.number}"]
        assert trial.confirmed.mean("accuracy") == statistics.fmean(runs)
        assert trial.confirmed.seeds == sorted(
            confirmation_seed(quick_spec.get("seed", 0), f"trial {trial.number}", i) for i in range(2)
        )
        assert quick_spec.get("seed", 0) + trial.number not in trial.confirmed.seeds  # never the search's own seed
    shown = result.to_dict()
    assert shown["confirmed_pareto"] and set(shown["confirmed_pareto"]) <= {t.number for t in confirmed}
    from autopeft.finetune.recipe import Recipe

    exported = autopeft.export_trial(quick_spec["study_dir"], confirmed[0].number, Path(quick_spec["study_dir"]) / "x")
    recipe = Recipe.read(exported)
    assert recipe.confirmed["mean"] == confirmed[0].confirmed.mean("accuracy")
    assert recipe.confirmed["seeds"] == confirmed[0].confirmed.seeds and len(recipe.confirmed["runs"]) == 2


def test_a_resume_trains_only_the_missing_runs_and_off_means_off(quick_spec, monkeypatch):
    spec = _spec(quick_spec)
    autopeft.search(spec)
    store = StudyStore.open(spec["study_dir"], read_only=True)
    key = store.chosen_for_confirmation()[0]
    assert len(store.confirmation_runs(key)) == 2
    calls = []
    monkeypatch.setattr(confirm_module.ConfirmationStage, "record", lambda self, request, result: calls.append(request))
    autopeft.resume(spec["study_dir"])
    assert calls == []  # every run was kept: nothing trains again
    off = quick_spec | {"study_dir": quick_spec["study_dir"] + "-off", "trials": 2}
    assert all(t.confirmed is None for t in autopeft.search(off).trials) and calls == []


def test_candidates_are_spread_along_the_front_with_both_ends():
    front = list(range(9))  # best metric first, smallest last
    assert spread(front, 3) == [0, 4, 8]
    assert spread(front, 2) == [0, 8]
    assert spread(front[:2], 4) == [0, 1]


def test_the_front_is_judged_on_posterior_means_not_the_lucky_score():
    from types import SimpleNamespace

    import numpy as np
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    from autopeft.driver.confirm import denoised_front
    from autopeft.spec.objectives import objectives_for

    rng = np.random.default_rng(1)
    xs = np.linspace(0.0, 1.0, 20)
    scores = 0.6 + 0.2 * xs + rng.normal(0, 0.03, len(xs))
    scores[6] = scores.max() + 0.05  # the luckiest run, a third of the way along
    space = {"x": FloatDistribution(0.0, 1.0)}
    trials = [
        create_trial(params={"x": float(x)}, distributions=space, values=[float(s), 1000.0])
        for x, s in zip(xs, scores, strict=True)
    ]
    for number, trial in enumerate(trials):
        trial.number = number
    store = SimpleNamespace(objectives=objectives_for(["accuracy", "trainable_params"]))
    front = denoised_front(trials, store, None)
    assert [t.number for t in front] != [6] and front[0].number >= 15


def test_a_study_made_before_the_stage_is_resumed_without_it(quick_spec):
    """Its spec.yaml has no `confirm:`; resuming it must not start hours of new trainings."""
    import yaml

    autopeft.search(quick_spec | {"trials": 1})
    spec_file = Path(quick_spec["study_dir"]) / "spec.yaml"
    raw = yaml.safe_load(spec_file.read_text())
    raw.pop("confirm")
    spec_file.write_text(yaml.safe_dump(raw))
    assert StudyStore.open(quick_spec["study_dir"]).spec.confirm is None
