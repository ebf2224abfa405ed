"""Reading a study spec: from a mapping, a YAML file or a StudySpec with overrides, validated
once, with file paths resolved against the spec's folder."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from autopeft.data.source import looks_like_file
from autopeft.errors import SpecError
from autopeft.spec.custom_metrics import check_custom_metrics
from autopeft.spec.errors import spec_error_from_validation
from autopeft.spec.schema import ConfirmSpec, DataSpec, StudySpec
from autopeft.spec.yaml_io import read_yaml


def parse_spec(raw: dict[str, Any], source: str | None = None, base_dir: Path | None = None) -> StudySpec:
    """Validate a spec given as a mapping; relative data paths are taken from ``base_dir``."""
    if not isinstance(raw, dict):
        raise SpecError(
            "(top level)", "the spec must be a mapping of keys to values", "see examples/quickstart.yaml", source
        )
    if "prune" in raw and "importance" in raw:  # pydantic would call the alias an unknown key
        raise SpecError("prune", "given beside importance, whose old name it is", "keep importance: only", source)
    try:
        spec = StudySpec.model_validate(raw)
    except ValidationError as error:
        raise spec_error_from_validation(error, StudySpec, source) from None
    except SpecError as error:  # from a preset: name the spec too unless the preset file is named
        raise (error.with_source(source) if error.source is None and source else error) from None
    if base_dir is not None:
        spec = resolve_paths(spec, base_dir)
    return spec


def merged_executor(current: Any, executor: str | Mapping[str, Any], source: str | None = None) -> dict[str, Any]:
    """The ``executor:`` mapping after a change: ``executor`` is a kind ("local", "ray") or a
    mapping of ExecutorSpec keys merged into ``current`` (a kind, a mapping or None); an
    address alone means Ray."""
    changes = {"kind": executor} if isinstance(executor, str) else dict(executor)
    if changes.get("address") is not None:
        changes.setdefault("kind", "ray")
    base = {"kind": current} if isinstance(current, str) else dict(current or {})
    merged = {"kind": "local"} | base | changes
    if merged["kind"] == "local":
        ray_only = sorted(set(changes) - {"kind"})
        if ray_only:
            fix = "choose the ray executor (`kind: ray` in the spec, --executor ray on the command line)"
            raise SpecError(f"executor.{ray_only[0]}", "is an option of the ray executor", fix, source)
        merged = {"kind": "local"}  # Ray's options mean nothing to the local executor
    return merged


def with_executor(spec: StudySpec, executor: str | Mapping[str, Any], source: str | None = None) -> StudySpec:
    """``spec`` run on another executor (see ``merged_executor``)."""
    return parse_spec(spec.model_dump() | {"executor": merged_executor(spec.executor.model_dump(), executor, source)})


def build_spec(
    spec: StudySpec | Mapping[str, Any] | str | Path,
    overrides: Mapping[str, Any] | None = None,
    executor: str | Mapping[str, Any] | None = None,
    source: str | None = None,
) -> StudySpec:
    """A spec from a StudySpec, a mapping or a YAML path, with ``overrides`` (top-level keys)
    and an executor change applied to the raw values first, so it is validated once."""
    base_dir = None
    if isinstance(spec, StudySpec):
        raw = spec.model_dump()
    elif isinstance(spec, Mapping):
        raw = dict(spec)
    else:
        path = Path(spec)
        if not path.is_file():
            raise SpecError("spec", f"no file at {path}", "give the path of a YAML study spec")
        raw, base_dir, source = read_yaml(path), path.parent, str(path)
        if not isinstance(raw, dict):
            return parse_spec(raw, source=source)  # names the problem
    raw = raw | dict(overrides or {})
    if executor is not None:
        raw["executor"] = merged_executor(raw.get("executor"), executor, source)
    parsed = parse_spec(raw, source=source, base_dir=base_dir)
    if parsed.data.validation is not None and parsed.data.validation_fraction is not None:
        # here, not in the schema: a study stored with both still reads (show, report, resume)
        raise SpecError(
            "data.validation_fraction", "is ignored when data.validation is given", "keep one of the two", source
        )
    confirm, steps = parsed.confirm, parsed.budget.steps
    if isinstance(confirm, ConfirmSpec) and confirm.steps is not None and confirm.steps < steps:
        raise SpecError(
            "confirm.steps",
            f"{confirm.steps} is below budget.steps ({steps}): a confirmation would train less than the run it checks",
            f"give {steps} or more, or leave it out (the proxy's steps)",
            source,
        )
    try:  # here, not in parse_spec: reading a finished study (show, report) imports no user code
        check_custom_metrics(parsed.data.metrics, parsed.data.task)
    except SpecError as error:
        raise (error.with_source(source) if error.source is None and source else error) from None
    return parsed


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a YAML study spec."""
    return build_spec(Path(path))


def resolve_data_paths(data: DataSpec, base_dir: Path) -> DataSpec:
    """``data`` with relative file paths made absolute from ``base_dir`` (the spec's folder, or
    an export's for its recipe), so that they read the same from any working folder."""

    def resolve(value: str | None) -> str | None:
        if value is None or not looks_like_file(value):
            return value
        path = Path(value).expanduser()
        return value if path.is_absolute() else str((base_dir / path).resolve())

    return data.model_copy(update={key: resolve(getattr(data, key)) for key in ("train", "validation", "test")})


def resolve_paths(spec: StudySpec, base_dir: Path) -> StudySpec:
    """``spec`` with relative data files and existing model or study folders made absolute
    (from ``base_dir``), so that a resumed study or a remote worker finds them."""
    data = resolve_data_paths(spec.data, base_dir)

    def resolve_folder(value: str | None) -> str | None:
        if value is None or Path(value).is_absolute() or not (base_dir / value).is_dir():
            return value
        return str((base_dir / value).resolve())

    return spec.model_copy(
        update={"data": data, "model": resolve_folder(spec.model), "warm_start": resolve_folder(spec.warm_start)}
    )
