"""Large models in less memory: `model:` as a mapping with dtype and quantization; the weights
load in that dtype; quantization without a CUDA GPU is one line before anything loads."""

from __future__ import annotations

import typing

import pytest
import torch

import autopeft
from autopeft.errors import SpecError
from autopeft.models.memory import Dtype, ModelLoading, Quantization
from autopeft.spec import ModelOptions, parse_spec
from autopeft.tasks import task_for

DATA = {"train": "t.jsonl", "validation_fraction": 0.2}


def test_model_as_a_mapping_is_a_path_with_options():
    spec = parse_spec({"data": DATA, "model": {"path": "minilm", "dtype": "bf16"}})
    assert spec.model == "minilm" and spec.model_options == ModelOptions(dtype="bf16")
    assert parse_spec({"data": DATA}).model_options == ModelOptions()
    with pytest.raises(SpecError, match=r"^model\.quantization: .*Fix: use one of"):
        parse_spec({"data": DATA, "model": {"path": "minilm", "quantization": "2bit"}})
    both = {"data": DATA, "model": {"path": "minilm", "dtype": "bf16"}, "model_options": {"dtype": "fp32"}}
    with pytest.raises(SpecError, match=r"^model_options: given beside model: \{path, \.\.\.\}\. Fix: write"):
        parse_spec(both)  # not bf16 silently winning


def test_the_spec_and_the_loader_know_the_same_choices():
    fields = ModelOptions.model_fields
    assert typing.get_args(fields["dtype"].annotation) == typing.get_args(Dtype)
    assert typing.get_args(fields["quantization"].annotation) == typing.get_args(Quantization)


def test_weights_load_in_the_dtype_asked_for(tiny_bert):
    from autopeft.models.loading import load_base_model

    model = load_base_model(str(tiny_bert), task_for("classification"), ["n", "p"], loading=ModelLoading("bf16"))
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in load_base_model(str(tiny_bert), task_for("classification"), ["n", "p"]).parameters()} == {
        torch.float32
    }


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_quantization_without_a_gpu_is_refused_before_anything_is_written(quick_spec, tmp_path):
    spec = quick_spec | {"model": {"path": quick_spec["model"], "quantization": "4bit"}}
    with pytest.raises(SpecError, match=r"^model.quantization: 4bit needs a CUDA GPU .*Fix: "):
        autopeft.search(spec)
    assert not (tmp_path / "study").exists()
    unread = spec | {"data": spec["data"] | {"train": str(tmp_path / "absent.jsonl")}}
    with pytest.raises(SpecError, match=r"^model.quantization"):  # not data.train: refused before data loads
        autopeft.search(unread)
