"""Search-space presets: YAML files in the repository's ``search_spaces/`` folder.

``space: lora-placement`` in a study spec names a preset; a path to a YAML file works too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from autopeft import yaml_io
from autopeft.errors import SpecError

PRESET_DIR = Path(os.environ.get("AUTOPEFT_SEARCH_SPACES", Path(__file__).resolve().parents[2] / "search_spaces"))


def preset_names() -> list[str]:
    return yaml_io.preset_names(PRESET_DIR)


def load_preset(name: str) -> dict[str, Any]:
    """The space mapping of the preset ``name`` (or of the YAML file at that path)."""
    path, raw = yaml_io.read_preset(name, PRESET_DIR, "space", "search-space", "or a YAML file path")
    if not isinstance(raw, dict):
        raise SpecError(
            "(top level)", "a search space must be a mapping", "see search_spaces/lora-placement.yaml", str(path)
        )
    return raw
