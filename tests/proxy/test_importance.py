"""Importance scores (gradient energy, Taylor, Fisher, LoRA gradient, random): what each
reads, that they are computed as the spec says, and their two uses: switching the least
important placements off before any trial (kept across resumes), or leaning mobo's
random startup trials towards the important ones (a prior)."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch
import yaml
from typer.testing import CliRunner

import autopeft
from autopeft.cli import app
from autopeft.data.encoding import EncodedSplit
from autopeft.driver.space import build_space
from autopeft.methods import build_model, count_parameters
from autopeft.models import discover_architecture
from autopeft.optim.mobo import MoboSampler
from autopeft.optim.param_encoding import SpaceEncoder
from autopeft.proxy.importance import SCORES, importance_prior, importance_scores, least_important
from autopeft.spec import ImportanceSpec
from autopeft.spec.space import SpaceSpec
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
    torch.manual_seed(123)
    scores = importance_scores(model, modules, toy_split(), task, score, **options)
    assert torch.equal(torch.get_rng_state(), torch.manual_seed(123).get_state()), "the caller's generator is untouched"
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


def test_the_head_is_warmed_up_before_the_scores_read_the_body():
    model = tiny_classifier("bert")
    modules = build_space(SpaceSpec.model_validate(LORA), discover_architecture(model), model.config)
    modules = modules.placeable_modules()
    task = TASKS["classification"]()
    cold, warm = (
        importance_scores(model, modules, toy_split(), task, "taylor", batches=2, batch_size=8, head_warmup_steps=steps)
        for steps in (0, 6)
    )
    assert all(warm[name] != pytest.approx(cold[name], rel=1e-3) for name in modules), (
        "a trained head moves every score"
    )


def _as_linear_layers(model: torch.nn.Module) -> torch.nn.Module:
    """The model with each GPT-2 Conv1D (weight (in, out)) replaced by the equivalent nn.Linear."""
    from transformers.pytorch_utils import Conv1D

    for name, module in list(model.named_modules()):
        if isinstance(module, Conv1D):
            inputs, outputs = module.weight.shape
            linear = torch.nn.Linear(inputs, outputs)
            linear.weight.data.copy_(module.weight.data.T)
            linear.bias.data.copy_(module.bias.data)
            model.set_submodule(name, linear)
    return model


@pytest.mark.parametrize("score", ["taylor", "lora_gradient"])
def test_gpt2_conv1d_modules_score_as_the_same_linear_layers_would(score):
    """Conv1D keeps its weight as (in, out): read as it is, LoRA's probe would take the wrong fan-in."""
    conv = tiny_classifier("gpt2")
    conv.config.pad_token_id = 0
    linear = _as_linear_layers(tiny_classifier("gpt2"))
    linear.config.pad_token_id = 0
    modules = build_space(
        SpaceSpec.model_validate({"modules": ["q", "ffn_up"]}), discover_architecture(conv), conv.config
    )
    modules = modules.placeable_modules()
    assert any(conv.get_submodule(m).weight.shape[0] != conv.get_submodule(m).weight.shape[1] for m in modules)
    task, options = TASKS["classification"](), {"batches": 2, "batch_size": 8, "head_warmup_steps": 2}
    from_conv = importance_scores(conv, modules, toy_split(), task, score, **options)
    from_linear = importance_scores(linear, modules, toy_split(), task, score, **options)
    assert from_conv == pytest.approx(from_linear, rel=1e-4)


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
    quick_spec["importance"] = {"keep": 0.5, "batches": 3, "head_warmup_steps": 2, "score": "taylor"}
    quick_spec["seed"] = 7
    asked = []

    def scored(model, modules, train, task, score, batches, batch_size, head_warmup_steps, seed, device):
        asked.append((len(train), score, batches, batch_size, head_warmup_steps, seed))
        return importance_scores(model, modules, train, task, score, batches, batch_size, head_warmup_steps, seed)

    monkeypatch.setattr("autopeft.driver.prepare.importance_scores", scored)
    result = autopeft.search(quick_spec, trials=2)
    # on the proxy's training rows (all 400 demo rows) in its batch size, as the spec says
    assert asked == [(400, "taylor", 3, 8, 2, 7)], "scored once, as the spec's importance and budget say"
    assert len(result.importance) == 9 and len(result.switched_off) == 4  # 3 layers x 3 modules; 5 kept
    ranked = sorted(result.importance, key=result.importance.get)
    assert set(result.switched_off) == set(ranked[:4]), "the lowest scores are switched off"
    for record in result.trials:
        assert not set(record.point["components"][0]["settings"]["targets"]) & set(result.switched_off)

    def not_again(*args, **kwargs):
        raise AssertionError("a resumed study must reuse its stored scores")

    monkeypatch.setattr("autopeft.driver.prepare.importance_scores", not_again)
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


def test_the_spec_checks_the_score_and_refuses_keep_with_a_prior():
    assert all(ImportanceSpec(score=score).score == score for score in SCORES)
    with pytest.raises(ValueError, match="score"):
        ImportanceSpec(score="snip")
    ImportanceSpec(use="prior", keep=0.5)  # the default, as every stored spec writes it
    with pytest.raises(autopeft.SpecError, match="importance.keep: a prior switches nothing off"):
        ImportanceSpec(use="prior", keep=0.3)


def test_the_prior_rises_with_rank_from_the_least_to_the_most_important_module():
    prior = importance_prior({"a": 3.0, "b": 1.0, "c": 2.0}, {"L0.a": "a", "L1.a": "a", "L0.b": "b", "L0.c": "c"})
    assert prior == {"L0.a": 0.8, "L1.a": 0.8, "L0.b": 0.2, "L0.c": pytest.approx(0.5)}
    space = {"on": optuna.distributions.CategoricalDistribution([False, True])}
    rows = SpaceEncoder(space).random(400, np.random.default_rng(0), {"on": 0.8})
    assert 0.74 < rows.mean() < 0.86, "True drawn with the prior's probability"


@pytest.mark.parametrize("certain", [False, True])
def test_mobo_draws_its_startup_trials_with_the_prior(certain):
    study = optuna.create_study(sampler=MoboSampler(seed=0, n_startup_trials=6, startup_prior={"on": float(certain)}))
    for _ in range(6):
        trial = study.ask()
        assert trial.suggest_categorical("on", [False, True]) is certain, "mobo's first trials follow the prior"
        trial.suggest_float("x", 0.0, 1.0)
        study.tell(trial, 0.0)


def test_a_search_with_a_prior_hands_it_to_its_sampler_and_switches_nothing_off(quick_spec, monkeypatch):
    import autopeft.driver.loop
    from autopeft.optim.samplers import make_sampler

    quick_spec["space"] = LORA
    quick_spec["importance"] = {"use": "prior", "batches": 2, "head_warmup_steps": 2}
    quick_spec["sampler"] = "mobo"
    quick_spec["start_at_center"] = False
    made = []
    monkeypatch.setattr(
        autopeft.driver.loop, "make_sampler", lambda *a, **k: made.append(make_sampler(*a, **k)) or made[-1]
    )
    result = autopeft.search(quick_spec, trials=2)
    assert result.switched_off == [] and len(result.importance) == 9
    prior = made[0].startup_prior
    assert set(prior) <= set(result.trials[0].params), "the prior names the study's own placement bits"
    assert len(prior) == 9 and max(prior.values()) == 0.8 and min(prior.values()) == 0.2
    assert sorted(prior.values()) == pytest.approx([0.2 + 0.6 * i / 8 for i in range(9)]), "one step per rank"


def test_a_prior_needs_mobo(quick_spec):
    quick_spec["importance"] = {"use": "prior"}
    quick_spec["sampler"] = "tpe"
    with pytest.raises(autopeft.SpecError, match="importance.use: 'prior' leans mobo's first trials"):
        autopeft.search(quick_spec, trials=1)
