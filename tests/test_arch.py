"""Architecture discovery maps roles to real module names on several model families."""

from __future__ import annotations

import pytest
from transformers import (
    AutoModelForSequenceClassification,
    BertConfig,
    DistilBertConfig,
    GPT2Config,
    LlamaConfig,
    Qwen2Config,
    RobertaConfig,
)

from autopeft.errors import SpecError
from autopeft.models import discover_architecture

SMALL = {"vocab_size": 100, "num_labels": 2}
CONFIGS = {
    "bert": BertConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, **SMALL),
    "roberta": RobertaConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, **SMALL),
    "distilbert": DistilBertConfig(dim=16, n_layers=2, n_heads=2, hidden_dim=32, **SMALL),
    "llama": LlamaConfig(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=32,
        pad_token_id=0,
        **SMALL,
    ),
    "qwen2": Qwen2Config(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=32,
        pad_token_id=0,
        **SMALL,
    ),
}
EXPECTED = {
    "bert": {
        "q": "attention.self.query",
        "o": "attention.output.dense",
        "ffn_up": "intermediate.dense",
        "ffn_down": "output.dense",
    },
    "roberta": {"v": "attention.self.value", "ffn_down": "output.dense"},
    "distilbert": {"q": "attention.q_lin", "o": "attention.out_lin", "ffn_up": "ffn.lin1", "ffn_down": "ffn.lin2"},
    "llama": {
        "k": "self_attn.k_proj",
        "o": "self_attn.o_proj",
        "ffn_gate": "mlp.gate_proj",
        "ffn_down": "mlp.down_proj",
    },
    "qwen2": {"q": "self_attn.q_proj", "ffn_up": "mlp.up_proj"},
}


@pytest.mark.parametrize("family", sorted(CONFIGS))
def test_roles_map_to_module_names(family):
    model = AutoModelForSequenceClassification.from_config(CONFIGS[family])
    arch = discover_architecture(model)
    assert arch.num_layers == 2
    names = dict(model.named_modules())
    for layer in range(2):
        for role, suffix in EXPECTED[family].items():
            name = arch.module_name(layer, role)
            assert name.endswith(f".{layer}.{suffix}"), name
            assert name in names


def test_module_name_errors_name_the_field():
    arch = discover_architecture(AutoModelForSequenceClassification.from_config(CONFIGS["bert"]))
    with pytest.raises(
        SpecError, match=r"space.modules: role 'ffn_gate' not found in this bert model\. Fix: use roles"
    ):
        arch.module_name(0, "ffn_gate")
    with pytest.raises(SpecError, match=r"space.layers: layer 5 is out of range.*0\.\.1"):
        arch.module_name(5, "q")


def test_unknown_architecture_lists_linear_modules():
    model = AutoModelForSequenceClassification.from_config(
        GPT2Config(n_embd=16, n_layer=2, n_head=2, pad_token_id=0, **SMALL)
    )
    # GPT-2's Conv1D projections are not nn.Linear: discovery must say so instead of guessing.
    with pytest.raises(SpecError, match=r"model: unknown architecture 'gpt2'"):
        discover_architecture(model)
