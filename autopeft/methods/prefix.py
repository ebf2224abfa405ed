"""Prefix tuning through stock PEFT: learned key/value prefixes in every layer.

PEFT's prefix tuning needs a model that accepts past key values; others get a clear error
when the space is built, not a failed trial.
"""

from __future__ import annotations

from typing import Any

from peft import PrefixTuningConfig

from autopeft.space.component import ComponentSpace, MethodUnavailable

# Families where PEFT's prefix tuning builds and trains for sequence classification
# (checked on tiny models of each); DeBERTa-v2, DistilBERT and T5 take no past key values.
PREFIX_MODEL_TYPES = ("bert", "roberta", "gpt2", "llama", "mistral", "qwen2", "gemma")


class PrefixSpace(ComponentSpace):
    """Parameter: ``virtual_tokens`` (0 switches prefix tuning off). Setting: ``virtual_tokens``."""

    method = "prefix"
    uses_layers = False  # PEFT puts a prefix in every layer

    def __init__(self, spec: Any, arch: Any, prefix: str = "", model_config: Any = None):
        super().__init__(spec, arch, prefix)
        if arch.model_type not in PREFIX_MODEL_TYPES:
            raise MethodUnavailable(
                self.field("method"),
                f"prefix tuning is not available for {arch.model_type} models (PEFT needs past key values)",
                f"use it on {', '.join(PREFIX_MODEL_TYPES)}, or choose lora, ia3 or adapters",
            )
        self.per_token = prefix_parameters_per_token(model_config)
        self.declare("virtual_tokens", list(spec.virtual_tokens))

    def settings(self, params: dict[str, Any], layers_on: set[int] | None) -> dict[str, Any]:
        return {"virtual_tokens": int(self.value(params, "virtual_tokens"))}

    def is_empty(self, settings: dict[str, Any]) -> bool:
        return settings["virtual_tokens"] == 0

    def count(self, settings: dict[str, Any]) -> int:
        return settings["virtual_tokens"] * self.per_token


def prefix_parameters_per_token(model_config: Any) -> int:
    """Parameters of one virtual token: a key and a value vector in every layer, as PEFT sizes them."""
    from peft.utils.other import _prepare_prompt_learning_config

    config = PrefixTuningConfig(task_type="SEQ_CLS", num_virtual_tokens=1)
    config = _prepare_prompt_learning_config(config, model_config)
    return int(config.num_layers * 2 * config.token_dim)


def prefix_config(settings: dict[str, Any]) -> PrefixTuningConfig:
    return PrefixTuningConfig(num_virtual_tokens=settings["virtual_tokens"])
