"""The kernel (data, tasks, proxy training, trials) runs without a study spec and never imports
it; the spec converts to the kernel's plain types without losing a field."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import DEMO_DATA, REPO
from import_graph import import_graph, reachable

from autopeft.data.source import Columns, DataSource, looks_like_file
from autopeft.methods import count_parameters
from autopeft.models.arch import peft_task_type
from autopeft.models.loading import load_tokenizer
from autopeft.proxy.budget import ProxyBudget
from autopeft.proxy.trial import TrialContext, run_trial
from autopeft.space.base import Hyperparameters, Point
from autopeft.tasks import TASKS, load_task_data, task_for
from autopeft.testing.tiny_models import tiny_classifier, tiny_config

PACKAGE = REPO / "autopeft"
# The kernel: what trains and scores a configuration (proxy/ and the data and tasks below it). The spec is above it.
KERNEL = ("autopeft.proxy", "autopeft.data", "autopeft.tasks")


def kernel_modules(graph: dict[str, set[str]]) -> list[str]:
    return sorted(m for m in graph if any(m == k or m.startswith(k + ".") for k in KERNEL))


def test_the_kernel_never_imports_the_spec_and_is_in_no_import_cycle():
    graph = import_graph(PACKAGE)
    modules = kernel_modules(graph)
    assert {"autopeft.proxy.training", "autopeft.proxy.trial", "autopeft.data.loading", "autopeft.tasks.base"} <= set(
        modules
    )
    for module in modules:
        below = reachable(graph, module)
        assert not [m for m in below if m.startswith("autopeft.spec")], f"{module} imports the spec"
        assert module not in below, f"{module} is in an import cycle"


def test_data_never_imports_the_tasks():
    graph = import_graph(PACKAGE)
    for module in (m for m in graph if m.startswith("autopeft.data")):
        assert not any(name.startswith("autopeft.tasks") for name in graph[module]), module


@pytest.fixture(scope="module")
def context(tiny_bert) -> TrialContext:
    """A trial context built from the kernel's types alone."""
    source = DataSource(train=str(DEMO_DATA / "train.jsonl"), validation_fraction=0.25)
    data = load_task_data(source, task_for("classification", Columns(text="sentence", label="label")), seed=1)
    tokenizer = load_tokenizer(str(tiny_bert))
    torch.manual_seed(0)
    base = data.task.load_model(str(tiny_bert), data.label_names)
    return TrialContext(
        base_model=base,
        base_model_path=str(tiny_bert),
        base_parameters=count_parameters(base)[1],
        train=data.task.encode(data.train, tokenizer, 32),
        validation=data.task.encode(data.validation, tokenizer, 32),
        budget=ProxyBudget(steps=4, batch_size=8, eval_examples=32),
        task=data.task,
        measure_latency=True,
    )


def lora_point() -> Point:
    targets = {f"bert.encoder.layer.{i}.attention.self.query": 2 for i in range(3)}
    settings = {"targets": targets, "variant": "lora", "alpha_ratio": 2.0, "dropout": 0.0}
    return Point.single("lora", settings, Hyperparameters(1e-3, 1e-3))


def test_a_trial_runs_on_a_budget_built_without_a_spec(context):
    steps = []
    outcome = run_trial(lora_point(), context, seed=0, on_step=lambda step, loss: steps.append(step))
    assert steps == [1, 2, 3, 4] and outcome.steps == 4 and not outcome.stopped_early
    assert {"accuracy", "eval_loss", "throughput", "peak_memory_mb", "latency_overhead"} <= set(outcome.measurements)
    assert 0 < outcome.trainable_params < context.base_parameters
    assert outcome.percent_of_base == pytest.approx(100 * outcome.trainable_params / context.base_parameters)
    again = run_trial(lora_point(), context, seed=0)
    assert again.measurements["accuracy"] == outcome.measurements["accuracy"]


def test_a_trial_stops_at_a_rung_when_told(context):
    asked = []

    def judge(step, measurements):
        asked.append((step, "trainable_params" in measurements))
        return False

    outcome = run_trial(lora_point(), context, seed=0, rungs=[2], on_rung=judge)
    assert asked == [(2, True)] and outcome.steps == 2 and outcome.stopped_early


def test_the_spec_converts_to_the_kernel_types_field_for_field():
    from autopeft.spec import BudgetSpec, DataSpec

    def names(kernel_type) -> set[str]:
        return {f.name for f in dataclasses.fields(kernel_type)}

    assert set(BudgetSpec.model_fields) - {"successive_halving", "hours"} == names(ProxyBudget)
    assert set(DataSpec.model_fields) - {"task", "test", "metrics"} == names(DataSource) | names(Columns)
    assert BudgetSpec().proxy() == ProxyBudget()  # one set of defaults
    budget = BudgetSpec(steps=7, batch_size=3, eval_examples=5, precision="fp32", successive_halving={})
    assert budget.proxy() == ProxyBudget(steps=7, batch_size=3, eval_examples=5, precision="fp32")
    spec = DataSpec(task="regression", train="a.csv", validation="b.csv", text="q", text_pair="p", label="score")
    assert spec.source() == DataSource(train="a.csv", validation="b.csv")
    task = spec.make_task()
    assert task.name == "regression" and task.columns == Columns(text="q", text_pair="p", label="score")
    assert DataSpec(train="t.csv", validation_fraction=0.5).make_task().columns == Columns()
    with pytest.raises(ValueError, match="give `validation` .* or `validation_fraction`"):
        DataSource(train="a.csv")


def test_one_rule_tells_files_from_hub_ids_and_split_names(tmp_path):
    from autopeft.spec import parse_spec, resolve_paths

    assert all(looks_like_file(v) for v in ("rows.jsonl", "x.CSV", "./rows", "/data/rows", "~/rows.parquet"))
    assert not any(looks_like_file(v) for v in ("glue", "nyu-mll/glue", "validation", "train[:10%]"))
    data = {"train": "rows.jsonl", "validation": "~/dev.jsonl"}
    spec = resolve_paths(parse_spec({"data": data}), tmp_path)
    assert spec.data.train == str(tmp_path / "rows.jsonl") and spec.data.validation == "~/dev.jsonl"
    hub = resolve_paths(parse_spec({"data": {"train": "glue", "subset": "sst2", "validation": "validation"}}), tmp_path)
    assert (hub.data.train, hub.data.validation) == ("glue", "validation")


def test_the_tasks_decide_the_peft_task_type_of_their_models():
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    causal = AutoModelForCausalLM.from_config(tiny_config("gpt2"))  # GPT2LMHeadModel
    llama = AutoModelForCausalLM.from_config(tiny_config("llama"))
    assert peft_task_type(causal) == peft_task_type(llama) == TASKS["causal_lm"].peft_task_type == "CAUSAL_LM"
    classifier = tiny_classifier("gpt2")
    assert peft_task_type(classifier) == TASKS["classification"].peft_task_type == "SEQ_CLS"
    assert TASKS["regression"].peft_task_type == "SEQ_CLS"
    wrapped = get_peft_model(llama, LoraConfig(r=2, target_modules=["q_proj"]))
    assert peft_task_type(wrapped) == "CAUSAL_LM"
