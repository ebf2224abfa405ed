"""pydantic's validation report, turned into the one line a user acts on: the field at fault
(named as the user wrote it: ``space.lora.rank``, not pydantic's union tags) and its fix."""

from __future__ import annotations

from typing import Any, get_origin

from pydantic import BaseModel, ValidationError

from autopeft.errors import SpecError
from autopeft.methods import method_names
from autopeft.space.language import BOOLEAN_GIVEN

_FIXES = {
    "extra_forbidden": "remove it or correct its spelling",
    "missing": "add it",
    "literal_error": "use one of the allowed values",
}
# Fields whose bound needs its reason: the generic fix would not say why.
_FIELD_FIXES = {
    "space": "write a mapping (method, modules, rank, ...) or a preset's name, e.g. space: lora-rank-per-layer",
    "executor.gpus_per_trial": "give 1 or less: a trial trains on one GPU, so more would reserve GPUs it never "
    "uses (a fraction lets trials share a GPU)",
}


def _dotted_field(loc: tuple[Any, ...], written_as: dict[str, str]) -> str:
    # pydantic puts union members' tags into the location ("Range", "float",
    # "function-after[...]", "list[int]"): keep only the user's keys and list indices. A
    # space component is named by its method: space.components.0.lora.rank -> space.lora.rank.
    def is_tag(part: Any) -> bool:
        return isinstance(part, str) and (part[:1].isupper() or "[" in part or part in ("float", "int", "str", "bool"))

    parts = [p for p in loc if not is_tag(p)]
    if parts and parts[0] in written_as:  # a spec's `model: {path: ..., dtype: ...}` is its model_options
        parts[0] = written_as[parts[0]]
    methods = method_names()
    named: list[str] = []
    index = 0
    while index < len(parts):
        window = parts[index : index + 3]
        if len(window) == 3 and window[0] == "components" and isinstance(window[1], int) and window[2] in methods:
            named.append(window[2])
            index += 3
        else:
            named.append(str(parts[index]))
            index += 1
    return ".".join(named) or "(top level)"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (through list, Optional, Union, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def _method_tags(model: type[BaseModel]) -> tuple[Any, ...]:
    field = model.model_fields.get("method")
    return getattr(field.annotation, "__args__", ()) if field is not None else ()


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed where an unknown key was found, for the error message."""
    candidates: list[type[BaseModel]] = [model]
    keyed = False  # the last field was a mapping: the next part is one of its keys
    for part in loc[:-1]:
        if isinstance(part, int) or keyed:
            keyed = False
            continue
        by_tag = [c for c in candidates if len(candidates) > 1 and part in _method_tags(c)]
        if by_tag:
            candidates = by_tag
            continue
        field = next((c.model_fields[part] for c in candidates if part in c.model_fields), None)
        if field is None:
            return []
        candidates = _models_in(field.annotation)
        keyed = get_origin(field.annotation) is dict
        if not candidates:
            return []
    return list(candidates[0].model_fields) if len(candidates) == 1 else []


def spec_error_from_validation(error: ValidationError, root: type[BaseModel], source: str | None) -> SpecError:
    """Turn pydantic's report into one line naming the first bad field and its fix."""
    errors = error.errors()
    written_as = getattr(root, "written_as", {})

    def field_name(loc: tuple[Any, ...]) -> str:
        return _dotted_field(loc, written_as)

    field_of_first = field_name(tuple(errors[0]["loc"]))
    # A union (``float | Range``) reports one error per member: the member the input was
    # meant for is the one that did not fail on the input's type.
    same_field = [e for e in errors if f"{field_name(tuple(e['loc']))}.".startswith(f"{field_of_first}.")]
    first = next((e for e in same_field if not e["type"].endswith(("_type", "_parsing"))), errors[0])
    loc = tuple(first["loc"])
    kind = first["type"]
    field = field_name(loc)
    if kind == "extra_forbidden":
        allowed = _allowed_keys(root, loc)
        problem = "unknown key"
        fix = f"remove it or use one of: {', '.join(allowed)}" if allowed else _FIXES[kind]
    elif kind == "union_tag_invalid":
        problem = f"unknown method '{first['ctx']['tag']}'"
        fix = f"use one of: {first['ctx']['expected_tags']}"
    elif first.get("input") == BOOLEAN_GIVEN:
        problem, fix = "true/false is not a value here", "write a number"
    else:
        problem = first["msg"].removeprefix("Value error, ").split(" or instance of ")[0]  # no class names
        problem, _, fix = problem.partition(". Fix: ")  # a validator's message may name its own fix
        fix = fix or _FIELD_FIXES.get(field) or _FIXES.get(kind, "correct the value")
        if kind == "literal_error":
            fix = f"use one of the allowed values ({first['ctx']['expected']})"
    return SpecError(field, problem, fix, source=source)


def first_difference(old: Any, new: Any, path: str = "") -> str | None:
    """The first field (dotted path) where two spec dumps differ, with both values."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            changed = first_difference(old.get(key), new.get(key), f"{path}.{key}" if path else str(key))
            if changed is not None:
                return changed
        return None
    return None if old == new else f"{path or '(top level)'} ({old!r} before, {new!r} now)"
