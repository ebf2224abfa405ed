"""The recipe an export writes beside the adapter config and ``autopeft train`` reads: what the
trial trained with (model, data, rates, seeds, proxy budget) and what it measured.

Typed, so that export and train name each key once; and read leniently, so that a recipe.yaml
written by any earlier autopeft still trains: the keys later versions added are filled in one
place (``upgraded``), as those older exports meant them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field, field_serializer, model_validator

from autopeft.errors import UsageError
from autopeft.methods.io import adapter_config_file, configured_method
from autopeft.models.memory import ModelLoading
from autopeft.proxy.budget import Precision
from autopeft.spec import BudgetSpec, DataSpec
from autopeft.spec.build import resolve_data_paths
from autopeft.spec.errors import spec_error_from_validation
from autopeft.spec.model_options import ModelOptions
from autopeft.spec.yaml_io import read_yaml, write_yaml

RECIPE_FILE = "recipe.yaml"
logger = logging.getLogger(__name__)
# transformers' SchedulerType values that train with no scheduler arguments beyond the warmup
# (reduce_lr_on_plateau, cosine_with_min_lr, warmup_stable_decay and the like need more).
LrSchedule = Literal[
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt"
]
_AGAIN = "export the configuration again ('autopeft export STUDY --trial N --out DIR --force')"


def upgraded(raw: dict[str, Any]) -> dict[str, Any]:
    """A recipe an older export wrote, in today's keys, each filled as that export meant it: the
    one place that knows how the format changed. Keys added later that need no filling: labels
    (none: train checks no label order), adapter_config (none: the folder's one configuration),
    and task, id2label and label2id (derived from data and labels)."""
    filled = dict(raw)
    if "seed" in raw:  # before head_seed and data_seed, the trial's seed seeded the head and carved validation
        filled.setdefault("head_seed", raw["seed"])
        filled.setdefault("data_seed", raw["seed"])
    if "base_model_name_or_path" in raw:  # before base_model_local_path, this was the local path
        filled.setdefault("base_model_local_path", raw["base_model_name_or_path"])
    if isinstance(raw.get("study"), str):  # before study_name, the study's folder was named after it by default
        filled.setdefault("study_name", Path(raw["study"]).name)
    budget = raw.get("proxy_budget", {})  # budgets before precision trained in auto
    filled["proxy_budget"] = {"precision": "auto", **budget} if isinstance(budget, dict) else budget
    return filled


class RecipeHyperparameters(BaseModel):
    """The trial's optimizer settings: full training uses the same rates and schedule."""

    model_config = ConfigDict(frozen=True)

    learning_rate: float = Field(gt=0)  # the spec's own limits: an edited recipe is held to them too
    head_learning_rate: float = Field(gt=0)
    lr_schedule: LrSchedule
    warmup_ratio: float = Field(ge=0, lt=1)
    weight_decay: float = Field(ge=0)
    max_grad_norm: float = Field(gt=0)
    optimizer: Literal["adamw"]  # the one train builds (torch's AdamW): another would be a promise not kept


class RecipeBudget(BaseModel):
    """The search's proxy budget as the study's spec gave it. Train reads its precision (full
    training computes as the search did) and how a step is split and held in memory, typed as the
    spec types them (recipes before those keys trained with neither); the other keys are for the
    user, kept as written."""

    model_config = ConfigDict(frozen=True, extra="allow")

    precision: Precision
    gradient_accumulation: int = Field(default=1, ge=1)
    gradient_checkpointing: bool = False


class RecipeSearch(BaseModel):
    """The search that chose the configuration, for the trained folder's model card."""

    model_config = ConfigDict(frozen=True)

    name: str  # the spec's name
    sampler: str
    trials: int  # trials that counted when it was exported
    objectives: list[str]


class Recipe(BaseModel):
    """What ``recipe.yaml`` holds. ``seed`` seeded the trial's adapter and batch order,
    ``head_seed`` the fresh task head, ``data_seed`` the carving of validation rows from train.
    What train does not read (the study, the method) may be missing."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    study: str | None = None  # the study folder it came from
    study_name: str | None = None  # its spec's name: train --report-to logs into the experiment of that name
    tracking: dict[str, dict[str, str]] | None = None  # the study's tracker runs (MLflow parent run id, W&B group)
    trial: int | None = None  # the export's source: a trial, or
    reference: str | None = None  # one of the study's references
    model: str
    model_options: ModelOptions | None = None  # dtype and quantization the search loaded it with (none: as stored)
    base_model_name_or_path: str  # a hub id where there is one: it travels
    base_model_local_path: str
    data: DataSpec
    labels: list[str] | None = None  # classification: head output i is labels[i]
    method: str | None = None
    adapter_config: str | None = None  # the configuration file train loads (older exports: the one there)
    hyperparameters: RecipeHyperparameters
    proxy_budget: RecipeBudget
    seed: int
    head_seed: int
    data_seed: int
    measured: dict[str, Any]  # the search's one proxy run
    confirmed: dict[str, Any] | None = None  # the confirmation stage's runs of it, where it ran: the numbers to trust
    search: RecipeSearch | None = None  # exports before the model card: not known

    @computed_field  # type: ignore[prop-decorator]
    @property
    def task(self) -> str:
        """The data's task, at the top for the user's tools."""
        return self.data.task

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id2label(self) -> dict[int, str] | None:
        """The labels as transformers' model configs spell them."""
        return None if self.labels is None else dict(enumerate(self.labels))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label2id(self) -> dict[str, int] | None:
        """The inverse of ``id2label``."""
        return None if self.labels is None else {name: i for i, name in enumerate(self.labels)}

    def loading(self) -> ModelLoading:
        """How the search held the base model, so full training holds it the same way."""
        return ModelLoading(**(self.model_options.model_dump() if self.model_options is not None else {}))

    def check_method(self, folder: Path) -> None:
        """Refuse a ``method`` that is not the one the adapter configuration it names builds:
        train trains the configuration, and the trained folder's card would name the recipe's."""
        config = adapter_config_file(folder, self.adapter_config)
        configured = configured_method(config)
        if self.method is not None and self.method != configured:
            raise UsageError(
                f"train: {folder / RECIPE_FILE}: method: {self.method}, but {config.name} configures "
                f"{configured}. Fix: {_AGAIN}"
            )

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, raw: Any) -> Any:
        return upgraded(raw) if isinstance(raw, dict) else raw

    @field_serializer("data")
    def _data_as_the_spec_gives_it(self, data: DataSpec) -> dict[str, Any]:
        return data.model_dump(exclude_none=True)

    def write(self, folder: Path) -> Path:
        """Write ``recipe.yaml`` into ``folder``; the source not taken (trial or reference) is left out."""
        fields = self.model_dump()
        for source in ("trial", "reference"):
            if fields[source] is None:
                del fields[source]
        write_yaml(folder / RECIPE_FILE, fields)
        return folder / RECIPE_FILE

    @classmethod
    def read(cls, folder: Path) -> Recipe:
        """The recipe in ``folder``; a missing file, a missing key or a wrong value is one line
        naming the file and the key."""
        file = folder / RECIPE_FILE
        if not file.is_file():
            raise UsageError(
                f"train: {folder} holds no {RECIPE_FILE}. Fix: give the folder written by "
                "'autopeft export STUDY --trial N --out DIR'"
            )
        raw = read_yaml(file)
        try:
            recipe = cls.model_validate({} if raw is None else raw)
        except ValidationError as error:
            missing = [".".join(map(str, e["loc"])) for e in error.errors() if e["type"] == "missing"]
            if missing:
                raise UsageError(f"train: {file} lacks {', '.join(missing)}. Fix: {_AGAIN}") from None
            raise spec_error_from_validation(error, cls, str(file)) from None
        recipe = recipe.model_copy(update={"data": resolve_data_paths(recipe.data, folder)})  # an edit's ./x.jsonl
        unread = unread_keys(raw)
        if unread:  # a typo would be silently ignored; a newer autopeft's key may be, but says so
            logger.warning(
                "%s: %s not read by this autopeft (a typo? or written by a newer version); training ignores %s",
                file,
                ", ".join(unread),
                "them" if len(unread) > 1 else "it",
            )
        return recipe


def unread_keys(raw: dict[str, Any]) -> list[str]:
    """The keys of a recipe that this autopeft does not read, dotted (``hyperparameters.momentum``):
    at the top, in the hyperparameters, and in the proxy budget, where the spec's own budget keys
    are kept for the user and so are not unread."""
    known = {
        "": {*Recipe.model_fields, *Recipe.model_computed_fields},
        "hyperparameters.": set(RecipeHyperparameters.model_fields),
        "proxy_budget.": {*RecipeBudget.model_fields, *BudgetSpec.model_fields},
    }
    parts = {"": raw, "hyperparameters.": raw.get("hyperparameters"), "proxy_budget.": raw.get("proxy_budget")}
    return [
        prefix + key
        for prefix, part in parts.items()
        if isinstance(part, dict)
        for key in sorted(set(part) - known[prefix])
    ]
