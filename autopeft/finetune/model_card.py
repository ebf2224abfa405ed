"""The trained adapter folder as a Hugging Face user expects it: beside the adapter, the base
model's tokenizer, its config with the task's label names (``AutoConfig.from_pretrained(folder)
.id2label``), and a model card (``README.md``, in place of PEFT's empty template) that says what
the adapter is, which search chose it, what it scored and how to load it.

The card is huggingface_hub's ``ModelCard``: its front matter is ``ModelCardData``'s, the
metadata the Hub reads (base model, library, tags, pipeline, datasets).
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from autopeft.data.source import looks_like_file
from autopeft.finetune.recipe import Recipe
from autopeft.methods.io import AUTOPEFT_CONFIG, PEFT_CONFIG
from autopeft.models.loading import hub_model_id, load_tokenizer
from autopeft.models.memory import TORCH_DTYPES

if TYPE_CHECKING:
    from huggingface_hub import ModelCard
    from torch import nn

CARD_FILE = "README.md"
SEQUENCE = ("text-classification", "AutoModelForSequenceClassification")  # regression too (one output)
# task -> (the Hub's pipeline tag, transformers' class for the base model)
HUB_TASKS = {
    "classification": SEQUENCE,
    "regression": SEQUENCE,
    "causal_lm": ("text-generation", "AutoModelForCausalLM"),
}
# A base checkpoint's own classifier may have another size: the adapter folder holds the head.
FRESH_HEAD = "\n    ignore_mismatched_sizes=True,  # the trained head is the adapter's"
# What a stock PEFT config says about placement and size; the rest are PEFT's defaults.
PLACEMENT_KEYS = (
    "peft_type",
    "r",
    "lora_alpha",
    "use_dora",
    "use_rslora",
    "target_modules",
    "feedforward_modules",
    "layers_to_transform",
    "rank_pattern",
    "alpha_pattern",
    "modules_to_save",
)


def complete_folder(
    adapter_dir: Path,
    model: nn.Module,
    recipe: Recipe,
    label_names: list[str],
    metrics: dict[str, Any],
    hub_repo: str | None = None,
) -> None:
    """Save the tokenizer, the labelled config and the model card beside the trained adapter, so
    that the folder loads alone. The card's loading snippet names ``hub_repo`` if the adapter is
    pushed there, else the folder."""
    load_tokenizer(recipe.model).save_pretrained(str(adapter_dir))
    if recipe.task != "causal_lm":  # a language model has no head for labels to describe
        labelled_config(model, label_names).save_pretrained(str(adapter_dir))
    where = hub_repo or str(adapter_dir.resolve())
    model_card(recipe, label_names, metrics, adapter_dir, where).save(adapter_dir / CARD_FILE)


def labelled_config(model: nn.Module, label_names: list[str]) -> Any:
    """The trained model's base config, its head's outputs named by the task's labels."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = copy.deepcopy(base.config)
    if label_names:
        config.id2label = dict(enumerate(label_names))
        config.label2id = {name: i for i, name in enumerate(label_names)}
    return config


def model_card(
    recipe: Recipe, label_names: list[str], metrics: dict[str, Any], adapter_dir: Path, load_from: str
) -> ModelCard:
    """The card of a trained folder: Hub metadata, then the base model, the search, the scores,
    the recipe and how to load it (from ``load_from``: the folder or its Hub repo)."""
    from huggingface_hub import ModelCard, ModelCardData

    hub_id = hub_model_id(recipe.model)
    data = ModelCardData(
        base_model=hub_id,
        library_name="peft",
        tags=[
            "autopeft",
            "peft",
            *(recipe.method or "").split("+"),
            *([f"base_model:adapter:{hub_id}"] if hub_id else []),
        ],
        pipeline_tag=HUB_TASKS[recipe.task][0],
        datasets=[recipe.data.train] if _hub_dataset(recipe.data.train) else None,
    )
    sections = [
        f"# {recipe.method or 'adapter'} on {recipe.base_model_name_or_path}",
        _base_section(recipe, label_names),
        _search_section(recipe),
        _scores_section(recipe, metrics),
        _recipe_section(recipe, metrics, adapter_dir),
        _loading_section(recipe, label_names, load_from, (adapter_dir / AUTOPEFT_CONFIG).is_file()),
    ]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n")


def _hub_dataset(train: str) -> bool:
    return not looks_like_file(train) and not Path(train).expanduser().exists()


def _base_section(recipe: Recipe, label_names: list[str]) -> str:
    lines = [f"## Base model\n\n`{recipe.base_model_name_or_path}`, {recipe.task}."]
    options = {key: value for key, value in asdict(recipe.loading()).items() if value not in ("auto", "none")}
    if options:
        lines.append("Loaded with " + ", ".join(f"{key} {value}" for key, value in options.items()) + ".")
    if label_names:
        lines.append("Labels: " + ", ".join(f"{i} `{name}`" for i, name in enumerate(label_names)) + ".")
    return " ".join(lines)


def _search_section(recipe: Recipe) -> str:
    what = f"trial {recipe.trial}" if recipe.trial is not None else f"the reference `{recipe.reference}`"
    if recipe.search is None:  # exported before recipes named the search
        return f"## How it was chosen\n\nThis is {what} of the autopeft study at `{recipe.study}`."
    search, steps = recipe.search, (recipe.proxy_budget.model_extra or {}).get("steps")
    return (
        f"## How it was chosen\n\nAn autopeft search, study `{search.name}` (`{recipe.study}`): the "
        f"{search.sampler} sampler, {search.trials} trial{'s' * (search.trials != 1)}, "
        f"objectives {', '.join(search.objectives)}. "
        f"This is {what}; the search's proxy trained it for {steps} steps."
    )


def _scores_section(recipe: Recipe, metrics: dict[str, Any]) -> str:
    names = list(metrics["validation"])
    budget = recipe.proxy_budget.model_extra or {}
    proxy_rows = f", {budget['eval_examples']} rows" if budget.get("eval_examples") else ""
    rows = [(f"the search's proxy run, validation{proxy_rows}", metrics.get("proxy_validation", {}))]
    confirmed = recipe.confirmed
    if confirmed is not None and confirmed.get("mean") is not None:
        runs = len(confirmed.get("runs") or [])
        score = f"{confirmed['mean']:.4f} ± {confirmed.get('standard_error') or 0:.4f}"
        rows.append((f"confirmed (mean ± standard error of {runs} runs), validation", {confirmed["metric"]: score}))
    rows.append((f"full training, validation ({metrics['validation_rows']} rows)", metrics["validation"]))
    if "test" in metrics:
        rows.append(
            (f"full training, test `{metrics['test_source']}` ({metrics['test_examples']} rows)", metrics["test"])
        )
    table = ["| run | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    table += [f"| {run} | " + " | ".join(_number(values.get(name)) for name in names) + " |" for run, values in rows]
    return "## Scores\n\n" + "\n".join(table)


def _number(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else f"{value:.4f}"


def _recipe_section(recipe: Recipe, metrics: dict[str, Any], adapter_dir: Path) -> str:
    rates = recipe.hyperparameters
    lines = [
        f"- method: {recipe.method}",
        f"- learning rates: {rates.learning_rate:.3g} (adapter), {rates.head_learning_rate:.3g} (head); "
        f"{rates.lr_schedule} schedule, warmup ratio {rates.warmup_ratio}, weight decay {rates.weight_decay}, "
        f"{rates.optimizer}",
        f"- full training: {metrics['steps']} steps ({metrics['epochs']:.2f} epochs over {metrics['train_examples']} "
        f"rows), batch size {metrics['batch_size']}, max length {metrics['max_length']}, seed {metrics['seed']} "
        f"(head seed {metrics['head_seed']}), {metrics['precision']}",
        f"- trainable parameters: {metrics['trainable_params']:,} ({metrics['percent_of_base']}% of the base model)",
    ]
    placement = yaml.safe_dump(_placement(adapter_dir), sort_keys=False, default_flow_style=None, width=100)
    return "## Training recipe\n\n" + "\n".join(lines) + f"\n\nPlacement and ranks:\n\n```yaml\n{placement}```"


def _placement(adapter_dir: Path) -> dict[str, Any]:
    """Where the adapter sits and its sizes, as its saved config states them."""
    if (adapter_dir / AUTOPEFT_CONFIG).is_file():
        return {"components": json.loads((adapter_dir / AUTOPEFT_CONFIG).read_text())["point"]["components"]}
    config = json.loads((adapter_dir / PEFT_CONFIG).read_text())
    kept = {key: config.get(key) for key in PLACEMENT_KEYS if config.get(key) not in (None, False, {}, [])}
    return {
        key: sorted(value) if key == "target_modules" and isinstance(value, list) else value
        for key, value in kept.items()
    }


def _held_as(recipe: Recipe, imports: str) -> tuple[str, str]:
    """``from_pretrained`` arguments that hold the base as the search and the training did
    (dtype, and bitsandbytes quantization with the loader's own arguments), and the imports
    they need."""
    loading = recipe.loading()
    arguments = "" if loading.dtype == "auto" else f"\n    dtype=torch.{TORCH_DTYPES[loading.dtype]},"
    if loading.quantized:
        written = ", ".join(
            f"{key}={_as_python(key, value)}" for key, value in loading.quantization_arguments().items()
        )
        arguments += f"\n    quantization_config=BitsAndBytesConfig({written}),"
        imports += "from transformers import BitsAndBytesConfig\n"
    if arguments:
        imports = "import torch\n" + imports
    return arguments, imports


def _as_python(key: str, value: Any) -> str:
    """A loader argument as the snippet writes it: a dtype named by torch, strings quoted."""
    if key.endswith("_dtype"):
        return f"torch.{value}"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _loading_section(recipe: Recipe, label_names: list[str], load_from: str, autopeft_format: bool) -> str:
    """A snippet that loads the folder with stock transformers and PEFT (autopeft for its own
    format) and uses it once."""
    auto, base, folder = HUB_TASKS[recipe.task][1], json.dumps(recipe.base_model_name_or_path), json.dumps(load_from)
    if recipe.task == "classification":
        labels = ", ".join(f"{i}: {json.dumps(name)}" for i, name in enumerate(label_names))
        head = f",\n    num_labels={len(label_names)},\n    id2label={{{labels}}},{FRESH_HEAD}"
        use = "print(model.config.id2label[model(**inputs).logits.argmax(-1).item()])"
    elif recipe.task == "regression":
        head, use = f",\n    num_labels=1,{FRESH_HEAD}", "print(model(**inputs).logits.item())"
    else:
        head, use = "", "print(tokenizer.decode(model.generate(**inputs, max_new_tokens=20)[0]))"
    if autopeft_format:
        imports, load = "import autopeft\n", f"model = autopeft.load_adapter(base, {folder}).eval()"
    else:
        imports, load = "from peft import PeftModel\n", f"model = PeftModel.from_pretrained(base, {folder}).eval()"
    held, imports = _held_as(recipe, imports)
    head += held
    arguments = f"\n    {base}{head}\n" if head else base
    code = (
        f"{imports}from transformers import {auto}, AutoTokenizer\n\n"
        f"base = {auto}.from_pretrained({arguments})\n"
        f"{load}\n"
        f"tokenizer = AutoTokenizer.from_pretrained({folder})\n"
        'inputs = tokenizer(["An example to score."], return_tensors="pt")\n'
        f"{use}\n"
    )
    return f"## How to load\n\n```python\n{code}```"
