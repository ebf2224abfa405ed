"""The study spec: one YAML file (or the same as Python objects) says everything a search needs.

Unknown keys are errors, never ignored; file paths are resolved against the spec's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from autopeft.errors import SpecError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    """A numeric interval to search; ``log`` samples it on a log scale (learning rates)."""

    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log-scale range needs low > 0")
        return self


class DataSpec(_Strict):
    """Where the examples are and which columns hold text and labels."""

    train: str = Field(description="local json/jsonl/csv/parquet file, or a hub dataset id")
    validation: str | None = Field(default=None, description="local file, or a split name of a hub dataset")
    subset: str | None = Field(default=None, description="hub dataset configuration, e.g. sst2")
    validation_fraction: float | None = Field(default=None, gt=0, lt=1)
    text: str = "sentence"
    text_pair: str | None = None
    label: str = "label"

    @model_validator(mode="after")
    def _has_validation(self) -> DataSpec:
        if self.validation is None and self.validation_fraction is None:
            raise ValueError("give `validation` (a file or split) or `validation_fraction`")
        return self


class LoraSpaceSpec(_Strict):
    """LoRA with per-layer placement, per-layer rank and learning rates."""

    method: Literal["lora"] = "lora"
    modules: list[Literal["q", "k", "v", "o", "ffn_up", "ffn_gate", "ffn_down"]] = ["q", "v"]
    layers: Literal["all"] | list[int] = "all"
    per_layer_placement: bool = True
    rank: list[int] = [2, 4, 8, 16]
    per_layer_rank: bool = True
    alpha_ratio: float | Range = 2.0
    dropout: float | Range = 0.0
    learning_rate: float | Range = Range(low=1e-4, high=5e-3, log=True)
    head_learning_rate: float | Range = Range(low=1e-3, high=2e-2, log=True)

    @field_validator("rank")
    @classmethod
    def _positive_ranks(cls, ranks: list[int]) -> list[int]:
        if not ranks or any(r < 1 for r in ranks):
            raise ValueError("ranks must be a non-empty list of positive integers")
        return sorted(set(ranks))

    @field_validator("modules")
    @classmethod
    def _some_modules(cls, modules: list[str]) -> list[str]:
        if not modules:
            raise ValueError("list at least one module role")
        return list(dict.fromkeys(modules))


class SuccessiveHalvingSpec(_Strict):
    """Multi-fidelity: score trials at rungs of their steps and stop the weaker ones early."""

    eta: int = Field(default=3, ge=2, description="keep the best 1/eta at each rung")
    min_fraction: float = Field(default=1 / 3, gt=0, lt=1, description="first rung, as a fraction of steps")


class BudgetSpec(_Strict):
    """The cheap proxy training every trial gets."""

    steps: int = Field(default=60, ge=1)
    batch_size: int = Field(default=16, ge=1)
    max_length: int = Field(default=64, ge=8)
    train_examples: int | None = Field(default=None, ge=1, description="subset of train; all if unset")
    eval_examples: int | None = Field(default=None, ge=1, description="subset of validation; all if unset")
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1)
    weight_decay: float = Field(default=0.0, ge=0)
    successive_halving: SuccessiveHalvingSpec | None = Field(
        default=None, description="multi-fidelity schedule; off (every trial trains all steps) if unset"
    )


class ConstraintSpec(_Strict):
    """Limits a configuration must respect; checked exactly before any training."""

    max_trainable_params: int | None = Field(default=None, ge=1)
    max_trainable_percent: float | None = Field(default=None, gt=0, le=100)


class StudySpec(_Strict):
    """Everything one search needs."""

    name: str = "study"
    model: str = Field(default="minilm", description="'minilm' (packaged), a local folder or a hub id")
    data: DataSpec
    space: LoraSpaceSpec = LoraSpaceSpec()
    objectives: list[Literal["accuracy", "trainable_params"]] = ["accuracy", "trainable_params"]
    budget: BudgetSpec = BudgetSpec()
    constraints: ConstraintSpec = ConstraintSpec()
    trials: int = Field(default=10, ge=1)
    sampler: Literal["mobo", "tpe", "random", "nsga2"] = "mobo"
    seed: int = 0
    warm_start: str | None = Field(
        default=None, description="earlier study folder whose Pareto configurations are tried first"
    )
    study_dir: str | None = Field(default=None, description="folder for the study; autopeft-runs/NAME if unset")

    @field_validator("objectives")
    @classmethod
    def _distinct_objectives(cls, objectives: list[str]) -> list[str]:
        if len(set(objectives)) != len(objectives) or not objectives:
            raise ValueError("list each objective once")
        return objectives


_FIXES = {
    "extra_forbidden": "remove it or correct its spelling",
    "missing": "add it",
    "literal_error": "use one of the allowed values",
}


def _field_name(loc: tuple[Any, ...]) -> str:
    # pydantic puts union members' tags into the location ("Range", "float",
    # "function-after[...]", "list[int]"): keep only the user's keys and list indices.
    def is_tag(part: Any) -> bool:
        return isinstance(part, str) and (part[:1].isupper() or "[" in part or part in ("float", "int", "str", "bool"))

    parts = [str(p) for p in loc if not is_tag(p)]
    return ".".join(parts) or "(top level)"


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed where an unknown key was found, for the error message."""
    current: Any = model
    for part in loc[:-1]:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        candidates = getattr(annotation, "__args__", (annotation,))
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def spec_error_from_validation(error: ValidationError, source: str | None) -> SpecError:
    """Turn pydantic's report into one line naming the first bad field and its fix."""
    errors = error.errors()
    field_of_first = _field_name(tuple(errors[0]["loc"]))
    # A union (``float | Range``) reports one error per member: the member the input was
    # meant for is the one that did not fail on the input's type.
    same_field = [e for e in errors if _field_name(tuple(e["loc"])) == field_of_first]
    first = next((e for e in same_field if not e["type"].endswith(("_type", "_parsing"))), errors[0])
    loc = tuple(first["loc"])
    kind = first["type"]
    field = _field_name(loc)
    if kind == "extra_forbidden":
        allowed = _allowed_keys(StudySpec, loc)
        problem = "unknown key"
        fix = f"remove it or use one of: {', '.join(allowed)}" if allowed else _FIXES[kind]
    else:
        problem = first["msg"].removeprefix("Value error, ")
        fix = _FIXES.get(kind, "correct the value")
        if kind == "literal_error":
            fix = f"use one of the allowed values ({first['ctx']['expected']})"
    return SpecError(field, problem, fix, source=source)


def parse_spec(raw: dict[str, Any], source: str | None = None, base_dir: Path | None = None) -> StudySpec:
    """Validate a spec given as a mapping; relative data paths are taken from ``base_dir``."""
    if not isinstance(raw, dict):
        raise SpecError(
            "(top level)", "the spec must be a mapping of keys to values", "see examples/quickstart.yaml", source
        )
    try:
        spec = StudySpec.model_validate(raw)
    except ValidationError as error:
        raise spec_error_from_validation(error, source) from None
    if base_dir is not None:
        spec = _resolve_paths(spec, base_dir)
    return spec


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a YAML study spec."""
    path = Path(path)
    if not path.is_file():
        raise SpecError("spec", f"no file at {path}", "give the path of a YAML study spec")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "the file"
        raise SpecError(where, "malformed YAML", "fix the YAML syntax there", str(path)) from None
    return parse_spec(raw, source=str(path), base_dir=path.parent)


def _looks_like_file(value: str) -> bool:
    return Path(value).suffix.lower() in {".json", ".jsonl", ".csv", ".parquet"} or value.startswith((".", "/"))


def _resolve_paths(spec: StudySpec, base_dir: Path) -> StudySpec:
    def resolve(value: str | None) -> str | None:
        if value is None or not _looks_like_file(value) or Path(value).is_absolute():
            return value
        return str((base_dir / value).resolve())

    data = spec.data.model_copy(update={"train": resolve(spec.data.train), "validation": resolve(spec.data.validation)})

    def resolve_folder(value: str | None) -> str | None:
        if value is None or Path(value).is_absolute() or not (base_dir / value).is_dir():
            return value
        return str((base_dir / value).resolve())

    return spec.model_copy(
        update={"data": data, "model": resolve_folder(spec.model), "warm_start": resolve_folder(spec.warm_start)}
    )
