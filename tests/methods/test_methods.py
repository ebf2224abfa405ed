"""Every preset on every family builds, trains a step and matches its predicted size;
every method survives an export round trip with the same outputs."""

from __future__ import annotations

import copy
import logging

import optuna
import pytest
import torch

from autopeft import load_adapter, save_adapter
from autopeft.driver.space import build_space
from autopeft.errors import SpecError
from autopeft.methods import MethodDefinition, build_model, count_parameters, is_pure_peft, method, method_names
from autopeft.models import discover_architecture
from autopeft.space.component import MethodUnavailable
from autopeft.spec.presets import load_space_preset as load_preset
from autopeft.spec.presets import space_preset_names as preset_names
from autopeft.spec.space import SpaceSpec
from autopeft.testing.tiny_models import FAMILIES, tiny_batch, tiny_classifier

PRESETS = ("autopeft-paper", "hybrid", "lora-placement", "lora-rank-per-layer", "methods")


@pytest.fixture(scope="module")
def models():
    return {family: tiny_classifier(family) for family in FAMILIES}


def sampled(space, count: int, seed: int = 0):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(count):
        trial = study.ask()
        point = space.sample(trial)  # before reading params: sampling fills them
        yield trial.params, point


def test_presets_are_the_documented_ones():
    assert set(PRESETS) <= set(preset_names())


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_points_build_train_and_match_their_predicted_size(models, family, preset):
    base = models[family]
    space = build_space(SpaceSpec.model_validate(load_preset(preset)), discover_architecture(base), base.config)
    built = 0
    for params, point in sampled(space, 40):
        if not space.is_buildable(params):  # every module switched off: the sampler never proposes it
            continue
        if built == 20:
            break
        model = build_model(base, point)
        model.train()
        model(**tiny_batch()).loss.backward()
        assert count_parameters(model)[0] == space.trainable_parameters(params), point.method
        assert any(p.grad is not None for p in model.parameters() if p.requires_grad)
        built += 1
    assert built == 20


METHOD_SPACES = {
    "lora": {"method": "lora", "modules": ["q", "v", "ffn_down"], "rank": [2, 4], "per_layer_placement": False},
    "dora": {"method": "lora", "variant": "dora", "modules": ["q", "v"], "rank": [4], "per_layer_placement": False},
    "rslora": {"method": "lora", "variant": "rslora", "modules": ["k", "o"], "rank": [8], "per_layer_placement": False},
    "ia3": {"method": "ia3", "modules": ["k", "v", "ffn_down"]},
    "prefix": {"method": "prefix", "virtual_tokens": [3]},
    "layernorm": {"method": "layernorm"},
    "bias": {"method": "bias"},
    "serial_adapter": {"method": "serial_adapter", "positions": ["attention", "ffn"], "width": [4]},
    "parallel_adapter": {"method": "parallel_adapter", "width": [4]},
    "vera": {"method": "vera", "modules": ["q", "v", "ffn_down"], "rank": [4, 64], "per_layer_placement": False},
}
HYBRID = [
    {"method": "lora", "modules": ["q", "v"], "rank": [2], "per_layer_placement": False},
    {"method": "parallel_adapter", "width": [4]},
]


def _perturb(model: torch.nn.Module) -> None:
    """Move every trainable tensor off its initial value (LoRA B and adapter up start at zero)."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))


@pytest.mark.parametrize("family", ["bert", "gpt2", "llama"])
@pytest.mark.parametrize("name", [*METHOD_SPACES, "hybrid"])
def test_export_round_trip_gives_the_same_logits(models, family, name, tmp_path):
    base = models[family]
    components = HYBRID if name == "hybrid" else [METHOD_SPACES[name]]
    if name == "bias" and family == "llama":
        pytest.skip("Llama has no biases")
    space = build_space(SpaceSpec(components=components), discover_architecture(base), base.config)
    params, point = next(sampled(space, 1))
    model = build_model(base, point)
    _perturb(model)
    _assert_round_trip(base, model, point, tmp_path)
    assert count_parameters(model)[0] == space.trainable_parameters(params)


def _assert_round_trip(base, model, point, folder) -> None:
    """Saved and loaded onto a fresh copy of ``base``, the adapter gives the same logits."""
    batch = {k: v for k, v in tiny_batch().items() if k != "labels"}
    expected = model.eval()(**batch).logits
    save_adapter(model, point, folder)
    assert (folder / "adapter_config.json").is_file() == is_pure_peft(point)
    loaded = load_adapter(copy.deepcopy(base), folder, is_trainable=True).eval()
    assert count_parameters(loaded) == count_parameters(model), "same trainable and total parameters"
    torch.testing.assert_close(loaded(**batch).logits, expected, atol=1e-5, rtol=0)
    assert not torch.allclose(base(**batch).logits, expected, atol=1e-4), "the adapter changes the outputs"


@pytest.mark.parametrize("family", FAMILIES)
def test_prefix_on_every_family_trains_counts_exactly_and_round_trips(models, family, tmp_path):
    base = models[family]
    spec = SpaceSpec(components=[{"method": "prefix", "virtual_tokens": [3]}])
    space = build_space(spec, discover_architecture(base), base.config)
    params, point = next(sampled(space, 1))
    assert len(point.components[0].settings["targets"]) == discover_architecture(base).num_layers
    model = build_model(base, point)
    batch = {k: v for k, v in tiny_batch().items() if k != "labels"}
    torch.testing.assert_close(model.eval()(**batch).logits, base(**batch).logits), "values start at zero"
    model.train()
    model(**tiny_batch()).loss.backward()
    prefixes = [p for n, p in model.named_parameters() if n.endswith(("prefix_key", "prefix_value"))]
    assert sum(p.numel() for p in prefixes) + discover_architecture(base).head_parameters == count_parameters(model)[0]
    assert count_parameters(model)[0] == space.trainable_parameters(params)
    assert all(p.grad is not None for p in prefixes if p.requires_grad)
    assert any(p.grad.abs().sum() > 0 for n, p in model.named_parameters() if n.endswith("prefix_value"))
    _perturb(model)
    _assert_round_trip(base, model, point, tmp_path)


def test_prefix_follows_key_value_heads_and_the_layer_switch(models):
    base = models["llama"]  # 2 query heads share 1 key/value head
    arch = discover_architecture(base)
    spec = SpaceSpec(layer_switch=True, components=[{"method": "prefix", "virtual_tokens": [0, 4]}])
    space = build_space(spec, arch)
    params = {"L0.on": True, "L1.on": False, "virtual_tokens": 4, "learning_rate": 1e-3, "head_learning_rate": 1e-2}
    head_dim = arch.shapes[arch.modules[0]["o"]][0] // arch.num_heads
    assert space.trainable_parameters(params) == arch.head_parameters + 2 * 4 * 1 * head_dim
    model = build_model(base, space.point_from_params(params))
    assert count_parameters(model)[0] == space.trainable_parameters(params)
    assert not space.is_buildable(dict(params, virtual_tokens=0))


def test_fresh_adapters_start_as_the_identity(models):
    base = models["bert"]
    components = [{"method": "serial_adapter", "width": [4]}, {"method": "parallel_adapter", "width": [4]}]
    space = build_space(SpaceSpec(components=components), discover_architecture(base))
    model = build_model(base, next(sampled(space, 1))[1]).eval()
    batch = {k: v for k, v in tiny_batch().items() if k != "labels"}
    torch.testing.assert_close(model(**batch).logits, base(**batch).logits)


def test_gpt2_fused_attention_is_one_placement_unit(models):
    base = models["gpt2"]
    spec = SpaceSpec(components=[{"method": "lora", "modules": ["q", "k", "v"], "rank": [2]}])
    space = build_space(spec, discover_architecture(base))
    bits = [name for name in space.dims if name.startswith("L0.")]
    assert bits == ["L0.q"], "q, k and v share c_attn: one bit switches it"


def test_choice_space_canonicalizes_the_unchosen_method(models):
    base = models["bert"]
    spec = SpaceSpec(combine="choice", components=[METHOD_SPACES["lora"], METHOD_SPACES["serial_adapter"]])
    space = build_space(spec, discover_architecture(base))
    params, point = next(p for p in sampled(space, 10) if p[1].method == "serial_adapter")
    assert [c.method for c in point.components] == ["serial_adapter"]
    other = dict(params, **{"lora.L0.rank": 4 if params["lora.L0.rank"] == 2 else 2})
    assert space.canonical_params(other) == space.canonical_params(params), "unused LoRA rank is ignored"


def test_unavailable_method_is_an_error_alone_and_a_warning_in_a_mix(models, caplog):
    base = models["llama"]  # no biases: the model says so, not a list of model types
    arch = discover_architecture(base)
    with pytest.raises(SpecError, match=r"space\.bias\.method: this llama model has no biases"):
        build_space(SpaceSpec(components=[METHOD_SPACES["bias"]]), arch, base.config)
    with caplog.at_level(logging.WARNING, logger="autopeft"):
        space = build_space(
            SpaceSpec(combine="choice", components=[METHOD_SPACES["lora"], METHOD_SPACES["bias"]]), arch
        )
    assert space.dropped == ["bias"] and "leaving bias out of the space" in caplog.text


@pytest.mark.parametrize("family", FAMILIES)
def test_the_paper_preset_keeps_prefix_everywhere(models, family):
    base = models[family]
    space = build_space(SpaceSpec.model_validate(load_preset("autopeft-paper")), discover_architecture(base))
    assert space.dropped == [] and "prefix.virtual_tokens" in space.dims


def test_every_registered_method_has_a_round_trip_case():
    assert {space["method"] for space in METHOD_SPACES.values()} == set(method_names())


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("name", method_names())
def test_every_method_with_its_defaults_builds_on_every_family_at_its_predicted_size(models, family, name):
    """Each registered method, as a user writes it with no knobs, on each family: sampled points
    build, train a step and have exactly the predicted size, or the space says the model
    cannot take the method."""
    base = models[family]
    try:
        space = build_space(SpaceSpec(components=[{"method": name}]), discover_architecture(base), base.config)
    except MethodUnavailable:
        pytest.skip(f"{family} cannot take {name}")
    points = [(params, point) for params, point in sampled(space, 10) if space.is_buildable(params)][:2]
    assert points
    for params, point in points:
        model = build_model(base, point)
        model.train()
        model(**tiny_batch()).loss.backward()
        assert count_parameters(model)[0] == space.trainable_parameters(params), point.method
        assert any(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_a_definition_must_carry_its_name_in_its_schema_and_one_way_to_build():
    lora = method("lora")
    with pytest.raises(TypeError, match="Literal"):
        MethodDefinition(name="lorax", schema=lora.schema, settings=lora.settings, space=lora.space, inject=print)
    with pytest.raises(TypeError, match="exactly one"):
        MethodDefinition(name="lora", schema=lora.schema, settings=lora.settings, space=lora.space)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (run it where one is lent)")
def test_a_seed_gives_the_same_prefix_on_the_cpu_and_the_gpu():
    """autopeft train builds the adapter before the model moves to the GPU; a GPU search builds
    it after: both must start from the same prefix."""
    from autopeft.methods.prefix_layers import PrefixAttention

    prefixes = []
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        prefixes.append(PrefixAttention(torch.nn.Linear(8, 8).to(device), tokens=3, heads=2, kv_heads=2).prefix_key)
    assert torch.equal(prefixes[0], prefixes[1].cpu())
