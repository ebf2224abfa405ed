"""Saving and loading adapters.

A point of one method that stock PEFT builds (its registry definition has a ``peft_config``:
LoRA/DoRA/rsLoRA, IA3, LayerNorm tuning, ...) is saved as a plain PEFT adapter:
``adapter_config.json`` (+ ``adapter_model.safetensors``), loadable with
``peft.PeftModel.from_pretrained``. Anything else (methods the package injects, such as
bottleneck adapters, prefix tuning and bias tuning, and hybrids) is saved in the autopeft format:

- ``autopeft_adapter.json``: ``{"format": "autopeft-adapter", "version": 1,
  "base_model_name_or_path": ..., "head_modules": [...], "point": {"method", "components":
  [{"method", "settings"}], "hyperparameters"}}``, the settings naming full module names;
- ``autopeft_adapter.safetensors`` (when weights were saved): every trainable tensor of the
  adapted model, keyed by its parameter name.

``load_adapter(model, folder)`` reads either format onto a fresh base model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopeft.data.atomic import replacing, write_atomic
from autopeft.errors import AutopeftError
from autopeft.methods.build import build_model, is_pure_peft, peft_config_for
from autopeft.models.arch import head_module_names, peft_task_type
from autopeft.models.quiet import library_rename_warnings_off
from autopeft.space.base import Point

if TYPE_CHECKING:
    from torch import nn

AUTOPEFT_CONFIG = "autopeft_adapter.json"
AUTOPEFT_WEIGHTS = "autopeft_adapter.safetensors"
PEFT_CONFIG = "adapter_config.json"
FORMAT = "autopeft-adapter"
VERSION = 1


def peft_config_dict(point: Point, head_modules: list[str], task_type: str = "SEQ_CLS") -> dict[str, Any]:
    """What PEFT's ``save_pretrained`` writes for a pure-PEFT point (sets as lists), with no base
    model named: a study keeps it per trial, so that export writes it without loading PEFT."""
    output = peft_config_for(point, head_modules, None, task_type).to_dict()
    return {key: list(value) if isinstance(value, set) else value for key, value in output.items()}


def write_adapter_config(
    point: Point,
    head_modules: list[str],
    out_dir: str | Path,
    base_model: str | None,
    task_type: str = "SEQ_CLS",
    peft_config: dict[str, Any] | None = None,
) -> Path:
    """The config alone (no weights), for full training from scratch; returns the file written.

    ``task_type`` is PEFT's: SEQ_CLS (classification, regression) or CAUSAL_LM. ``peft_config``:
    the point's ``peft_config_dict`` as the study kept it (built with PEFT when not given).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if is_pure_peft(point):
        config = (peft_config or peft_config_dict(point, head_modules, task_type)) | {
            "base_model_name_or_path": base_model
        }
        write_atomic(out / PEFT_CONFIG, json.dumps(config, indent=2, sort_keys=True))  # as save_pretrained writes it
        return out / PEFT_CONFIG
    description = {
        "format": FORMAT,
        "version": VERSION,
        "base_model_name_or_path": base_model,
        "head_modules": list(head_modules),
        "task_type": task_type,
        "point": point.to_dict(),
    }
    write_atomic(out / AUTOPEFT_CONFIG, json.dumps(description, indent=2))
    return out / AUTOPEFT_CONFIG


def save_adapter(model: nn.Module, point: Point, out_dir: str | Path, base_model: str | None = None) -> Path:
    """Save a model built by ``build_model`` (config and trained weights)."""
    out = Path(out_dir)
    if is_pure_peft(point):
        return save_peft_model(model, out)
    from safetensors.torch import save_file

    write_adapter_config(point, head_module_names(model), out, base_model, peft_task_type(model))
    tensors = {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}
    with replacing(out / AUTOPEFT_WEIGHTS) as partial:  # a kill mid-save keeps the older weights
        save_file(tensors, str(partial))
    return out


def save_peft_model(model: nn.Module, out_dir: str | Path) -> Path:
    """PEFT's ``save_pretrained``, its ``modules_to_save`` naming each head module of the model
    once: PEFT's sequence-classification model appends ``classifier`` and ``score`` to the list
    it is given, and saves ``['classifier', 'classifier', 'score']`` for a BERT."""
    out = Path(out_dir)
    model.save_pretrained(str(out))
    file = out / PEFT_CONFIG
    config = json.loads(file.read_text())
    names = [name for name, _ in model.get_base_model().named_modules()]
    listed = dict.fromkeys(config.get("modules_to_save") or [])  # PEFT matches a name or a name's end
    present = [entry for entry in listed if any(n == entry or n.endswith(f".{entry}") for n in names)]
    config["modules_to_save"] = present or None
    file.write_text(json.dumps(config, indent=2, sort_keys=True))  # as save_pretrained writes it
    return out


def adapter_config_file(folder: Path, named: str | None = None) -> Path:
    """The one adapter configuration in ``folder`` (``named``: the one a recipe names).

    A folder holding both formats is refused: which one it means cannot be told, and taking
    either could silently train a stale configuration.
    """
    present = [name for name in (AUTOPEFT_CONFIG, PEFT_CONFIG) if (folder / name).is_file()]
    if named is not None:
        if named not in present:
            raise AutopeftError(f"{folder}: the recipe names {named}, which is not there. Fix: export again")
        return folder / named
    if len(present) > 1:
        raise AutopeftError(
            f"{folder}: holds both {AUTOPEFT_CONFIG} and {PEFT_CONFIG}, so which adapter it means is unclear. "
            "Fix: export into an empty folder (autopeft export ... --force replaces a folder's contents)"
        )
    if not present:
        raise AutopeftError(
            f"{folder}: no {AUTOPEFT_CONFIG} or {PEFT_CONFIG} there. Fix: give a folder written by export"
        )
    return folder / present[0]


# autopeft names its PEFT-built methods as PEFT names their types (lora, ia3, vera), but one
PEFT_TYPE_NAMES = {"ln_tuning": "layernorm"}


def configured_method(config: Path) -> str:
    """The method an adapter configuration file builds: an autopeft one's point's, a stock PEFT
    one's ``peft_type`` in autopeft's name for it."""
    description = json.loads(config.read_text())
    if config.name == AUTOPEFT_CONFIG:
        return Point.from_dict(description["point"]).method
    peft_type = str(description.get("peft_type", "")).lower()
    return PEFT_TYPE_NAMES.get(peft_type, peft_type)


def load_adapter(
    model: nn.Module, folder: str | Path, is_trainable: bool = False, config_name: str | None = None
) -> nn.Module:
    """Put the adapter saved in ``folder`` onto ``model`` (a base model, changed in place).

    A folder from ``export`` holds a config only: the adapter starts fresh, for full
    training. As with ``PeftModel.from_pretrained``, the result is frozen unless ``is_trainable``.
    ``config_name`` picks the configuration file a recipe names.
    """
    folder = Path(folder)
    if adapter_config_file(folder, config_name).name == AUTOPEFT_CONFIG:
        adapted = _load_autopeft(model, folder)
        if not is_trainable:
            adapted.requires_grad_(False)
        return adapted
    from peft import PeftConfig, PeftModel, get_peft_model

    with library_rename_warnings_off():
        if not any(folder.glob("adapter_model.*")):  # an exported config: fresh adapter weights
            config = PeftConfig.from_pretrained(str(folder))
            config.base_model_name_or_path = None  # the hub id it names is this local base: nothing was renamed
            adapted = get_peft_model(model, config)
            return adapted if is_trainable else adapted.requires_grad_(False)
        return PeftModel.from_pretrained(model, str(folder), is_trainable=is_trainable)


def _load_autopeft(model: nn.Module, folder: Path) -> nn.Module:
    description: dict[str, Any] = json.loads((folder / AUTOPEFT_CONFIG).read_text())
    if description.get("format") != FORMAT or description.get("version", 0) > VERSION:
        raise AutopeftError(
            f"{folder / AUTOPEFT_CONFIG}: format {description.get('format')} v{description.get('version')} "
            f"is not {FORMAT} v{VERSION}. Fix: upgrade autopeft"
        )
    adapted = build_model(model, Point.from_dict(description["point"]), copy_base=False)
    weights = folder / AUTOPEFT_WEIGHTS
    if weights.is_file():
        from safetensors.torch import load_file

        tensors = load_file(str(weights))
        known = {name for name, _ in adapted.named_parameters()}
        missing = [name for name in tensors if name not in known]
        if missing:
            raise AutopeftError(
                f"{weights}: {len(missing)} tensors do not fit this model (first: {missing[0]}). "
                "Fix: load onto the base model the adapter was trained on"
            )
        adapted.load_state_dict(tensors, strict=False)
    return adapted
