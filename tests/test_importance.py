"""Importance pruning: gradient-energy scores switch the least important placements off
before any trial, and the search keeps to the narrowed space across resumes."""

from __future__ import annotations

import optuna
import pytest
import torch
import yaml
from typer.testing import CliRunner

import autopeft
from autopeft.cli import app
from autopeft.data.encoding import EncodedSplit
from autopeft.importance import SCORES, importance_scores, least_important
from autopeft.methods import build_model, count_parameters
from autopeft.models import discover_architecture
from autopeft.search_space import SpaceSpec, build_space
from autopeft.tasks import TASKS
from autopeft.testing.tiny_models import tiny_classifier

LORA = {"method": "lora", "modules": ["q", "v", "ffn_down"], "rank": [2, 4]}


def toy_split(rows: int = 64) -> EncodedSplit:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 100, (rows, 12), generator=generator).tolist()
    labels = torch.tensor([int(sum(row) % 2) for row in ids])
    return EncodedSplit({"input_ids": ids, "attention_mask": [[1] * 12] * rows}, labels, {"input_ids": 0})


@pytest.mark.parametrize("score", SCORES)
def test_every_score_rates_every_module_repeatably_and_leaves_the_model_alone(score):
    model = tiny_classifier("bert")
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    space = build_space(SpaceSpec.model_validate(LORA), discover_architecture(model), model.config)
    modules = space.placeable_modules()
    assert len(modules) == 3 * discover_architecture(model).num_layers
    task = TASKS["classification"]()
    options = {"batches": 3, "batch_size": 8, "head_warmup_steps": 4}
    scores = importance_scores(model, modules, toy_split(), task, score, **options)
    assert set(scores) == set(modules) and all(value > 0 for value in scores.values())
    assert importance_scores(model, modules, toy_split(), task, score, **options) == scores
    assert all(torch.equal(p, before[name]) for name, p in model.named_parameters())
    assert {name: p.requires_grad for name, p in model.named_parameters()} == flags


def test_the_scores_read_the_gradients_differently():
    model = tiny_classifier("bert")
    modules = build_space(SpaceSpec.model_validate(LORA), discover_architecture(model), model.config)
    modules = modules.placeable_modules()
    task = TASKS["classification"]()
    options = {"batches": 4, "batch_size": 8, "head_warmup_steps": 4}
    scores = {score: importance_scores(model, modules, toy_split(), task, score, **options) for score in SCORES}
    energy = scores["gradient_energy"]
    # single examples' gradients square larger than their batch mean (the noise adds)
    assert all(scores["fisher"][name] > energy[name] for name in modules)
    # |W G| is not G^2: the ratio of the two changes from module to module
    taylor = [scores["taylor"][name] / energy[name] for name in modules]
    assert max(taylor) > 1.5 * min(taylor)
    # PEFT's A has variance 1/(3 fan_in), so the gradient reaching B has a third of G's energy per element
    ratios = [scores["lora_gradient"][name] / energy[name] for name in modules]
    assert all(0.1 < ratio < 0.6 for ratio in ratios), ratios
    assert scores["random"] != importance_scores(model, modules, toy_split(), task, "random", seed=1)


def test_least_important_keeps_the_top_fraction_and_at_least_one():
    scores = {"a": 3.0, "b": 1.0, "c": 2.0, "d": 0.5}
    assert least_important(scores, 0.5) == {"b", "d"}
    assert least_important(scores, 0.6) == {"d"}  # 0.6 of 4 rounds up to 3 kept
    assert least_important(scores, 0.01) == {"b", "c", "d"}
    assert least_important(scores, 1.0) == frozenset()


def test_pruned_modules_are_never_placed_and_sizes_stay_exact():
    model = tiny_classifier("bert")
    arch = discover_architecture(model)
    spec = SpaceSpec.model_validate(LORA)
    full = build_space(spec, arch, model.config)
    pruned = frozenset(full.placeable_modules()[::2])
    space = build_space(spec, arch, model.config, pruned)
    assert len(space.dims) == len(full.dims) - len(pruned)
    assert sorted(set(full.placeable_modules()) - pruned) == space.placeable_modules()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(15):
        trial = study.ask()
        point = space.sample(trial)
        if not space.is_buildable(trial.params):
            continue
        assert not set(point.components[0].settings["targets"]) & pruned
        assert count_parameters(build_model(model, point))[0] == space.trainable_parameters(trial.params)


def test_search_narrows_once_and_a_resume_keeps_the_same_space(quick_spec, monkeypatch, tmp_path):
    quick_spec["space"] = LORA
    quick_spec["importance"] = {"keep": 0.5, "batches": 2, "head_warmup_steps": 2, "score": "taylor"}
    asked = []

    def scored(*args, **kwargs):
        asked.append(args[4])
        return importance_scores(*args, **kwargs)

    monkeypatch.setattr("autopeft.prepare.importance_scores", scored)
    result = autopeft.search(quick_spec, trials=2)
    assert asked == ["taylor"], "the spec's score ranks the modules"
    assert len(result.importance) == 9 and len(result.switched_off) == 4  # 3 layers x 3 modules; 5 kept
    ranked = sorted(result.importance, key=result.importance.get)
    assert set(result.switched_off) == set(ranked[:4]), "the lowest scores are switched off"
    for record in result.trials:
        assert not set(record.point["components"][0]["settings"]["targets"]) & set(result.switched_off)

    def not_again(*args, **kwargs):
        raise AssertionError("a resumed study must reuse its stored scores")

    monkeypatch.setattr("autopeft.prepare.importance_scores", not_again)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(quick_spec))
    shown = CliRunner().invoke(app, ["search", str(spec_file), "--trials", "3"])
    assert shown.exit_code == 0, shown.output
    assert "importance: 5 of 9 placeable modules kept (by taylor), 4 switched off" in shown.output
    resumed = autopeft.load_study(quick_spec["study_dir"])
    assert resumed.switched_off == result.switched_off and len(resumed.trials) == 3
    assert resumed.pruned == resumed.switched_off, "the former name still reads"


def test_importance_without_per_layer_placement_is_refused_before_a_study_exists(quick_spec, tmp_path):
    quick_spec["space"] = LORA | {"per_layer_placement": False}
    quick_spec["prune"] = {"keep": 0.5}  # the former key is still accepted
    with pytest.raises(autopeft.SpecError, match="importance: the space has no per-layer placement bits"):
        autopeft.search(quick_spec, trials=1)
    assert not (tmp_path / "study").exists()


def test_the_spec_offers_every_score_and_no_other():
    from typing import get_args

    from autopeft.spec import ImportanceSpec

    assert get_args(ImportanceSpec.model_fields["score"].annotation) == SCORES


def test_the_prior_leans_the_first_trials_towards_important_modules_and_switches_nothing_off(quick_spec):
    from autopeft.importance import importance_prior
    from autopeft.optim.param_encoding import SpaceEncoder

    scores = {"a": 3.0, "b": 1.0, "c": 2.0}
    prior = importance_prior(scores, {"L0.a": "a", "L1.a": "a", "L0.b": "b", "L0.c": "c"})
    assert prior == {"L0.a": 0.8, "L1.a": 0.8, "L0.b": 0.2, "L0.c": pytest.approx(0.5)}
    space = {"on": optuna.distributions.CategoricalDistribution([False, True])}
    rows = SpaceEncoder(space).random(400, __import__("numpy").random.default_rng(0), {"on": 0.8})
    assert 0.74 < rows.mean() < 0.86, "True drawn with the prior's probability"
    from autopeft.optim.sampler import MoboSampler

    for certain in (False, True):
        sampler = MoboSampler(seed=0, n_startup_trials=6, startup_prior={"on": float(certain)})
        study = optuna.create_study(sampler=sampler)
        for _ in range(6):
            trial = study.ask()
            assert trial.suggest_categorical("on", [False, True]) is certain, "mobo's first trials follow the prior"
            trial.suggest_float("x", 0.0, 1.0)
            study.tell(trial, 0.0)

    quick_spec["space"] = LORA
    quick_spec["importance"] = {"use": "prior", "batches": 2, "head_warmup_steps": 2}
    quick_spec["sampler"] = "mobo"
    quick_spec["start_at_center"] = False
    asked = {}

    def recording(*args, **kwargs):
        from autopeft.optim.samplers import make_sampler

        asked.update(kwargs)
        return make_sampler(*args, **kwargs)

    import autopeft.loop

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(autopeft.loop, "make_sampler", recording)
    try:
        result = autopeft.search(quick_spec, trials=2)
    finally:
        monkeypatch.undo()
    assert result.switched_off == [] and len(result.importance) == 9
    prior = asked["startup_prior"]
    assert len(prior) == 9 and max(prior.values()) == 0.8 and min(prior.values()) == 0.2
    assert sorted(prior.values()) == pytest.approx([0.2 + 0.6 * i / 8 for i in range(9)]), "one step per rank"


def test_a_prior_needs_mobo(quick_spec):
    quick_spec["importance"] = {"use": "prior"}
    quick_spec["sampler"] = "tpe"
    with pytest.raises(autopeft.SpecError, match="importance.use: 'prior' leans mobo's first trials"):
        autopeft.search(quick_spec, trials=1)
