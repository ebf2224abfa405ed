"""Causal-LM instruction tuning: a prompt and a response per example, loss on the response only."""

from __future__ import annotations

import contextlib
import string
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from autopeft.data.encoding import IGNORE_INDEX, EncodedSplit
from autopeft.errors import SpecError
from autopeft.tasks.base import Task
from autopeft.tasks.kinds import CAUSAL_LM
from autopeft.tasks.metrics import perplexity


class CausalLMTask(Task):
    """The prompt is ``data.prompt_template`` filled from the row's columns (or the
    ``data.prompt`` column); the response is ``data.response``, followed by end-of-sequence."""

    name = CAUSAL_LM.name
    metrics = CAUSAL_LM.metrics
    default_metric = CAUSAL_LM.default_metric
    peft_task_type = CAUSAL_LM.peft_task_type
    model_classes = ("ForCausalLM", "LMHeadModel")  # GPT-2's is GPT2LMHeadModel
    auto_class = "AutoModelForCausalLM"

    def template(self) -> str:
        return self.columns.prompt_template or "{" + self.columns.prompt + "}"

    def required_columns(self) -> dict[str, str]:
        fields = [name for _, name, _, _ in string.Formatter().parse(self.template()) if name]
        columns = {f"data.prompt_template ({{{name}}})": name for name in fields}
        if self.columns.prompt_template is None:
            columns = {"data.prompt": self.columns.prompt}
        return columns | {"data.response": self.columns.response}

    def encode(self, dataset: Any, tokenizer: Any, max_length: int) -> EncodedSplit:
        """Prompt and response tokens, truncated so the response keeps at least half the length."""
        template = self.template()
        prompts = [template.format_map(row) for row in dataset]
        responses = list(dataset[self.columns.response])
        prompt_ids = tokenizer(prompts, add_special_tokens=True)["input_ids"]
        response_ids = tokenizer(responses, add_special_tokens=False)["input_ids"]
        end = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
        inputs, labels = [], []
        for prompt, response in zip(prompt_ids, response_ids, strict=True):
            response = response + ([end] if end is not None else [])
            response = response[: max_length - min(len(prompt), max_length // 2)]
            prompt = (
                prompt[len(prompt) - (max_length - len(response)) :]
                if len(prompt) + len(response) > max_length
                else prompt
            )
            inputs.append(prompt + response)
            labels.append([IGNORE_INDEX] * len(prompt) + response)
        features = {"input_ids": inputs, "attention_mask": [[1] * len(ids) for ids in inputs], "labels": labels}
        pads = {"input_ids": tokenizer.pad_token_id, "attention_mask": 0, "labels": IGNORE_INDEX}
        return EncodedSplit(features, None, pads)

    def load_model(self, path: str, label_names: list[str], **options: Any) -> nn.Module:
        import transformers

        with _needs_lm_head():  # as Task.load_model, and told which weights the checkpoint lacked
            auto = getattr(transformers, self.auto_class)
            model, loading = auto.from_pretrained(path, output_loading_info=True, **options, trust_remote_code=False)
        _check_decoder(model.config)
        _check_trained_head(model, loading["missing_keys"])
        return model

    def load_skeleton(self, path: str, label_names: list[str]) -> nn.Module:
        with _needs_lm_head():
            model = super().load_skeleton(path, label_names)
        _check_decoder(model.config)
        return model

    def loss_weight(self, batch: dict[str, torch.Tensor]) -> int:
        # The model shifts labels by one: the first position never is a target.
        return int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())

    def score(
        self, predictions: torch.Tensor | None, labels: torch.Tensor | None, mean_loss: float
    ) -> dict[str, float]:
        return {"eval_loss": mean_loss, "perplexity": perplexity(mean_loss)}

    def baseline(self, train: EncodedSplit, validation: EncodedSplit) -> None:
        return None  # the untuned base model is the baseline; the caller scores it


@contextlib.contextmanager
def _needs_lm_head() -> Iterator[None]:
    """transformers' error for a model class with no causal-LM head, as the spec field to change."""
    try:
        yield
    except ValueError as error:
        if "Unrecognized configuration" not in str(error):
            raise
        raise SpecError(
            "data.task", "this model has no causal-LM head", "use a decoder model (GPT-2, Llama, Qwen2, ...)"
        ) from None


# Encoders that transformers maps to a causal-LM class (BertLMHeadModel, ...): unless their
# configuration makes them decoders, their attention sees the whole sequence.
ENCODERS = frozenset(
    {
        "bert", "big_bird", "camembert", "data2vec-text", "electra", "ernie", "megatron-bert", "rembert",
        "roberta", "roberta-prelayernorm", "roc_bert", "roformer", "xlm-roberta", "xlm-roberta-xl", "xmod",
    }
)  # fmt: skip


def _check_decoder(config: Any) -> None:
    """An encoder trained as a language model would see the tokens it predicts: its perplexity
    would mean nothing, and transformers only warns (in a log autopeft keeps quiet)."""
    if config.model_type in ENCODERS and not getattr(config, "is_decoder", False):
        raise SpecError(
            "data.task",
            f"this {config.model_type} model is an encoder (its attention sees the whole sequence), not a causal LM",
            "use a decoder model (GPT-2, Llama, Qwen2, ...), or task: classification",
        )


def _check_trained_head(model: nn.Module, missing: list[str]) -> None:
    """A checkpoint saved without its language-model head (a classifier's) would get a random one."""
    head, inputs = model.get_output_embeddings(), model.get_input_embeddings()
    name = next((name for name, module in model.named_modules() if module is head), None)
    tied = head is not None and inputs is not None and head.weight.data_ptr() == inputs.weight.data_ptr()
    if name is not None and f"{name}.weight" in missing and not tied:
        raise SpecError(
            "model",
            f"its checkpoint has no trained language-model head ({name}): it would start random",
            "use a causal-LM checkpoint (a base or instruct model), not one saved for another task",
        )
