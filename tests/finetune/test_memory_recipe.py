"""The memory options travel end to end (issue 40, item 1): a spec's `model:` dtype and
`budget.gradient_accumulation` reach the search's base model, the export's recipe, and the
model and Trainer that `autopeft train` builds from that recipe."""

from __future__ import annotations

import torch

import autopeft
from autopeft.finetune.recipe import Recipe


def test_dtype_and_micro_batches_reach_the_search_the_recipe_and_train(quick_spec, tmp_path, monkeypatch):
    import autopeft.finetune.train as train_module
    from autopeft.driver.prepare import load_inputs
    from autopeft.spec import parse_spec

    quick_spec |= {"model": {"path": quick_spec["model"], "dtype": "bf16"}, "trials": 1}
    quick_spec["budget"] |= {"gradient_accumulation": 2}
    _, context = load_inputs(parse_spec(quick_spec, source="test"), None, device="cpu")
    assert {p.dtype for p in context.base_model.parameters()} == {torch.bfloat16}, "the search loads in bf16"

    result = autopeft.search(quick_spec, progress=False)
    assert result.trials[0].state == "complete", result.trials[0].fail_reason
    export = autopeft.export_trial(quick_spec["study_dir"], 0, tmp_path / "export")
    recipe = Recipe.read(export)
    assert recipe.model_options.dtype == "bf16"
    assert recipe.proxy_budget.model_dump()["gradient_accumulation"] == 2

    seen = {}

    def loaded(*args, loading=None, **kwargs):
        seen["dtype"] = loading.dtype
        return load_base_model(*args, loading=loading, **kwargs)

    def arguments(*args, **kwargs):
        seen["args"] = training_arguments(*args, **kwargs)
        return seen["args"]

    load_base_model, training_arguments = train_module.load_base_model, train_module.training_arguments
    monkeypatch.setattr(train_module, "load_base_model", loaded)
    monkeypatch.setattr(train_module, "training_arguments", arguments)
    autopeft.train_exported(export, tmp_path / "trained", max_steps=2, batch_size=8, device="cpu")
    assert seen["dtype"] == "bf16", "train loads the base as the search held it"
    assert (seen["args"].gradient_accumulation_steps, seen["args"].per_device_train_batch_size) == (2, 4)
