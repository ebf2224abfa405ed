"""Reading the user's YAML files (study specs, presets) with errors that point at the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from autopeft.errors import SpecError


def read_yaml(path: Path) -> Any:
    """The parsed file; malformed YAML is a SpecError naming the file and the line."""
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "the file"
        raise SpecError(where, "malformed YAML", "fix the YAML syntax there", str(path)) from None


def preset_names(folder: Path) -> list[str]:
    """The presets in ``folder``: its YAML files' names."""
    return sorted(p.stem for p in folder.glob("*.yaml"))


def read_preset(name: str, folder: Path, field: str, kind: str, alternatives: str) -> tuple[Path, Any]:
    """The preset ``name`` from ``folder`` (or the YAML file at that path) and its contents.

    An unknown name is a SpecError on ``field`` listing the presets, then ``alternatives``.
    """
    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        path = folder / f"{name}.yaml"
    if not path.is_file():
        raise SpecError(
            field, f"no {kind} preset '{name}'", f"use one of: {', '.join(preset_names(folder))}, {alternatives}"
        )
    return path, read_yaml(path)
