"""Search-space presets: YAML files in the repository's ``search_spaces/`` folder.

``space: lora-placement`` in a study spec names a preset; a path to a YAML file works too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from autopeft.errors import SpecError
from autopeft.yaml_io import read_yaml

PRESET_DIR = Path(os.environ.get("AUTOPEFT_SEARCH_SPACES", Path(__file__).resolve().parents[2] / "search_spaces"))


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name: str) -> dict[str, Any]:
    """The space mapping of the preset ``name`` (or of the YAML file at that path)."""
    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise SpecError(
            "space", f"no search-space preset '{name}'", f"use one of: {', '.join(preset_names())}, or a YAML file path"
        )
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise SpecError(
            "(top level)", "a search space must be a mapping", "see search_spaces/lora-placement.yaml", str(path)
        )
    return raw
