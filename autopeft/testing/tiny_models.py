"""Tiny randomly initialised classifiers of the ten supported families, for tests.

Each config is as small as the family allows (2 layers, hidden 32) so a forward and
backward pass takes milliseconds; the weights are random, the structure is the real one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedTokenizerFast

VOCAB = 1000
EOS = 2  # T5 classifies from its end-of-sequence token: every input ends with it
FAMILIES = ("bert", "roberta", "deberta-v2", "distilbert", "gpt2", "llama", "mistral", "qwen2", "gemma", "t5")


def tiny_config(family: str) -> PretrainedConfig:
    """A transformers config of ``family`` with 2 layers (T5: 2 encoder + 2 decoder)."""
    import transformers as hf

    common = {"vocab_size": VOCAB, "num_labels": 2, "pad_token_id": 0}
    decoder = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "intermediate_size": 64,
        **common,
    }
    encoder = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64, **common}
    configs = {
        "bert": lambda: hf.BertConfig(**encoder),
        "roberta": lambda: hf.RobertaConfig(**encoder),
        "deberta-v2": lambda: hf.DebertaV2Config(**encoder),
        "distilbert": lambda: hf.DistilBertConfig(dim=32, n_layers=2, n_heads=2, hidden_dim=64, **common),
        "gpt2": lambda: hf.GPT2Config(n_embd=32, n_layer=2, n_head=2, bos_token_id=1, eos_token_id=EOS, **common),
        "llama": lambda: hf.LlamaConfig(**decoder),
        "mistral": lambda: hf.MistralConfig(**decoder),
        "qwen2": lambda: hf.Qwen2Config(**decoder),
        "gemma": lambda: hf.GemmaConfig(head_dim=16, **decoder),
        "t5": lambda: hf.T5Config(
            d_model=32,
            d_kv=16,
            d_ff=64,
            num_layers=2,
            num_heads=2,
            eos_token_id=EOS,
            decoder_start_token_id=0,
            **common,
        ),
    }
    return configs[family]()


def tiny_classifier(family: str, seed: int = 0) -> nn.Module:
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(tiny_config(family))
    model.eval()
    return model


def tiny_batch(batch: int = 2, length: int = 7, seed: int = 0) -> dict[str, torch.Tensor]:
    """Token ids that end with EOS (T5 needs it, the others do not mind), and labels."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB, (batch, length), generator=generator)
    ids[:, -1] = EOS
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.arange(batch) % 2}


def word_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    """A word-level fast tokenizer over the words of ``texts`` (ids 0-2: pad, unknown, end of
    sequence), for decoder models in tests: no hub download needed."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    splitter = pre_tokenizers.Whitespace()
    words = sorted({piece for text in texts for piece, _ in splitter.pre_tokenize_str(text)})
    vocab = {"[PAD]": 0, "[UNK]": 1, "[EOS]": EOS} | {word: i + 3 for i, word in enumerate(words)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = splitter
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]", eos_token="[EOS]")


def save_tiny_causal_lm(folder: str | Path, family: str, texts: list[str], seed: int = 0) -> str | Path:
    """A randomly initialised causal LM of ``family`` and a word tokenizer over ``texts``, saved
    as a model folder."""
    from transformers import AutoModelForCausalLM

    tokenizer = word_tokenizer(texts)
    config = tiny_config(family)
    config.vocab_size = len(tokenizer)
    config.eos_token_id = EOS
    torch.manual_seed(seed)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
