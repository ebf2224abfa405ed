"""LoRA points become stock PEFT models with exactly the placement and ranks sampled."""

from __future__ import annotations

import copy

import optuna
import pytest
import torch
from peft import LoraConfig, PeftConfig, get_peft_model
from transformers import AutoModelForSequenceClassification, BertConfig

from autopeft.driver.space import build_space
from autopeft.errors import TrialFailed
from autopeft.methods import build_model, count_parameters, peft_config_for
from autopeft.models import discover_architecture
from autopeft.space import SearchSpace
from autopeft.space.base import Hyperparameters, Point
from autopeft.spec.space import SpaceSpec

HIDDEN, INTERMEDIATE, LABELS = 16, 24, 3


@pytest.fixture(scope="module")
def base():
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50,
        hidden_size=HIDDEN,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=INTERMEDIATE,
        num_labels=LABELS,
    )
    return AutoModelForSequenceClassification.from_config(config).eval()


def expected_trainable(targets: dict[str, int], shapes: dict[str, tuple[int, int]]) -> int:
    lora = sum(rank * (shapes[name][0] + shapes[name][1]) for name, rank in targets.items())
    return lora + HIDDEN * LABELS + LABELS  # plus the classifier head


def lora_space(arch, **lora) -> SearchSpace:
    return build_space(SpaceSpec(components=[{"method": "lora", **lora}]), arch)


def lora_point(targets: dict[str, int], alpha_ratio: float = 2.0, dropout: float = 0.0) -> Point:
    settings = {"targets": targets, "variant": "lora", "alpha_ratio": alpha_ratio, "dropout": dropout}
    return Point.single("lora", settings, Hyperparameters(1e-3, 1e-3))


def sample_points(space: SearchSpace, count: int, seed: int = 0) -> list[tuple[dict, Point]]:
    """(sampled values, point) pairs."""
    study = optuna.create_study(directions=["maximize"], sampler=optuna.samplers.RandomSampler(seed=seed))
    pairs = []
    for _ in range(count):
        trial = study.ask()
        point = space.sample(trial)
        pairs.append((trial.params, point))
    return pairs


def test_sampled_points_build_with_their_ranks_and_exact_size(base):
    arch = discover_architecture(base)
    space = lora_space(arch, modules=["q", "v", "ffn_up", "ffn_down"], rank=[1, 2, 4, 8])
    pairs = [(params, p.components[0].settings) for params, p in sample_points(space, 20) if p.components]
    assert len({tuple(sorted(s["targets"].items())) for _, s in pairs}) > 10, "placements vary"
    for params, settings in pairs:
        point = space.point_from_params(params)
        model = build_model(base, point)
        built = {
            name.removeprefix("base_model.model."): module.r["default"]
            for name, module in model.named_modules()
            if hasattr(module, "lora_A") and "default" in getattr(module, "r", {})
        }
        assert built == settings["targets"]
        assert count_parameters(model)[0] == expected_trainable(settings["targets"], arch.shapes)
        assert space.trainable_parameters(params) == count_parameters(model)[0], "predicted before building"
        model(input_ids=torch.tensor([[1, 2, 3]]), labels=torch.tensor([1])).loss.backward()


def test_global_rank_and_fixed_placement(base):
    space = lora_space(
        discover_architecture(base),
        modules=["q"],
        layers=[1, 3],
        per_layer_placement=False,
        per_layer_rank=False,
        rank=[4],
    )
    params, point = sample_points(space, 1)[0]
    assert set(params) == {"learning_rate", "head_learning_rate"}, "fixed values are not searched"
    assert point.components[0].settings["targets"] == {
        "bert.encoder.layer.1.attention.self.query": 4,
        "bert.encoder.layer.3.attention.self.query": 4,
    }


def test_base_model_is_left_untouched(base):
    before = {k: v.clone() for k, v in base.state_dict().items()}
    build_model(base, lora_point({"bert.encoder.layer.0.attention.self.query": 2}))
    assert not any(type(m).__name__.startswith("Lora") for m in base.modules())
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())


def test_saved_config_rebuilds_the_same_model(base, tmp_path):
    # layer.1 must not also match layer.1X names; output.dense must not match attention.output.dense
    targets = {
        "bert.encoder.layer.0.attention.self.query": 2,
        "bert.encoder.layer.1.attention.self.query": 8,
        "bert.encoder.layer.1.output.dense": 4,
    }
    peft_config_for(lora_point(targets, 1.5, 0.1), ["classifier"]).save_pretrained(str(tmp_path))
    loaded = PeftConfig.from_pretrained(str(tmp_path))
    assert isinstance(loaded, LoraConfig)
    model = get_peft_model(copy.deepcopy(base), loaded)
    assert count_parameters(model)[0] == expected_trainable(targets, discover_architecture(base).shapes)
    scaling = {
        n.removeprefix("base_model.model."): m.scaling["default"]
        for n, m in model.named_modules()
        if isinstance(getattr(m, "scaling", None), dict) and "default" in m.scaling
    }
    assert scaling == {name: 1.5 for name in targets}, "alpha = ratio * rank on every module"


def test_no_module_placed_is_a_failed_trial(base):
    space = lora_space(discover_architecture(base), modules=["q"], layers=[0])
    params = {"L0.q": False, "L0.rank": 2, "learning_rate": 1e-3, "head_learning_rate": 1e-2}
    assert not space.is_buildable(params)
    with pytest.raises(TrialFailed, match="nothing placed"):
        build_model(base, space.point_from_params(params))


def test_loading_a_stock_peft_adapter_prints_no_library_rename_warning(tiny_bert, tmp_path):
    """`autopeft train` on an exported LoRA wraps the base with PEFT, which reads a name
    transformers 5 renamed and compares the export's hub id with the local copy's path: neither
    warning names anything a user can change."""
    import warnings

    from peft import LoraConfig
    from transformers import AutoModelForSequenceClassification

    from autopeft.methods import load_adapter

    config = LoraConfig(r=2, target_modules=["query", "value"], task_type="SEQ_CLS")
    config.base_model_name_or_path = "org/tiny-bert"  # export names the hub id; train loads a local copy
    config.save_pretrained(str(tmp_path))
    base = AutoModelForSequenceClassification.from_pretrained(str(tiny_bert))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.filterwarnings("error", ".*base_model_name_or_path. was renamed", UserWarning)
        adapted = load_adapter(base, tmp_path, is_trainable=True)
    assert any("lora_A" in name for name, p in adapted.named_parameters() if p.requires_grad)
