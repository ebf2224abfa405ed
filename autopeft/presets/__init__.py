"""The preset YAML files, shipped inside the package.

The files live at the top of the repository, in ``search_spaces/`` and ``objectives/``, where
users read them; pyproject.toml maps those folders to the packages
``autopeft.presets.search_spaces`` and ``autopeft.presets.objectives`` (``package-dir``), so
a wheel carries them and an editable install reads them in place. Each folder holds an
``__init__.py`` because setuptools' editable installs only map folders that are regular
packages.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

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
