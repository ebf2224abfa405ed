"""Reading the user's YAML files (study specs, presets) with errors that point at the line,
and writing the study's own whole or not at all."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from autopeft.data.atomic import write_atomic
from autopeft.errors import SpecError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML
    keeps the last silently: `trials: 2` then `trials: 50` would run 50)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path | Traversable) -> Any:
    """The parsed file; malformed YAML (or a key given twice, or bytes that are not UTF-8) is a
    SpecError naming the file, the line and what is wrong there."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except UnicodeDecodeError as error:
        data = path.read_bytes()
        line = data[: error.start].count(b"\n") + 1
        raise SpecError(f"line {line}", "bytes that are not UTF-8 text", "save the file as UTF-8", str(path)) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "the file"
        problem = getattr(error, "problem", None) or "malformed YAML"
        raise SpecError(where, f"malformed YAML: {problem}", "fix the YAML there", str(path)) from None


def write_yaml(path: Path, data: Any) -> None:
    """``data`` as YAML at ``path``, renamed into place whole: a killed process never leaves
    a half-written file where a readable one was."""
    write_atomic(path, yaml.safe_dump(data, sort_keys=False))


def preset_names(folder: Path | Traversable) -> list[str]:
    """The presets in ``folder`` (a directory, or a package's files): its YAML files' names."""
    if not folder.is_dir():
        return []
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml") and p.is_file())


def read_preset(
    name: str, folder: Path | Traversable, field: str, kind: str, alternatives: str
) -> tuple[Path | Traversable, Any]:
    """The preset ``name`` from ``folder`` (or the YAML file at that path) and its contents.

    An unknown name is a SpecError on ``field`` listing the presets, then ``alternatives``.
    """
    path: Path | Traversable = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        path = folder / f"{name}.yaml"
    if not path.is_file():
        if Path(name).suffix in (".yaml", ".yml"):  # a path the user wrote, not a preset's name
            raise SpecError(
                field, f"no file at {path}", f"fix the path, or use a preset: {', '.join(preset_names(folder))}"
            )
        raise SpecError(
            field, f"no {kind} preset '{name}'", f"use one of: {', '.join(preset_names(folder))}, {alternatives}"
        )
    return path, read_yaml(path)
