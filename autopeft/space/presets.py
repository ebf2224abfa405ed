"""Search-space presets: the YAML files in the repository's ``search_spaces/`` folder, shipped
in the package as ``autopeft.presets.search_spaces`` (``AUTOPEFT_SEARCH_SPACES`` names another folder).

``space: lora-placement`` in a study spec names a preset; a path to a YAML file works too.
"""

from __future__ import annotations

from typing import Any

from autopeft import yaml_io
from autopeft.errors import SpecError
from autopeft.presets import preset_folder


def preset_names() -> list[str]:
    return yaml_io.preset_names(preset_folder("search_spaces"))


def load_preset(name: str) -> dict[str, Any]:
    """The space mapping of the preset ``name`` (or of the YAML file at that path)."""
    path, raw = yaml_io.read_preset(
        name, preset_folder("search_spaces"), "space", "search-space", "or a YAML file path"
    )
    if not isinstance(raw, dict):
        raise SpecError(
            "(top level)", "a search space must be a mapping", "see search_spaces/lora-placement.yaml", str(path)
        )
    return raw
