"""The preset YAML files, shipped inside the package.

The files live at the top of the repository, in ``search_spaces/`` and ``objectives/``, where
users read them; pyproject.toml maps those folders to the packages
``autopeft.spec.presets.search_spaces`` and ``autopeft.spec.presets.objectives`` (``package-dir``), so
a wheel carries them and an editable install reads them in place. Each folder holds an
``__init__.py`` because setuptools' editable installs only map folders that are regular
packages.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopeft.errors import SpecError
from autopeft.spec import yaml_io

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

OVERRIDES = {"search_spaces": "AUTOPEFT_SEARCH_SPACES", "objectives": "AUTOPEFT_OBJECTIVES"}


def preset_folder(kind: str) -> Path | Traversable:
    """The folder of the ``kind`` presets (``search_spaces`` or ``objectives``): the package's,
    or the folder its environment variable (``AUTOPEFT_SEARCH_SPACES``, ``AUTOPEFT_OBJECTIVES``) names."""
    override = os.environ.get(OVERRIDES[kind])
    if override:
        return Path(override)
    package = f"{__name__}.{kind}"
    try:
        return resources.files(package)
    except ModuleNotFoundError:
        raise RuntimeError(
            f"{package} is missing from this autopeft install; an editable install made before "
            'the presets were packaged needs `pip install -e ".[test]"` again'
        ) from None


def space_preset_names() -> list[str]:
    """The names ``space: NAME`` accepts (``search_spaces/*.yaml``)."""
    return yaml_io.preset_names(preset_folder("search_spaces"))


def load_space_preset(name: str) -> dict[str, Any]:
    """The space mapping of the preset ``name`` (or of the YAML file at that path)."""
    path, raw = yaml_io.read_preset(
        name, preset_folder("search_spaces"), "space", "search-space", "or a YAML file path"
    )
    if not isinstance(raw, dict):
        raise SpecError(
            "(top level)", "a search space must be a mapping", "see search_spaces/lora-placement.yaml", str(path)
        )
    return raw
