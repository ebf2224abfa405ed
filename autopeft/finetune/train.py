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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autopeft.data.atomic import write_atomic
from autopeft.data.cache import encode_cached
from autopeft.data.encoding import EncodedSplit
from autopeft.data.held_out import check_held_out
from autopeft.data.source import looks_like_file
from autopeft.errors import AutopeftError, SpecError, UsageError
from autopeft.finetune.metrics_file import METRICS_FILE, upgraded_metrics
from autopeft.finetune.model_card import complete_folder
from autopeft.finetune.predictions import PREDICTIONS_FILE, scored_predictions, write_test_predictions
from autopeft.finetune.recipe import Recipe
from autopeft.finetune.tracking import tracked_training
from autopeft.finetune.trainer import CHECKPOINTS, Trained, TrainOptions, make_trainer, run_trainer, training_arguments
from autopeft.methods import count_parameters, load_adapter, save_adapter, save_peft_model
from autopeft.methods.io import AUTOPEFT_CONFIG, adapter_config_file
from autopeft.models import load_base_model
from autopeft.models.loading import check_max_length, load_tokenizer, model_position_limit
from autopeft.proxy.devices import autocast_dtype, resolve_device
from autopeft.proxy.training import evaluate
from autopeft.space.base import Point
from autopeft.spec import DataSpec
from autopeft.tasks import load_task_data
from autopeft.tasks.base import TaskData

ADAPTER = "adapter"  # inside the output folder: the trained adapter (and head)
RUN_FILE = "run.json"  # what trained into an output folder: its checkpoints resume only for the same run
FINISHED = "finished"  # run.json's key once metrics.json is written: the length that run trained to
ALREADY_TRAINED = "already_trained"  # in what train_exported returns (not written): nothing was trained
DEFAULT_MAX_LENGTH = 256
MIN_MAX_LENGTH = 8  # the spec's budget.max_length floor: shorter cuts every example to nothing
MAX_SEED = 2**32 - 1
TRAINER_TRACKERS = ("none", "mlflow", "wandb", "tensorboard")


@dataclass(frozen=True)
class Splits:
    """The run's rows: the task's data as loaded and its splits tokenized (test if asked for)."""

    data: TaskData
    train: EncodedSplit
    validation: EncodedSplit
    test: EncodedSplit | None
    test_source: str | None


@dataclass(frozen=True)
class Built:
    """The model to train, the adapter configuration it was built from (the trained adapter is
    saved in that format), and its parameter counts for metrics.json."""

    model: nn.Module
    config: Path
    trainable: int
    base_parameters: int


def train_exported(
    export_dir: str | Path,
    out_dir: str | Path,
    epochs: float = 3.0,
    max_steps: int | None = None,
    batch_size: int = 32,
    max_length: int | None = None,
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
    resumes from the last complete one; a run that finished there before, asked for again, is
    not trained again (its metrics come back, marked ``already_trained``). The trained adapter
    lands in ``out_dir/adapter``. ``max_length`` defaults to 256, or the model's position limit
    if shorter. ``seed``
    (default: the recipe's) seeds the fresh adapter, head and batch order; by default training
    starts from the weights the search's trial started from. The validation rows stay the
    study's. ``test`` (default: the spec's ``data.test``, if any) is scored too.
    ``report_to`` goes to transformers' Trainer (mlflow, wandb, tensorboard or none); an mlflow or
    wandb run is the study's (``autopeft.finetune.tracking``), with the scores at its end.
    ``push_to_hub`` names a Hub repo that the trained adapter is uploaded to at the end.
    """
    export_dir, out_dir = Path(export_dir), Path(out_dir)
    options = TrainOptions(  # TrainOptions' fields are this signature's, in its order
        epochs, max_steps, batch_size, max_length, device, save_steps, seed, test, report_to, push_to_hub
    )
    recipe = Recipe.read(export_dir)
    recipe.check_method(export_dir)  # before any training: the card names the method that trained
    target = check_options(options, out_dir)
    options = replace(options, max_length=fitting_length(recipe.model, options.max_length))
    seed, head_seed = run_seeds(recipe, options.seed)
    identity = {"export": _digest(export_dir), "seed": seed, "head_seed": head_seed}
    run = identity | {"batch_size": batch_size, "max_length": options.max_length} | schedule_length(options)
    finished = finished_metrics(out_dir, run, run_length(options))
    if finished is not None:
        return finished | {ALREADY_TRAINED: True}
    _claim(out_dir, run)
    splits = load_splits(recipe, options, out_dir / "cache")
    built = build_model(recipe, export_dir, splits.data, seed, head_seed)
    dtype = autocast_dtype(target, recipe.proxy_budget.precision)  # as the search trained
    checkpoints = out_dir / CHECKPOINTS
    args = training_arguments(recipe.hyperparameters, options, checkpoints, seed, target, dtype, recipe.proxy_budget)
    with tracked_training(recipe, options.report_to) as tracking:  # the study's experiment, the trial's name
        trained = run_trainer(make_trainer(built.model, recipe.hyperparameters, splits.train, args), out_dir)
        scores, kept = score(built.model, splits, recipe.measured, batch_size * 2, dtype)
        tracking.log_end(scores, trained.seconds, trained.train_loss)
    write_test_predictions(out_dir, kept)  # each test row's prediction, for paired comparisons
    save_trained(built.model, built.config, out_dir / ADAPTER, recipe.base_model_name_or_path)
    facts = run_facts(splits, built, trained, options, target, dtype)
    metrics = {**scores, "seed": seed, "head_seed": head_seed, **facts}
    complete_folder(out_dir / ADAPTER, built.model, recipe, splits.data.label_names, metrics, push_to_hub)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / METRICS_FILE, json.dumps(metrics, indent=2))
    write_atomic(out_dir / RUN_FILE, json.dumps(run | {FINISHED: run_length(options)}, indent=2))
    if push_to_hub:
        push_adapter(out_dir / ADAPTER, push_to_hub)
    return metrics


def check_options(options: TrainOptions, out_dir: Path) -> torch.device:
    """Refuse wrong options before anything loads (and a Hub repo that cannot be written before
    hours of training); the device the run trains on."""
    steps = 1 if options.max_steps is None else options.max_steps
    length = MIN_MAX_LENGTH if options.max_length is None else options.max_length  # as the search refuses
    for field, value, least in [
        *(("--batch-size", options.batch_size, 1), ("--max-length", length, MIN_MAX_LENGTH)),
        *(("--save-steps", options.save_steps, 1), ("--max-steps", steps, 1)),
    ]:
        if value < least:
            raise SpecError(field, f"must be at least {least}, got {value}", f"pass {field} {least} or more")
    if options.seed is not None and not 0 <= options.seed <= MAX_SEED:  # numpy's seeds
        raise SpecError("--seed", f"must be 0 to {MAX_SEED}, got {options.seed}", "pass a seed in that range")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out: {out_dir} is a file. Fix: give a folder (a new one, or a run's to resume)")
    if options.max_steps is None and options.epochs <= 0:
        raise SpecError(
            "--epochs", f"must be above 0, got {options.epochs}", "pass --epochs 1 or more, or --max-steps N"
        )
    report_to = options.report_to
    if report_to not in TRAINER_TRACKERS:
        raise UsageError(f"--report-to: unknown tracker {report_to!r}. Fix: use one of {', '.join(TRAINER_TRACKERS)}")
    if report_to != "none" and importlib.util.find_spec(report_to) is None:
        raise UsageError(f"--report-to {report_to}: {report_to} is not installed. Fix: pip install {report_to}")
    if options.push_to_hub:
        hub_repo(options.push_to_hub)  # no token or no rights fail now
    if options.device.startswith("cuda:") and options.device != "cuda:0":
        raise UsageError(
            f"--device {options.device}: transformers' Trainer trains on the first visible GPU. "
            f"Fix: CUDA_VISIBLE_DEVICES={options.device.removeprefix('cuda:')} autopeft train ... --device cuda"
        )
    return resolve_device(options.device)


def run_seeds(recipe: Recipe, seed: int | None) -> tuple[int, int]:
    """The seeds of the adapter (and batch order) and of the head: ``seed`` for both if given,
    else the recipe's, so that training starts from the weights the trial started from."""
    return (recipe.seed, recipe.head_seed) if seed is None else (seed, seed)


def load_splits(recipe: Recipe, options: TrainOptions, cache: Path) -> Splits:
    """The study's data, tokenized: the validation rows the study scored on (carved with its
    seed, whatever the run's), labels in the exported head's order, and the test rows checked
    before any tokenizing."""
    data = load_task_data(recipe.data.source(), recipe.data.make_task(), seed=recipe.data_seed)
    if recipe.labels and data.label_names != recipe.labels:
        raise AutopeftError(
            f"train: the data's labels {data.label_names} are not the exported head's {recipe.labels}. "
            f"Fix: train on the data the study searched on ({recipe.data.train})"
        )
    test = options.test or recipe.data.test
    field = "--test" if options.test else "data.test"
    test_rows = None if test is None else _test_split(data, recipe.data, test, field)
    tokenizer = load_tokenizer(recipe.model)

    def encode(rows: Any) -> EncodedSplit:
        return encode_cached(data.task, rows, tokenizer, options.max_length, cache)

    train, validation = encode(data.train), encode(data.validation)
    return Splits(data, train, validation, None if test_rows is None else encode(test_rows), test)


def build_model(recipe: Recipe, export_dir: Path, data: TaskData, seed: int, head_seed: int) -> Built:
    """The base model with the exported adapter, freshly initialised as the search's trial was:
    the head from ``head_seed``, then the adapter from ``seed``."""
    loading = recipe.loading()  # as the search held it (QLoRA: quantized again)
    base = load_base_model(recipe.model, data.task, data.label_names, seed=head_seed, loading=loading)
    _, base_parameters = count_parameters(base)
    config = adapter_config_file(export_dir, recipe.adapter_config)
    torch.manual_seed(seed)  # the adapter's first weights, as run_trial draws them
    model = load_adapter(base, export_dir, is_trainable=True, config_name=config.name)
    trainable, _ = count_parameters(model)
    return Built(model, config, trainable, base_parameters)


def score(
    model: nn.Module, splits: Splits, measured: dict[str, Any], batch_size: int, dtype: Any
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The trained model's scores on validation (and test), measured as the search measured
    them, beside what the search's proxy ``measured`` on the same validation rows; and the
    test rows' predictions, from the same pass (None without a test split)."""
    where = next(model.parameters()).device
    task = splits.data.task
    scores = {"validation": evaluate(model, splits.validation, batch_size, task, where, dtype)}
    kept = None
    if splits.test is not None:
        scores["test"], kept = scored_predictions(model, splits.test, splits.test_source, task, batch_size, dtype)
    return scores | {
        "test_source": splits.test_source,
        "test_examples": None if splits.test is None else len(splits.test),
        "validation_rows": len(splits.data.validation),
        "validation_digest": rows_digest(splits.data.validation),  # which rows: the study's, whatever the seed
        "proxy_validation": {k: v for k, v in measured.items() if k in scores["validation"]},
    }, kept


def run_facts(
    splits: Splits, built: Built, trained: Trained, options: TrainOptions, target: torch.device, dtype: Any
) -> dict[str, Any]:
    """What ran, for metrics.json: the training's course, the rows and sizes, the parameters,
    the device and precision."""
    return {
        "train_loss": trained.train_loss,
        "steps": trained.steps,
        "epochs": trained.epochs,
        "train_examples": len(splits.train),
        "validation_examples": len(splits.validation),
        "max_length": options.max_length,
        "batch_size": options.batch_size,
        "train_seconds": round(trained.seconds, 2),
        "resumed": trained.resumed,
        "trainable_params": built.trainable,
        "percent_of_base": round(100 * built.trainable / built.base_parameters, 4),
        "device": str(target),
        "precision": "bf16" if dtype == torch.bfloat16 else "fp32",
    }


def save_trained(model: nn.Module, config: Path, out_dir: Path, base_model: str) -> Path:
    """Save the trained adapter and head in the format of the exported ``config``, where
    ``load_adapter`` (or, for stock PEFT methods, ``PeftModel.from_pretrained``) reads them.
    A hybrid is a PeftModel too, but PEFT would save its PEFT part only: its format is autopeft's."""
    if config.name != AUTOPEFT_CONFIG:  # a stock PEFT export
        return save_peft_model(model, out_dir)
    point = Point.from_dict(json.loads(config.read_text())["point"])
    return save_adapter(model, point, out_dir, base_model)


def fitting_length(model: str, max_length: int | None) -> int:
    """``--max-length``, refused in one line above the model's position limit; not given, the
    default or the model's limit, whichever is shorter."""
    limit = model_position_limit(model)
    if max_length is None:
        return DEFAULT_MAX_LENGTH if limit is None else min(DEFAULT_MAX_LENGTH, limit)
    check_max_length(max_length, limit, "--max-length")
    return max_length


def schedule_length(options: TrainOptions) -> dict[str, Any]:
    """How far a run trains: its learning-rate schedule decays over that length, so a run's
    checkpoints continue only a run of the same length (a longer one would raise the rate again)."""
    return {"max_steps": options.max_steps, "epochs": None if options.max_steps else options.epochs}


def run_length(options: TrainOptions) -> dict[str, Any]:
    """How far a run trains and what it scores: a finished run asked for the same is not run again."""
    return schedule_length(options) | {"test": options.test}


def _earlier_run(file: Path, run: dict[str, Any]) -> dict[str, Any]:
    """``run.json`` as written before, in today's keys: runs before head_seed seeded the head
    with the trial's seed; runs before the length was kept have it under ``finished`` (or, not
    finished, are taken to be of the asked length)."""
    earlier = json.loads(file.read_text())
    earlier.setdefault("head_seed", earlier.get("seed"))
    for key in ("max_steps", "epochs"):
        earlier.setdefault(key, (earlier.get(FINISHED) or {}).get(key, run.get(key)))
    return earlier


def finished_metrics(out_dir: Path, run: dict[str, Any], length: dict[str, Any]) -> dict[str, Any] | None:
    """The metrics of the same run, trained to the same length into ``out_dir`` before, if it
    was: resuming a finished run would train past its length and overwrite its metrics."""
    files = out_dir / RUN_FILE, out_dir / METRICS_FILE
    if not all(file.is_file() for file in files):
        return None
    try:
        earlier, metrics = _earlier_run(files[0], run), json.loads(files[1].read_text())
    except ValueError:
        return None  # unreadable: train (again)
    same = all(earlier.get(key) == value for key, value in run.items())
    return upgraded_metrics(metrics) if same and earlier.get(FINISHED) == length else None


def _digest(export_dir: Path) -> str:
    """What identifies an export: its recipe and adapter configuration, byte for byte. A run's
    own files are not the export's (``train X --out X`` writes them there, and resumes)."""
    own = {RUN_FILE, METRICS_FILE, PREDICTIONS_FILE}
    files = sorted(
        p for p in export_dir.iterdir() if p.is_file() and p.suffix in (".yaml", ".json") and p.name not in own
    )
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()[:16]


def _claim(out_dir: Path, run: dict[str, Any]) -> None:
    """Mark ``out_dir`` as this run's; a rerun resumes its checkpoints only if it is the same run
    (another export, seed, batch size or length would continue weights trained otherwise)."""
    file = out_dir / RUN_FILE
    if any((out_dir / CHECKPOINTS).glob("checkpoint-*")) and file.is_file():
        earlier = _earlier_run(file, run)
        changed = [key for key in run if earlier.get(key) != run[key]]
        if changed:
            raise UsageError(
                f"--out: {out_dir} holds checkpoints of another run (it differs in {', '.join(changed)}). "
                "Fix: give a new --out, or delete that folder to start over"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(file, json.dumps(run, indent=2))  # not finished (again) until metrics.json is written


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
    return hashlib.sha256(json.dumps(rows.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _test_split(data: TaskData, data_spec: DataSpec, test: str, field: str) -> Any:
    """The held-out rows, shaped as the task shapes validation (labels mapped as train's) and
    checked to be neither train's rows nor the validation rows the study selected on; what is
    wrong with them is named as ``field``'s (``--test``, or the recipe's ``data.test``)."""
    if looks_like_file(test) and not Path(test).expanduser().is_file():
        raise UsageError(f"{field}: no file at {Path(test).expanduser()}. Fix: give the held-out rows' file")
    source = replace(data_spec.source(), validation=test, validation_fraction=None)
    rows = load_task_data(source, data_spec.make_task(), field=field).validation
    check_held_out(data.validation, rows, field, "the study's validation split")
    return rows
