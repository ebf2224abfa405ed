"""The study spec's schema (pydantic): one YAML file (or the same as Python objects) says
everything a search needs. Unknown keys are errors, never ignored. ``spec.build`` reads and
validates one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from autopeft.data.source import Columns, DataSource
from autopeft.errors import SpecError
from autopeft.methods import find_method
from autopeft.proxy.budget import Precision, ProxyBudget
from autopeft.proxy.score_names import DEFAULT_SCORE, ScoreName
from autopeft.space.language import ConstraintSpec, Role
from autopeft.space.language import Strict as _Strict
from autopeft.spec.custom_metrics import CustomMetricSpec, check_custom_metrics, custom_metrics, lift_custom_objectives
from autopeft.spec.model_options import ModelOptions
from autopeft.spec.rate_grids import expand_rate_grids
from autopeft.spec.space import DEFAULT_METHOD, SpaceSpec
from autopeft.spec.text_fields import ModuleRegex, PromptTemplate
from autopeft.tasks.kinds import TASK_KINDS

if TYPE_CHECKING:
    from autopeft.tasks import Task


def _kernel_fields(kernel_type: type) -> set[str]:
    return {f.name for f in fields(kernel_type)}


class DataSpec(_Strict):
    """Where the examples are, which task they pose, and which columns hold what; the
    kernel's forms are ``source()`` and ``make_task()``."""

    task: Literal["classification", "regression", "causal_lm"] = Field(
        default="classification",
        description="classification (one or two texts -> a class), regression (-> a number, STS-B style), "
        "causal_lm (prompt -> response, loss on the response only)",
    )
    train: str = Field(description="local json/jsonl/csv/parquet file, a save_to_disk folder, or a hub dataset id")
    validation: str | None = Field(
        default=None, description="local file or folder, or a split name of the train dataset (hub or folder)"
    )
    subset: str | None = Field(default=None, description="hub dataset configuration, e.g. sst2")
    train_split: str = Field(
        default=DataSource.train_split, description="split of a hub dataset or save_to_disk folder to train on"
    )
    validation_fraction: float | None = Field(
        default=None, gt=0, lt=1, description="carve validation from train (seeded) instead"
    )
    test: str | None = Field(
        default=None,
        description="held-out rows the search never reads: `autopeft train` scores full trainings on them "
        "(a file, or a split name of the train source)",
    )
    text: str = Columns.text
    text_pair: str | None = Columns.text_pair
    label: str = Columns.label
    prompt: str = Field(default=Columns.prompt, description="causal_lm: the prompt column")
    prompt_template: PromptTemplate | None = Field(
        default=Columns.prompt_template,
        description="causal_lm: the prompt built from columns, e.g. '### Question: {question}\\n### Answer: '",
    )
    response: str = Field(default=Columns.response, description="causal_lm: the response column (the loss is on it)")
    metrics: dict[str, CustomMetricSpec] = Field(
        default_factory=dict,
        description="custom metrics by name, computed on every validation and test pass (objectives name them)",
    )

    @model_validator(mode="after")
    def _has_validation(self) -> DataSpec:
        self.source()  # raises when neither validation nor validation_fraction is given
        return self

    def source(self) -> DataSource:
        """Where the examples are, as the data loaders take it."""
        return DataSource(**self.model_dump(include=_kernel_fields(DataSource)))

    def make_task(self) -> Task:
        """The task the data poses, reading its columns."""
        from autopeft.tasks import task_for  # on use: the tasks import torch

        check_custom_metrics(self.metrics, self.task)  # before any data or model loads (train, a Ray worker)
        columns = Columns(**self.model_dump(include=_kernel_fields(Columns)))
        return task_for(self.task, columns, custom_metrics(self.metrics))


class SuccessiveHalvingSpec(_Strict):
    """Multi-fidelity: score trials at rungs of their steps and stop the weaker ones early."""

    eta: int = Field(default=3, ge=2, description="keep the best 1/eta at each rung")
    min_fraction: float = Field(default=1 / 3, gt=0, lt=1, description="first rung, as a fraction of steps")


class ImportanceSpec(_Strict):
    """Narrow the placement search before any trial: score every module the space may place
    on a few batches (by first-order Taylor |W*G| unless ``score`` says otherwise: the score
    that ranked MiniLM's SST-2 modules best, by a small margin, on benchmarks/importance.py),
    and switch off the least important.

    (Written ``prune:`` before; that key is still accepted. "Pruned" now means only what
    optuna means by it: a trial that successive halving stopped early.)"""

    score: ScoreName = Field(
        default=DEFAULT_SCORE,
        description="how modules are ranked (see autopeft.proxy.importance): first-order Taylor |W*G|, gradient "
        "energy, diagonal Fisher, the gradient reaching a fresh LoRA B, or random (a control)",
    )
    use: Literal["prune", "prior"] = Field(
        default="prune",
        description="prune: switch off all but the top `keep` fraction; prior: switch nothing off, and draw the "
        "first (random) trials' placements with a probability rising with importance (mobo only)",
    )
    keep: float = Field(default=0.5, gt=0, le=1, description="fraction of the placeable modules kept searchable")
    batches: int = Field(default=16, ge=1, description="training batches the scores are averaged over")
    head_warmup_steps: int = Field(
        default=100, ge=0, description="steps that train a fresh task head first (scores with a random head mislead)"
    )

    @model_validator(mode="after")
    def _keep_is_prunes(self) -> ImportanceSpec:
        if self.use == "prior" and self.keep != ImportanceSpec.model_fields["keep"].default:
            raise SpecError(
                "importance.keep", "a prior switches nothing off, so keep has no effect", "drop keep, or use: prune"
            )
        return self


class BudgetSpec(_Strict):
    """The cheap proxy training every trial gets; the kernel's form is ``proxy()``."""

    # The default proxy (ProxyBudget's defaults), chosen with benchmarks/proxy_fidelity.py (see the README).
    steps: int = Field(default=ProxyBudget.steps, ge=1)
    batch_size: int = Field(default=ProxyBudget.batch_size, ge=1)
    max_length: int = Field(default=ProxyBudget.max_length, ge=8)
    train_examples: int | None = Field(
        default=ProxyBudget.train_examples, ge=1, description="subset of train; all if unset"
    )
    eval_examples: int | None = Field(
        default=ProxyBudget.eval_examples, ge=1, description="subset of validation; all if unset"
    )
    warmup_ratio: float = Field(default=ProxyBudget.warmup_ratio, ge=0, lt=1)
    weight_decay: float = Field(default=ProxyBudget.weight_decay, ge=0)
    precision: Precision = Field(
        default=ProxyBudget.precision, description="auto: bf16 autocast on GPUs that support it, fp32 otherwise"
    )
    gradient_accumulation: int = Field(
        default=ProxyBudget.gradient_accumulation,
        ge=1,
        description="micro-batches per step: batch_size rows still make one step, in less memory",
    )
    gradient_checkpointing: bool = Field(
        default=ProxyBudget.gradient_checkpointing, description="recompute activations: less memory, slower steps"
    )
    successive_halving: SuccessiveHalvingSpec | None = Field(
        default=None, description="multi-fidelity schedule; off (every trial trains all steps) if unset"
    )
    hours: float | None = Field(
        default=None,
        gt=0,
        description="wall-clock budget of one run: no new trial starts after it, running ones finish, "
        "--resume continues; unlimited if unset",
    )

    @model_validator(mode="after")
    def _micro_batches_fit(self) -> BudgetSpec:
        if self.gradient_accumulation > self.batch_size:
            raise ValueError(
                f"gradient_accumulation {self.gradient_accumulation} splits a batch of {self.batch_size} rows "
                "into empty micro-batches; give at most batch_size"
            )
        return self

    def proxy(self) -> ProxyBudget:
        """The budget as the proxy trainer takes it (successive halving is the search loop's)."""
        return ProxyBudget(**self.model_dump(include=_kernel_fields(ProxyBudget)))


class ConfirmSpec(_Strict):
    """The confirmation stage: after the search, the most promising configurations of the front
    (chosen by a GP's posterior mean, not by their one lucky score) and the tuned references
    train again with new seeds, and the answer reports their means."""

    candidates: int = Field(default=4, ge=1, description="front configurations to confirm, spread along it")
    seeds: int = Field(default=2, ge=1, description="new seeds each (the search's own run is not counted)")
    steps: int | None = Field(default=None, ge=1, description="steps of each run; the proxy's steps if unset")


class ExecutorSpec(_Strict):
    """Where trials run: one at a time in this process, or in parallel on Ray workers."""

    kind: Literal["local", "ray"] = Field(default="local", description="local (this process) or ray (a Ray cluster)")
    address: str | None = Field(
        default=None,
        description="ray: 'auto' (the cluster this machine joined), 'ray://host:port', or unset to start a local Ray",
    )
    workers: int | None = Field(
        default=None, ge=1, description="ray: trials at once (default: as many as the cluster's CPUs and GPUs hold)"
    )
    cpus_per_trial: float = Field(default=1.0, gt=0, description="ray: CPUs each trial reserves")
    gpus_per_trial: float | None = Field(  # at most 1: a trial trains on one GPU (spec/errors.py says why)
        default=None,
        ge=0,
        le=1,
        description="ray: GPU share each trial reserves, at most 1 (0.5: two per GPU; default: 1 if there are GPUs)",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_kind(cls, raw: Any) -> Any:
        return {"kind": raw} if isinstance(raw, str) else raw

    @model_validator(mode="after")
    def _ray_options_need_ray(self) -> ExecutorSpec:
        given = [n for n, f in ExecutorSpec.model_fields.items() if n != "kind" and getattr(self, n) != f.default]
        if self.kind == "local" and given:
            raise ValueError(f"{given[0]} is for the ray executor: set `kind: ray` or remove `{given[0]}`")
        return self


class StudySpec(_Strict):
    """Everything one search needs."""

    written_as: ClassVar[dict[str, str]] = {"model_options": "model"}  # for errors: the key the user wrote

    name: str = "study"
    model: str = Field(default="minilm", description="'minilm' (packaged), a local folder or a hub id")
    model_options: ModelOptions = Field(
        default_factory=ModelOptions,
        description="dtype and quantization (written as `model: {path: ..., dtype: ..., quantization: ...}` too)",
    )
    data: DataSpec
    space: SpaceSpec = Field(
        default_factory=lambda: SpaceSpec(components=[{"method": DEFAULT_METHOD}]),
        description="a space (see autopeft.spec.space), or the name or path of a preset in search_spaces/",
    )
    roles: dict[Role, ModuleRegex] | None = Field(
        default=None, description="map roles to module names by hand: role -> regex of a name relative to a layer"
    )
    objectives: list[str] = Field(
        default_factory=lambda: ["accuracy", "trainable_params"],
        description="objective names (metric = the task's metric) or a preset of objectives/ (default: default); "
        "the task metric comes first",
    )
    budget: BudgetSpec = BudgetSpec()
    importance: ImportanceSpec | None = Field(
        default=None,
        validation_alias=AliasChoices("importance", "prune"),
        description="switch off the least important per-layer placements before the search (off if unset; "
        "`prune:` is an accepted alias)",
    )
    constraints: ConstraintSpec = ConstraintSpec()
    trials: int = Field(default=10, ge=1)
    sampler: Literal["mobo", "tpe", "random", "nsga2"] = "mobo"
    executor: ExecutorSpec = Field(
        default_factory=ExecutorSpec, description="local (default) or ray; may change when a study is resumed"
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="trials seed seed + N: numpy wants them below 2**32")
    warm_start: str | None = Field(
        default=None, description="earlier study folder whose Pareto configurations are tried first"
    )
    start_at_center: bool = Field(
        default=True,
        description="make the first trial the space's centre (every module placed, middle sizes, mid learning "
        "rates): what a practitioner tries first, and a corner a random initial design misses; "
        "not with warm_start",
    )
    study_dir: str | None = Field(default=None, description="folder for the study; autopeft-runs/NAME if unset")
    confirm: ConfirmSpec | bool | None = Field(  # true/false are read as on/off (below); never stored as such
        default_factory=ConfirmSpec, description="the confirmation stage's size; false turns it off"
    )
    references: dict[str, SpaceSpec] = Field(
        default_factory=dict,
        description="name -> one fixed configuration (a space with one value everywhere), trained once with "
        "the proxy and shown beside the Pareto set: what the search must beat, e.g. LoRA r=8 on q,v",
    )

    @field_validator("name")
    @classmethod
    def _a_folder_name(cls, name: str) -> str:
        """The study's folder under autopeft-runs/: one name, never a path out of it or the folder itself."""
        if name.strip() in ("", ".", "..") or any(c in name for c in "/\\\0"):
            raise ValueError(
                f"{name!r} is not one folder name (the study goes to autopeft-runs/NAME). Fix: use letters, "
                "digits, '-' or '_' (e.g. sst2-lora), or set study_dir for a folder elsewhere"
            )
        return name

    @field_validator("confirm", mode="before")
    @classmethod
    def _confirm_on_or_off(cls, confirm: Any) -> Any:
        if isinstance(confirm, bool):
            return ConfirmSpec() if confirm else None
        if confirm is not None and not isinstance(confirm, (Mapping, ConfirmSpec)):  # "yes", 1: not coerced
            raise ValueError(f"got {confirm!r}. Fix: write true, false or its keys (candidates, seeds, steps)")
        return confirm

    @field_validator("references", mode="before")
    @classmethod
    def _one_configuration_each(cls, references: Any) -> Any:
        """A reference is one configuration: per-layer choices default to off, and a single
        rank, width or token count may be written without a list."""
        if not isinstance(references, Mapping):
            return references
        for name in references:
            if not isinstance(name, str) or not _REFERENCE_NAME.fullmatch(name):
                raise ValueError(
                    f"reference name {name!r}: use lower-case letters, digits, '-', '_' or '.' (e.g. lora-r8-qv)"
                )
        return {name: _fixed_form(raw) for name, raw in expand_rate_grids(references).items()}

    @field_validator("space", mode="before")
    @classmethod
    def _preset(cls, space: Any) -> Any:
        if isinstance(space, str):
            from autopeft.spec.presets import load_space_preset

            return load_space_preset(space)
        return space

    @model_validator(mode="before")
    @classmethod
    def _model_as_mapping(cls, raw: Any) -> Any:
        """``model: {path: NAME, dtype: bf16, quantization: 4bit}`` is ``model: NAME`` with
        ``model_options``."""
        if isinstance(raw, dict) and isinstance(raw.get("model"), dict):
            options = dict(raw["model"])
            if "path" not in options:
                raise SpecError("model", "a mapping needs `path`", "write model: {path: NAME_OR_FOLDER, dtype: bf16}")
            if raw.get("model_options"):  # two places for one setting: which one wins would be a guess
                raise SpecError("model_options", "given beside model: {path, ...}", "write the options in one of them")
            return raw | {"model": options.pop("path"), "model_options": options}
        return raw

    @model_validator(mode="before")
    @classmethod
    def _concrete_objectives(cls, raw: Any) -> Any:
        """Objectives as a list of known names, right for the task (stored so in the study)."""
        from autopeft.spec.objectives import resolve_objectives

        if not isinstance(raw, dict):
            return raw
        data = raw.get("data")
        task_name = data.get("task", "classification") if isinstance(data, dict) else getattr(data, "task", None)
        task = TASK_KINDS.get(task_name) if isinstance(task_name, str) else None
        if task is None:
            return raw  # the data field reports the problem
        raw, custom = lift_custom_objectives(raw, task.name)
        objectives = raw.get("objectives", "default")
        if not isinstance(objectives, (str, list)) or not objectives:
            raise SpecError(
                "objectives", "no objectives", "give a preset name or a list such as [metric, trainable_params]"
            )
        if isinstance(objectives, list) and not all(isinstance(name, str) for name in objectives):
            raise SpecError(
                "objectives", f"{objectives!r} is not a list of names", "write e.g. [metric, trainable_params]"
            )
        return raw | {
            "objectives": resolve_objectives(objectives, task.metrics, task.default_metric, task.name, custom)
        }

    @model_validator(mode="after")
    def _prior_needs_mobo(self) -> StudySpec:
        if self.importance is not None and self.importance.use == "prior" and self.sampler != "mobo":
            raise SpecError(
                "importance.use",
                f"'prior' leans mobo's first trials, and sampler {self.sampler} has none",
                "use sampler: mobo, or importance.use: prune",
            )
        return self


_REFERENCE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


def _fixed_form(raw: Any) -> Any:
    """A reference's space with per-layer flags off unless said, and sizes as one-value lists
    (each method's schema names its flags and sizes)."""
    if not isinstance(raw, Mapping):
        return raw
    if "components" in raw:
        return dict(raw) | {"components": [_fixed_form(c) for c in raw["components"]]}
    found = find_method(raw.get("method", DEFAULT_METHOD))
    return found.schema.fixed_form(raw) if found is not None else dict(raw)


def reference_space(raw: Mapping[str, Any]) -> SpaceSpec:
    """One ``references:`` entry read as a spec reads it (per-layer flags off, a single size
    without a list): a benchmark or script names a configuration the way a study does."""
    return SpaceSpec.model_validate(_fixed_form(raw))
