"""Full training of an exported configuration, with transformers' Trainer.

The search trains cheap proxies; the user's chosen configuration then trains for real: the
whole train split for some epochs at full sequence length, from the folder ``export`` wrote
(its adapter config and ``recipe.yaml``). Trainer brings what a long run needs and a proxy
does not: checkpoints to resume from, logging, multi-device placement. autopeft adds only
the recipe's two learning rates (adapter and head) and its own tokenization and scoring, so
the final metrics are measured as the search measured them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autopeft.data.cache import encode_cached
from autopeft.data.encoding import EncodedSplit
from autopeft.data.source import looks_like_file
from autopeft.errors import AutopeftError, SpecError, UsageError
from autopeft.finetune.export import RECIPE_FILE
from autopeft.methods import count_parameters, load_adapter, save_adapter
from autopeft.methods.io import AUTOPEFT_CONFIG, adapter_config_file
from autopeft.models import load_base_model
from autopeft.models.loading import load_tokenizer
from autopeft.proxy.devices import autocast_dtype, resolve_device
from autopeft.proxy.training import evaluate, param_groups
from autopeft.space.base import Hyperparameters, Point
from autopeft.spec import DataSpec
from autopeft.spec.yaml_io import read_yaml
from autopeft.tasks import load_task_data

CHECKPOINTS = "checkpoints"  # inside the output folder: Trainer's checkpoints, for resuming
ADAPTER = "adapter"  # inside the output folder: the trained adapter (and head)
METRICS_FILE = "metrics.json"


class EncodedRows(torch.utils.data.Dataset):
    """An encoded split as Trainer items: the row number, and the token ids that Trainer's
    length-grouped sampler measures. The collator pads the rows (``EncodedSplit.batch``)."""

    def __init__(self, split: EncodedSplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"row": index, "input_ids": self.split.features["input_ids"][index]}

    def collate(self, items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return self.split.batch([item["row"] for item in items])


def warmup_and_length_grouping(warmup_ratio: float) -> dict[str, Any]:
    """TrainingArguments for a warmup fraction and length-grouped batches, in the spelling of
    the installed transformers (5.x folded warmup_ratio into warmup_steps and group_by_length
    into train_sampling_strategy)."""
    from dataclasses import fields

    import transformers

    names = {f.name for f in fields(transformers.TrainingArguments)}
    if "train_sampling_strategy" in names:
        grouping: dict[str, Any] = {"train_sampling_strategy": "group_by_length"}
    else:
        grouping = {"group_by_length": True}
    warmup = "warmup_steps" if int(transformers.__version__.split(".")[0]) >= 5 else "warmup_ratio"
    return grouping | {warmup: warmup_ratio}


RUN_FILE = "run.json"  # what trained into an output folder: its checkpoints resume only for the same run
# What train reads of a recipe (the rest is for the user).
RECIPE_KEYS = ("model", "base_model_name_or_path", "data", "hyperparameters", "seed", "measured")


def read_recipe(export_dir: Path) -> dict[str, Any]:
    """The recipe ``autopeft export`` wrote into ``export_dir``."""
    file = export_dir / RECIPE_FILE
    if not file.is_file():
        raise UsageError(
            f"train: {export_dir} holds no {RECIPE_FILE}. Fix: give the folder written by "
            "'autopeft export STUDY --trial N --out DIR'"
        )
    recipe = read_yaml(file)
    missing = [key for key in RECIPE_KEYS if key not in (recipe if isinstance(recipe, dict) else {})]
    if missing:
        raise UsageError(
            f"train: {file} lacks {', '.join(missing)}. Fix: export the configuration again "
            "('autopeft export STUDY --trial N --out DIR --force')"
        )
    return recipe


def save_trained(model: nn.Module, config: Path, out_dir: Path, base_model: str) -> Path:
    """Save the trained adapter and head in the format of the exported ``config``, where
    ``load_adapter`` (or, for stock PEFT methods, ``PeftModel.from_pretrained``) reads them.
    A hybrid is a PeftModel too, but PEFT would save its PEFT part only: its format is autopeft's."""
    if config.name != AUTOPEFT_CONFIG:  # a stock PEFT export
        model.save_pretrained(str(out_dir))
        return out_dir
    point = Point.from_dict(json.loads(config.read_text())["point"])
    return save_adapter(model, point, out_dir, base_model)


TRAINER_TRACKERS = ("none", "mlflow", "wandb", "tensorboard")


def train_exported(
    export_dir: str | Path,
    out_dir: str | Path,
    epochs: float = 3.0,
    max_steps: int | None = None,
    batch_size: int = 32,
    max_length: int = 256,
    device: str = "auto",
    save_steps: int = 500,
    seed: int | None = None,
    test: str | None = None,
    report_to: str = "none",
    push_to_hub: str | None = None,
) -> dict[str, Any]:
    """Train the configuration exported to ``export_dir`` on the recipe's whole train split and
    score it on its validation split; return (and write to ``out_dir/metrics.json``) the scores.

    ``max_steps`` (optimizer steps) overrides ``epochs``. Checkpoints go to
    ``out_dir/checkpoints`` every ``save_steps`` steps, and a rerun into the same ``out_dir``
    resumes from the last one. The trained adapter lands in ``out_dir/adapter``. ``seed``
    (default: the recipe's) seeds the fresh adapter, head and batch order; by default training
    starts from the weights the search's trial started from. The validation rows stay the
    study's. ``test`` (default: the spec's ``data.test``, if any) is scored too.
    ``report_to`` goes to transformers' Trainer (mlflow, wandb, tensorboard or none).
    ``push_to_hub`` names a Hub repo that the trained adapter is uploaded to at the end.
    """
    from transformers import Trainer, TrainingArguments

    export_dir, out_dir = Path(export_dir), Path(out_dir)
    recipe = read_recipe(export_dir)
    sizes = [("--batch-size", batch_size), ("--max-length", max_length), ("--save-steps", save_steps)]
    for field, value in [*sizes, ("--max-steps", 1 if max_steps is None else max_steps)]:
        if value < 1:
            raise SpecError(field, f"must be at least 1, got {value}", f"pass {field} 1 or more")
    if max_steps is None and epochs <= 0:
        raise SpecError("--epochs", f"must be above 0, got {epochs}", "pass --epochs 1 or more, or --max-steps N")

    if report_to not in TRAINER_TRACKERS:
        raise UsageError(f"--report-to: unknown tracker {report_to!r}. Fix: use one of {', '.join(TRAINER_TRACKERS)}")
    if report_to != "none" and importlib.util.find_spec(report_to) is None:
        raise UsageError(f"--report-to {report_to}: {report_to} is not installed. Fix: pip install {report_to}")
    if push_to_hub:
        hub_repo(push_to_hub)  # before hours of training: no token or no rights fail now
    if device.startswith("cuda:") and device != "cuda:0":
        raise UsageError(
            f"--device {device}: transformers' Trainer trains on the first visible GPU. "
            f"Fix: CUDA_VISIBLE_DEVICES={device.removeprefix('cuda:')} autopeft train ... --device cuda"
        )
    target = resolve_device(device)
    # Recipes written before head_seed seeded the head with the trial's seed.
    head_seed = recipe.get("head_seed", recipe["seed"]) if seed is None else seed
    seed = recipe["seed"] if seed is None else seed
    identity = {"export": _digest(export_dir), "seed": seed, "head_seed": head_seed}
    _claim(out_dir, identity | {"batch_size": batch_size, "max_length": max_length})
    data_spec = DataSpec.model_validate(recipe["data"])
    data_seed = recipe.get("data_seed", recipe["seed"])  # recipes before data_seed carved with the trial's
    data = load_task_data(data_spec.source(), data_spec.make_task(), seed=data_seed)
    if recipe.get("labels") and data.label_names != recipe["labels"]:
        raise AutopeftError(
            f"train: the data's labels {data.label_names} are not the exported head's {recipe['labels']}. "
            f"Fix: train on the data the study searched on ({recipe['data']['train']})"
        )
    test = test or data_spec.test
    test_rows = None if test is None else _test_split(data_spec, test)  # its errors before any tokenizing
    tokenizer = load_tokenizer(recipe["model"])
    cache = out_dir / "cache"
    train = encode_cached(data.task, data.train, tokenizer, max_length, cache)
    validation = encode_cached(data.task, data.validation, tokenizer, max_length, cache)
    held_out = None if test_rows is None else encode_cached(data.task, test_rows, tokenizer, max_length, cache)
    base = load_base_model(recipe["model"], data.task, data.label_names, seed=head_seed)
    _, base_parameters = count_parameters(base)
    config = adapter_config_file(export_dir, recipe.get("adapter_config"))
    torch.manual_seed(seed)  # the adapter's first weights, as run_trial draws them
    model = load_adapter(base, export_dir, is_trainable=True, config_name=config.name)
    trainable, _ = count_parameters(model)

    hp = recipe["hyperparameters"]
    rates = Hyperparameters(learning_rate=hp["learning_rate"], head_learning_rate=hp["head_learning_rate"])
    optimizer = torch.optim.AdamW(param_groups(model, rates, hp["weight_decay"]))
    rows = EncodedRows(train)
    dtype = autocast_dtype(target, recipe.get("proxy_budget", {}).get("precision", "auto"))  # as the search trained
    args = TrainingArguments(
        output_dir=str(out_dir / CHECKPOINTS),
        num_train_epochs=epochs,
        max_steps=max_steps if max_steps is not None else -1,
        per_device_train_batch_size=batch_size,
        lr_scheduler_type=hp["lr_schedule"],
        max_grad_norm=hp["max_grad_norm"],
        **warmup_and_length_grouping(hp["warmup_ratio"]),
        remove_unused_columns=False,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=1,
        logging_steps=max(1, min(50, save_steps)),
        report_to=report_to,
        seed=seed,
        use_cpu=target.type == "cpu",
        bf16=dtype == torch.bfloat16,
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model, args=args, data_collator=rows.collate, train_dataset=rows, optimizers=(optimizer, None)
    )
    resume = any((out_dir / CHECKPOINTS).glob("checkpoint-*"))
    started = time.perf_counter()
    with warnings.catch_warnings():  # transformers' own Trainer calls its deprecated name
        warnings.filterwarnings("ignore", ".*is_gradient_checkpointing.*", FutureWarning)
        output = trainer.train(resume_from_checkpoint=True if resume else None)
    seconds = time.perf_counter() - started

    where = next(model.parameters()).device
    scores = evaluate(model, validation, batch_size * 2, data.task, where, dtype)
    save_trained(model, config, out_dir / ADAPTER, recipe["base_model_name_or_path"])
    metrics = {
        "validation": scores,
        **({} if held_out is None else {"test": evaluate(model, held_out, batch_size * 2, data.task, where, dtype)}),
        "test_source": test,
        "test_examples": None if held_out is None else len(held_out),
        "validation_rows": rows_digest(data.validation),  # which rows: the study's, whatever the seed
        "seed": seed,
        "head_seed": head_seed,
        "proxy_validation": {k: v for k, v in recipe["measured"].items() if k in scores},
        "train_loss": output.training_loss,
        "steps": output.global_step,
        "epochs": round(trainer.state.epoch or 0.0, 4),
        "train_examples": len(train),
        "validation_examples": len(validation),
        "max_length": max_length,
        "batch_size": batch_size,
        "train_seconds": round(seconds, 2),
        "resumed": resume,
        "trainable_params": trainable,
        "percent_of_base": round(100 * trainable / base_parameters, 4),
        "device": str(target),
        "precision": "bf16" if dtype == torch.bfloat16 else "fp32",
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
    if push_to_hub:
        push_adapter(out_dir / ADAPTER, push_to_hub)
    return metrics


def _digest(export_dir: Path) -> str:
    """What identifies an export: its recipe and adapter configuration, byte for byte."""
    files = sorted(p for p in export_dir.iterdir() if p.is_file() and p.suffix in (".yaml", ".json"))
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()[:16]


def _claim(out_dir: Path, run: dict[str, Any]) -> None:
    """Mark ``out_dir`` as this run's; a rerun resumes its checkpoints only if it is the same run
    (another export, seed, batch size or length would continue weights trained otherwise)."""
    file = out_dir / RUN_FILE
    if any((out_dir / CHECKPOINTS).glob("checkpoint-*")) and file.is_file():
        earlier = json.loads(file.read_text())
        # Runs before head_seed seeded the head with the trial's seed, the same run's "seed".
        earlier.setdefault("head_seed", earlier.get("seed"))
        changed = [key for key in run if earlier.get(key) != run[key]]
        if changed:
            raise UsageError(
                f"--out: {out_dir} holds checkpoints of another run (it differs in {', '.join(changed)}). "
                "Fix: give a new --out, or delete that folder to start over"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(run, indent=2))


def _first_line(error: Exception) -> str:
    return f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}"


def hub_repo(repo: str) -> None:
    """Create the Hub repo (or find it) with huggingface_hub's standard ``create_repo``, the
    call ``push_to_hub`` makes first; the token is the usual one (``HF_TOKEN``, ``hf auth login``)."""
    from huggingface_hub import HfApi

    try:
        HfApi().create_repo(repo, exist_ok=True)
    except Exception as error:  # noqa: BLE001 - offline, no token, no rights: one line, before training
        raise AutopeftError(
            f"--push-to-hub {repo}: cannot create or reach the repo ({_first_line(error)}). Fix: log in "
            "(HF_TOKEN or `hf auth login`), check the network and the repo name, or drop --push-to-hub"
        ) from None


def push_adapter(adapter_dir: Path, repo: str) -> None:
    """Upload a trained adapter folder with huggingface_hub's ``upload_folder`` (what
    ``push_to_hub`` does). A failure says where the adapter is: training is never lost."""
    from huggingface_hub import HfApi

    try:
        HfApi().upload_folder(repo_id=repo, folder_path=str(adapter_dir), commit_message="autopeft: trained adapter")
    except Exception as error:  # noqa: BLE001 - the network went away during training: one line, adapter kept
        raise AutopeftError(
            f"--push-to-hub {repo}: the upload failed ({_first_line(error)}). The trained adapter is in "
            f"{adapter_dir}. Fix: log in (HF_TOKEN or `hf auth login`), check the network, and upload that folder"
        ) from None


def rows_digest(rows: Any) -> str:
    """A short fingerprint of a split's rows (a ``datasets.Dataset``), to show which rows scored a run."""
    import hashlib

    return hashlib.sha256(json.dumps(rows.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _test_split(data_spec: DataSpec, test: str) -> Any:
    """The held-out rows, shaped as the task shapes validation (labels mapped as train's);
    what is wrong with them is named as ``--test``'s, not as the validation split's."""
    from dataclasses import replace

    source = replace(data_spec.source(), validation=test, validation_fraction=None)
    if looks_like_file(test):
        test_path = Path(test).expanduser()
        if not test_path.is_file():
            raise UsageError(f"--test: no file at {test_path}. Fix: give the held-out rows' file")
    try:
        return load_task_data(source, data_spec.make_task()).validation
    except SpecError as error:
        if not error.field.startswith("data.validation"):
            raise
        raise SpecError(f"--test{error.field.removeprefix('data.validation')}", error.problem, error.fix) from None
