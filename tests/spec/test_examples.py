"""Every example spec the README points to parses as written (they name hub models and data,
so nothing loads here); the QLoRA one holds its base in 4-bit with micro-batches."""

from __future__ import annotations

from pathlib import Path

import pytest

from autopeft.spec import build_spec

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_each_example_spec_parses(path):
    assert build_spec(path).trials >= 1


def test_the_qlora_example_is_the_memory_recipe():
    spec = build_spec(next(p for p in EXAMPLES if p.name == "qlora-llama.yaml"))
    assert (spec.model_options.dtype, spec.model_options.quantization) == ("bf16", "4bit")
    assert (spec.budget.gradient_accumulation, spec.budget.gradient_checkpointing) == (4, True)
