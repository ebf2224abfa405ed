"""Reading the user's YAML files (study specs, space presets) with errors that point at the line."""

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
