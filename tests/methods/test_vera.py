"""VeRA: stock PEFT's VeraConfig, placed per module, one global rank, counted exactly."""

from __future__ import annotations

import copy

import optuna
import pytest
import torch

from autopeft import parse_spec
from autopeft.driver.space import build_space
from autopeft.methods import build_model, count_parameters, describe_component, is_pure_peft, load_adapter, save_adapter
from autopeft.models import discover_architecture
from autopeft.spec.space import SpaceSpec
from autopeft.testing.tiny_models import FAMILIES, tiny_batch, tiny_classifier


@pytest.fixture(scope="module")
def models():
    return {family: tiny_classifier(family) for family in FAMILIES}


def first_point(space, seed: int = 0):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(20):
        trial = study.ask()
        point = space.sample(trial)
        if space.is_buildable(trial.params):
            return trial.params, point
    raise AssertionError("no buildable point in 20 draws")


def perturbed(model: torch.nn.Module) -> torch.nn.Module:
    """Every trainable tensor moved off its start (lambda_b starts at zero: the adapter is off)."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    return model


@pytest.mark.parametrize("family", FAMILIES)
def test_vera_counts_two_vectors_per_module_and_round_trips_on_every_family(models, family, tmp_path):
    base = models[family]
    arch = discover_architecture(base)
    spec = SpaceSpec(components=[{"method": "vera", "modules": ["q", "v", "ffn_up", "ffn_down"], "rank": [8, 40]}])
    space = build_space(spec, arch, base.config)
    params, point = first_point(space)
    settings = point.components[0].settings
    model = build_model(base, point)
    lambdas = {name: p for name, p in model.named_parameters() if "vera_lambda" in name}
    assert sum(p.numel() for n, p in lambdas.items() if "lambda_d" in n) == settings["rank"] * len(settings["targets"])
    outputs = sum(arch.shapes[name][1] for name in settings["targets"])
    assert sum(p.numel() for n, p in lambdas.items() if "lambda_b" in n) == outputs
    assert count_parameters(model)[0] == arch.head_parameters + sum(p.numel() for p in lambdas.values())
    assert count_parameters(model)[0] == space.trainable_parameters(params)
    assert not any("vera_A" in name or "vera_B" in name for name, _ in model.named_parameters()), "buffers"
    batch = {k: v for k, v in tiny_batch().items() if k != "labels"}
    torch.testing.assert_close(model.eval()(**batch).logits, base(**batch).logits)  # lambda_b starts at zero

    perturbed(model)
    expected = model.eval()(**batch).logits
    save_adapter(model, point, tmp_path)
    assert is_pure_peft(point) and (tmp_path / "adapter_config.json").is_file()
    loaded = load_adapter(copy.deepcopy(base), tmp_path, is_trainable=True).eval()
    assert count_parameters(loaded) == count_parameters(model)
    torch.testing.assert_close(loaded(**batch).logits, expected, atol=1e-5, rtol=0)
    assert not torch.allclose(base(**batch).logits, expected, atol=1e-4), "the adapter changes the outputs"


def test_vera_in_a_hybrid_saves_in_the_autopeft_format_and_rebuilds_its_projections(models, tmp_path):
    base = models["llama"]
    components = [{"method": "vera", "rank": [16], "per_layer_placement": False}, {"method": "parallel_adapter"}]
    space = build_space(SpaceSpec(components=components), discover_architecture(base), base.config)
    params, point = first_point(space)
    assert point.method == "vera+parallel_adapter"
    model = perturbed(build_model(base, point))
    assert count_parameters(model)[0] == space.trainable_parameters(params)
    batch = {k: v for k, v in tiny_batch().items() if k != "labels"}
    expected = model.eval()(**batch).logits
    save_adapter(model, point, tmp_path)
    assert not is_pure_peft(point) and (tmp_path / "autopeft_adapter.json").is_file()
    loaded = load_adapter(copy.deepcopy(base), tmp_path).eval()  # the projections come from PEFT's seeded generator
    torch.testing.assert_close(loaded(**batch).logits, expected, atol=1e-5, rtol=0)


def test_vera_searches_one_global_rank_and_per_module_placement(models):
    arch = discover_architecture(models["bert"])
    space = build_space(SpaceSpec(components=[{"method": "vera", "rank": [16, 256]}]), arch)
    assert space.dims["rank"] == [16, 256]
    assert sorted(name for name in space.dims if name.startswith("L0.")) == ["L0.q", "L0.v"]
    params = dict(space.center_params(), rank=256)
    point = space.point_from_params(params)
    targets = point.components[0].settings["targets"]
    assert len(targets) == 2 * arch.num_layers
    assert space.trainable_parameters(params) == arch.head_parameters + sum(256 + arch.shapes[t][1] for t in targets)
    assert describe_component("vera", point.components[0].settings) == f"vera x{len(targets)}"


def test_a_vera_reference_is_written_with_one_rank():
    spec = parse_spec(
        {
            "data": {"train": "train.json", "validation_fraction": 0.2},
            "references": {"vera-r256-qv": {"method": "vera", "rank": 256, "learning_rate": 1e-2}},
        }
    )
    vera = spec.references["vera-r256-qv"].components[0]
    assert vera.rank == [256] and vera.per_layer_placement is False
