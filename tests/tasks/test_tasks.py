"""Task types end to end on tiny models: sentence pairs, regression, causal-LM instruction
tuning; their metrics, objectives, exports, and the data sources and cache behind them."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import DEMO_DATA

import autopeft
from autopeft.data.demo import make_demo_splits
from autopeft.errors import SpecError
from autopeft.methods import count_parameters
from autopeft.spec import parse_spec
from autopeft.tasks.metrics import classification_metrics, correlation_metrics, perplexity
from autopeft.testing.tiny_models import save_tiny_causal_lm


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def demo_rows(train_size: int = 160, validation_size: int = 64):
    return make_demo_splits(train_size=train_size, validation_size=validation_size, seed=5)


@pytest.fixture(scope="module")
def instruction_data(tmp_path_factory) -> dict[str, str]:
    """Reviews as instructions: the response names the sentiment (loss on it only)."""
    folder = tmp_path_factory.mktemp("instructions")

    def rows(split):
        return [
            {"review": r["sentence"], "answer": "positive" if r["label"] else "negative"} for r in demo_rows()[split]
        ]

    return {split: write_jsonl(folder / f"{split}.jsonl", rows(split)) for split in ("train", "validation")}


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory, instruction_data) -> Path:
    train = [json.loads(line) for line in Path(instruction_data["train"]).read_text().splitlines()]
    validation = [json.loads(line) for line in Path(instruction_data["validation"]).read_text().splitlines()]
    texts = [f"Review: {row['review']} Sentiment: {row['answer']}" for row in train]
    texts += [row["review"] for row in validation]
    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-gpt2-lm"), "gpt2", texts)


def spec_for(quick_spec: dict, **data) -> dict:
    return quick_spec | {"data": data}


def load_data(data: dict, seed: int = 0):
    """The task data that a spec's ``data`` mapping names, loaded by the kernel."""
    from autopeft.tasks import load_task_data

    spec = parse_spec({"data": data}).data
    return load_task_data(spec.source(), spec.make_task(), seed=seed)


def card_snippet_run(adapter: Path, pipeline_tag: str) -> dict:
    """Run the loading snippet of the model card in a trained ``adapter`` folder; its names, the
    code (``code``) and the config saved beside the adapter (``config``, None if none)."""
    from huggingface_hub import ModelCard
    from transformers import AutoConfig

    card = ModelCard.load(adapter / "README.md")
    assert card.data.pipeline_tag == pipeline_tag and card.data.library_name == "peft"
    (code,) = re.findall(r"```python\n(.*?)```", card.text, flags=re.S)
    namespace = {"code": code}
    exec(code, namespace)
    namespace["config"] = AutoConfig.from_pretrained(adapter) if (adapter / "config.json").is_file() else None
    return namespace


def validation_loss(namespace: dict, data: dict, validation) -> float:
    """The eval loss of the snippet's model on ``validation``, tokenized by the snippet's tokenizer."""
    from autopeft.proxy.training import evaluate

    task = parse_spec({"data": data}).data.make_task()
    return evaluate(namespace["model"], task.encode(validation, namespace["tokenizer"], 32), 16, task)["eval_loss"]


def test_metrics_match_their_definitions():
    scores = classification_metrics(np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0]), 2)
    assert scores["accuracy"] == 0.75 and scores["f1"] == pytest.approx(2 / 3)
    assert scores["mcc"] == pytest.approx(1 / math.sqrt(3))
    assert correlation_metrics(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0]))["spearman"] == pytest.approx(1.0)
    assert correlation_metrics(np.ones(3), np.array([1.0, 2.0, 3.0])) == {"pearson": 0.0, "spearman": 0.0}
    assert perplexity(math.log(7.0)) == pytest.approx(7.0)


def test_sentence_pairs_with_f1_and_mcc(quick_spec, tmp_path):
    rows = demo_rows()
    pairs = {
        split: [{"premise": r["sentence"], "hypothesis": "It was good.", "gold": r["label"]} for r in rows[split]]
        for split in rows
    }
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", pairs[split]) for split in pairs}
    spec = spec_for(
        quick_spec,
        train=files["train"],
        validation=files["validation"],
        text="premise",
        text_pair="hypothesis",
        label="gold",
    )
    result = autopeft.search(spec | {"objectives": ["f1", "mcc", "trainable_params"]}, trials=2)
    for record in result.trials:
        assert set(record.values) >= {"accuracy", "f1", "mcc", "eval_loss", "trainable_params"}
        assert -1 <= record.values["mcc"] <= 1 and 0 <= record.values["f1"] <= 1
    assert result.metric == "f1"


def test_regression_trains_one_output_and_reports_correlations(quick_spec, tmp_path):
    rows = demo_rows()
    scored = {
        split: [
            {"sentence": r["sentence"], "score": 1.0 + 4.0 * r["label"] + 0.1 * (r["idx"] % 5)} for r in rows[split]
        ]
        for split in rows
    }
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", scored[split]) for split in scored}
    spec = spec_for(quick_spec, task="regression", train=files["train"], validation=files["validation"], label="score")
    result = autopeft.search(spec, trials=2)
    assert result.metric == "pearson" and result.baseline["pearson"] == 0.0
    for record in result.trials:
        assert record.state == "complete"
        assert -1 <= record.values["pearson"] <= 1 and -1 <= record.values["spearman"] <= 1
        assert record.values["eval_loss"] > 0
    out = autopeft.export_trial(result.study_dir, result.pareto[0].number, tmp_path / "export")
    assert yaml.safe_load((out / "recipe.yaml").read_text())["task"] == "regression"

    # Trained, its folder loads as its model card says: one output, no labels.
    metrics = autopeft.train_exported(out, tmp_path / "trained", max_steps=2, batch_size=8, max_length=32)
    namespace = card_snippet_run(tmp_path / "trained" / "adapter", "text-classification")
    assert "num_labels=1," in namespace["code"] and namespace["config"].problem_type == "regression"
    validation = load_data(spec["data"]).validation
    assert validation_loss(namespace, spec["data"], validation) == pytest.approx(metrics["validation"]["eval_loss"])


def test_regression_rejects_text_labels(quick_spec):
    spec = spec_for(
        quick_spec, task="regression", train=str(DEMO_DATA / "train.jsonl"), validation_fraction=0.2, label="sentence"
    )
    with pytest.raises(
        SpecError, match="data.label: column 'sentence' of data.train holds values that are not numbers"
    ):
        autopeft.search(spec)


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("bert", "data.task: this bert model is an encoder"),  # transformers has BertLMHeadModel
        ("t5", "data.task: this model has no causal-LM head"),
        ("llama", "model: its checkpoint has no trained language-model head (lm_head)"),  # a classifier's
    ],
)
def test_a_model_that_is_no_causal_lm_is_refused_for_causal_lm(family, expected, tmp_path):
    from autopeft.models import load_base_model
    from autopeft.models.loading import load_skeleton
    from autopeft.tasks.causal_lm import CausalLMTask
    from autopeft.testing.tiny_models import tiny_classifier

    tiny_classifier(family).save_pretrained(tmp_path)
    for load in (load_skeleton, load_base_model):
        if family == "llama" and load is load_skeleton:
            load(str(tmp_path), CausalLMTask(), [])  # its shapes are a causal LM's: only the weights lack the head
            continue
        with pytest.raises(SpecError, match="^" + re.escape(expected)):
            load(str(tmp_path), CausalLMTask(), [])


def test_causal_lm_trains_on_the_response_only(quick_spec, instruction_data, tiny_lm, tmp_path):
    from autopeft.models.loading import load_tokenizer

    data = {
        "task": "causal_lm",
        "train": instruction_data["train"],
        "validation": instruction_data["validation"],
        "prompt_template": "Review: {review} Sentiment:",
        "response": "answer",
    }
    loaded = load_data(data)
    encoded = loaded.task.encode(loaded.train, load_tokenizer(str(tiny_lm)), max_length=12)
    tokenizer = load_tokenizer(str(tiny_lm))
    for ids, labels in zip(encoded.features["input_ids"], encoded.features["labels"], strict=True):
        assert len(ids) == len(labels) <= 12
        targets = [t for t in labels if t != -100]
        assert targets[-1] == tokenizer.eos_token_id and len(targets) == 2  # the answer word, then the end
        assert ids[-2:] == targets  # the response ends the sequence; the prompt was cut from the left

    spec = quick_spec | {
        "model": str(tiny_lm),
        "data": data,
        "space": {"modules": ["q", "v", "o"], "rank": [2, 4]},
        "objectives": ["perplexity", "trainable_params"],
    }
    result = autopeft.search(spec, trials=2)
    assert result.baseline["perplexity"] > 1
    for record in result.trials:
        assert record.state == "complete", record.fail_reason
        assert record.values["perplexity"] == pytest.approx(math.exp(record.values["eval_loss"]), rel=1e-6)
    best = result.pareto[0]
    out = autopeft.export_trial(result.study_dir, best.number, tmp_path / "export")
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["task_type"] == "CAUSAL_LM" and config["modules_to_save"] is None

    from transformers import AutoModelForCausalLM

    model = autopeft.load_adapter(AutoModelForCausalLM.from_pretrained(str(tiny_lm)), out, is_trainable=True)
    assert count_parameters(model)[0] == best.trainable_params

    # Trained, its folder loads as its model card says, and generates; a language model has no
    # labels, so no config is saved beside it.
    metrics = autopeft.train_exported(out, tmp_path / "trained", max_steps=2, batch_size=8, max_length=32)
    namespace = card_snippet_run(tmp_path / "trained" / "adapter", "text-generation")
    assert "AutoModelForCausalLM" in namespace["code"] and namespace["config"] is None
    validation = load_data(data).validation
    assert validation_loss(namespace, data, validation) == pytest.approx(metrics["validation"]["eval_loss"])


def test_cost_objectives_are_measured_and_shown(quick_spec):
    from rich.console import Console

    from autopeft.results.console import pareto_table

    result = autopeft.search(quick_spec | {"objectives": "all"}, trials=2)
    assert [o for o in result.objectives] == [
        "accuracy",
        "trainable_params",
        "peak_memory_mb",
        "throughput",
        "latency_overhead",
    ]
    for record in result.trials:
        assert record.values["peak_memory_mb"] > 0 and record.values["throughput"] > 0
        assert -1 < record.values["latency_overhead"] < 10
    console = Console(width=200, record=True)
    console.print(pareto_table(result.pareto, result.metric, objectives=result.objectives))
    shown = console.export_text()
    assert "peak MB" in shown and "examples/s" in shown and "latency +%" in shown


def test_peak_memory_grows_with_the_adapter(quick_spec):
    from autopeft.driver.prepare import prepare_study
    from autopeft.proxy.trial import run_trial
    from autopeft.space.base import Hyperparameters, Point

    context = prepare_study(parse_spec(quick_spec), cache_dir=None).context

    def memory(rank: int) -> float:
        targets = {
            f"bert.encoder.layer.{i}.{m}": rank
            for i in range(3)
            for m in ("attention.self.query", "intermediate.dense")
        }
        point = Point.single(
            "lora",
            {"targets": targets, "variant": "lora", "alpha_ratio": 2.0, "dropout": 0.0},
            Hyperparameters(1e-3, 1e-3),
        )
        return run_trial(point, context, seed=0).measurements["peak_memory_mb"]

    assert memory(32) > memory(2)


def test_objective_presets_and_errors(quick_spec):
    assert parse_spec(quick_spec | {"objectives": "memory"}).objectives == [
        "accuracy",
        "trainable_params",
        "peak_memory_mb",
    ]
    assert parse_spec(quick_spec | {"objectives": ["metric"]}).objectives == ["accuracy"]
    with pytest.raises(SpecError, match="'pearson' is not a metric of classification tasks"):
        parse_spec(quick_spec | {"objectives": ["pearson", "trainable_params"]})
    with pytest.raises(SpecError, match="no objectives preset 'fast'. Fix: use one of: all, default"):
        parse_spec(quick_spec | {"objectives": "fast"})
    with pytest.raises(SpecError, match="put the task metric first"):
        parse_spec(quick_spec | {"objectives": ["trainable_params", "accuracy"]})
    for preset in Path(__file__).resolve().parents[2].joinpath("objectives").glob("*.yaml"):
        assert parse_spec(quick_spec | {"objectives": preset.stem}).objectives[0] == "accuracy"


def test_tokenization_is_cached_per_study(quick_spec, monkeypatch):
    from autopeft.tasks.classification import ClassificationTask

    autopeft.search(quick_spec, trials=1)
    cached = list((Path(quick_spec["study_dir"]) / "cache").glob("tokens-*.pt"))
    assert len(cached) == 2  # train and validation

    def no_tokenizing(*args, **kwargs):
        raise AssertionError("tokenized again")

    monkeypatch.setattr(ClassificationTask, "encode", no_tokenizing)
    result = autopeft.resume(quick_spec["study_dir"])
    assert len(result.trials) == 1
    monkeypatch.undo()
    from autopeft.driver.prepare import prepare_study

    quick_spec["budget"]["max_length"] = 16  # another length is another cache entry
    prepare_study(parse_spec(quick_spec), cache_dir=cached[0].parent)
    assert len(list(cached[0].parent.glob("tokens-*.pt"))) == 4

    for file in cached:
        file.write_bytes(b"damaged")  # an unreadable cache is a miss, not a traceback
    quick_spec["budget"]["max_length"] = 32
    prepare_study(parse_spec(quick_spec), cache_dir=cached[0].parent)
    assert all(torch.load(file, weights_only=True)["features"] for file in cached), "written again, whole"
    assert sorted(p.suffix for p in cached[0].parent.iterdir()) == [".pt"] * 4, "no partial file left behind"


def test_data_from_saved_folder_csv_and_fraction(tmp_path, quick_spec):
    from datasets import Dataset, DatasetDict

    rows = demo_rows()
    DatasetDict({s: Dataset.from_list(rows[s]) for s in rows}).save_to_disk(str(tmp_path / "saved"))
    data = load_data({"train": str(tmp_path / "saved"), "validation": "validation"})
    assert (len(data.train), len(data.validation)) == (160, 64)

    csv = tmp_path / "rows.csv"
    Dataset.from_list(rows["train"]).to_csv(str(csv))
    fraction = {"train": str(csv), "validation_fraction": 0.25}
    first, second = load_data(fraction, seed=1), load_data(fraction, seed=1)
    assert len(first.validation) == 40 and first.validation["sentence"] == second.validation["sentence"]
    assert set(first.validation["sentence"]).isdisjoint(first.train["sentence"])

    from datasets import ClassLabel

    labelled = DatasetDict({s: Dataset.from_list(rows[s]) for s in rows}).cast_column(
        "label", ClassLabel(names=["negative", "positive"])
    )
    labelled.save_to_disk(str(tmp_path / "labelled"))
    data = load_data({"train": str(tmp_path / "labelled"), "validation": "validation"})
    assert data.label_names == ["negative", "positive"]
    assert data.train["label"] == [r["label"] for r in rows["train"]]

    with pytest.raises(SpecError, match="data.validation: 'validation' reads as a split name, but data.train is a"):
        load_data({"train": str(csv), "validation": "validation"})
    with pytest.raises(SpecError, match="data.validation: .* has no split 'dev' \\(splits: train, validation\\)"):
        load_data({"train": str(tmp_path / "saved"), "validation": "dev"})


def test_validation_rows_copied_from_train_are_refused_and_a_few_are_named(tmp_path, caplog):
    rows = demo_rows()
    train = write_jsonl(tmp_path / "train.jsonl", rows["train"])
    copied = write_jsonl(tmp_path / "copied.jsonl", rows["train"][:40] + rows["validation"][:8])
    with pytest.raises(SpecError, match=r"data.validation: 40 of its 48 rows are also in data.train: scores"):
        load_data({"train": train, "validation": copied})
    as_text = [row | {"label": str(row["label"])} for row in rows["train"][:40]]  # "1" is train's class 1
    with pytest.raises(SpecError, match=r"data.validation: 40 of its 40 rows are also in data.train"):
        load_data({"train": train, "validation": write_jsonl(tmp_path / "text.jsonl", as_text)})
    few = write_jsonl(tmp_path / "few.jsonl", rows["validation"][:3] + rows["train"][:2] + rows["validation"][3:])
    with caplog.at_level("WARNING", logger="autopeft"):
        data = load_data({"train": train, "validation": few})
    assert len(data.validation) == 66
    assert "data.validation: 2 of its 66 rows are also in data.train (rows 4, 5)" in caplog.text
    caplog.clear()
    relabelled = [row | {"label": 1 - row["label"]} for row in rows["train"][:40]]  # a row is all its columns
    load_data({"train": train, "validation": write_jsonl(tmp_path / "other.jsonl", relabelled)})
    carved = load_data({"train": write_jsonl(tmp_path / "twice.jsonl", rows["train"] * 2), "validation_fraction": 0.2})
    assert len(carved.validation) == 64 and "also in data.train" not in caplog.text, "a carving is not checked"


def test_hub_dataset_failure_names_the_field(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(
        SpecError, match="data.train: could not load hub dataset 'autopeft-no-such/dataset' split 'train'"
    ):
        load_data({"train": "autopeft-no-such/dataset", "validation": "validation"})


def test_out_of_memory_fails_the_trial_and_the_study_goes_on(quick_spec, monkeypatch):
    import autopeft.proxy.training as training

    calls = {"n": 0}
    original = training.to_device

    def first_trial_runs_out(batch, device):
        calls["n"] += 1
        if calls["n"] == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return original(batch, device)

    monkeypatch.setattr(training, "to_device", first_trial_runs_out)
    result = autopeft.search(quick_spec, trials=2)
    assert [t.state for t in result.trials] == ["fail", "complete"]
    assert result.trials[0].fail_reason.startswith("out of memory: lower budget.batch_size")


def test_learning_rate_1e3_fails_then_the_next_trial_runs(quick_spec):
    from autopeft.driver.loop import SearchLoop
    from autopeft.driver.prepare import prepare_study
    from autopeft.results.result import SearchResult
    from autopeft.store.study import StudyStore

    quick_spec["space"]["learning_rate"] = {"low": 1e-4, "high": 1e3, "log": True}
    quick_spec["budget"]["steps"] = 30
    spec = parse_spec(quick_spec | {"trials": 2})
    store = StudyStore.create(quick_spec["study_dir"], spec)
    loop = SearchLoop(store, prepare_study(spec, cache_dir=None))
    store.enqueue({"learning_rate": 1e3, "head_learning_rate": 1e3})
    store.enqueue({"learning_rate": 1e-3, "head_learning_rate": 1e-2})
    loop.run()
    result = SearchResult.from_store(store)
    assert [t.state for t in result.trials] == ["fail", "complete"]
    assert result.trials[0].fail_reason.startswith("training diverged")


def test_bf16_autocast_path_runs_on_cpu(quick_spec):
    result = autopeft.search(quick_spec | {"budget": quick_spec["budget"] | {"precision": "bf16"}}, trials=1)
    assert result.trials[0].state == "complete", result.trials[0].fail_reason


def test_devices_resolve_and_explain():
    from autopeft.proxy.devices import resolve_device

    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(SpecError, match="device: 'cuda' was asked for but no GPU is visible"):
            resolve_device("cuda")
