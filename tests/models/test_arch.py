"""Architecture discovery maps roles to real module names on the ten supported families."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from autopeft.errors import SpecError
from autopeft.models import discover_architecture
from autopeft.testing.tiny_models import FAMILIES, tiny_classifier, tiny_config

EXPECTED = {
    "bert": {"q": "attention.self.query", "o": "attention.output.dense", "ffn_up": "intermediate.dense"},
    "roberta": {"v": "attention.self.value", "ffn_down": "output.dense"},
    "deberta-v2": {"q": "attention.self.query_proj", "v": "attention.self.value_proj", "ffn_down": "output.dense"},
    "distilbert": {"q": "attention.q_lin", "o": "attention.out_lin", "ffn_up": "ffn.lin1", "ffn_down": "ffn.lin2"},
    "gpt2": {"q": "attn.c_attn", "k": "attn.c_attn", "v": "attn.c_attn", "o": "attn.c_proj", "ffn_down": "mlp.c_proj"},
    "llama": {
        "k": "self_attn.k_proj",
        "o": "self_attn.o_proj",
        "ffn_gate": "mlp.gate_proj",
        "ffn_down": "mlp.down_proj",
    },
    "mistral": {"q": "self_attn.q_proj", "ffn_up": "mlp.up_proj"},
    "qwen2": {"q": "self_attn.q_proj", "ffn_up": "mlp.up_proj"},
    "gemma": {"v": "self_attn.v_proj", "ffn_gate": "mlp.gate_proj"},
    "t5": {"q": "layer.0.SelfAttention.q", "o": "layer.0.SelfAttention.o"},
}
HEADS = {
    "distilbert": ["pre_classifier", "classifier"],
    "deberta-v2": ["pooler", "classifier"],
    "t5": ["classification_head"],
}


@pytest.mark.parametrize("family", FAMILIES)
def test_roles_map_to_module_names(family):
    model = tiny_classifier(family)
    arch = discover_architecture(model)
    assert arch.num_layers == (4 if family == "t5" else 2), "T5: encoder then decoder layers"
    names = dict(model.named_modules())
    for layer in range(arch.num_layers):
        for role, suffix in EXPECTED[family].items():
            name = arch.module_name(layer, role)
            assert name.endswith(f".{suffix}") and name.startswith(arch.layer_names[layer] + "."), name
            assert name in names
    assert {"q", "k", "v", "o", "ffn_up", "ffn_down"} <= set(arch.roles())
    head = HEADS.get(family, ["score"] if family in ("gpt2", "llama", "mistral", "qwen2", "gemma") else ["classifier"])
    assert sorted(arch.head_modules) == sorted(head)
    assert arch.head_parameters == sum(p.numel() for h in head for p in getattr(model, h).parameters())


def test_t5_decoder_layers_follow_the_encoder():
    arch = discover_architecture(tiny_classifier("t5"))
    assert arch.layer_names[1].endswith("encoder.block.1") and arch.layer_names[2].endswith("decoder.block.0")
    assert arch.module_name(2, "ffn_down").endswith("decoder.block.0.layer.2.DenseReluDense.wo")


def test_module_name_errors_name_the_field():
    arch = discover_architecture(tiny_classifier("bert"))
    with pytest.raises(
        SpecError, match=r"space.modules: role 'ffn_gate' not found in layer 0 of this bert model\. Fix"
    ):
        arch.module_name(0, "ffn_gate")
    with pytest.raises(SpecError, match=r"space.layers: layer 5 is out of range.*0\.\.1"):
        arch.module_name(5, "q")


class _Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.mix = nn.Linear(8, 8)
        self.expand = nn.Linear(8, 16)
        self.shrink = nn.Linear(16, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shrink(self.expand(self.mix(x)))


class _Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([_Block(), _Block()])


def test_unknown_architecture_lists_linear_modules_and_how_to_map_them():
    with pytest.raises(SpecError, match=r"model: unknown architecture '_Custom'.*expand, mix, shrink.*roles: \{"):
        discover_architecture(_Custom())


def test_roles_mapped_by_hand():
    arch = discover_architecture(_Custom(), roles={"q": "mix", "ffn_up": "expand", "ffn_down": "shrink"})
    assert arch.module_name(1, "ffn_down") == "blocks.1.shrink"
    assert arch.shapes["blocks.0.expand"] == (8, 16)


DECODERS = ("gpt2", "llama", "mistral", "qwen2", "gemma")


@pytest.mark.parametrize(
    ("family", "task_name"),
    [(family, "classification") for family in FAMILIES]
    + [(family, "causal_lm") for family in DECODERS]
    + [("bert", "regression"), ("llama", "regression")],
)
def test_the_skeleton_has_the_loaded_models_architecture_and_count(family, task_name, tmp_path):
    """The search space is built from the meta-device skeleton, before the weights load; it
    must be the space of the model that then trains."""
    from transformers import AutoModelForCausalLM

    from autopeft.methods import count_parameters
    from autopeft.models import load_base_model
    from autopeft.models.loading import load_skeleton
    from autopeft.tasks import TASKS

    causal = task_name == "causal_lm"
    (AutoModelForCausalLM.from_config(tiny_config(family)) if causal else tiny_classifier(family)).save_pretrained(
        tmp_path
    )
    task, labels = TASKS[task_name](), ["a", "b", "c"] if task_name == "classification" else []
    shapes = load_skeleton(str(tmp_path), task, labels)
    loaded = load_base_model(str(tmp_path), task, labels)
    assert next(shapes.parameters()).device.type == "meta"
    assert discover_architecture(shapes) == discover_architecture(loaded), "names, shapes and the 3-label head"
    assert count_parameters(shapes) == count_parameters(loaded), "tied embeddings counted once in both"
