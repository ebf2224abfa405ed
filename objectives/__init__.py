"""Objective presets (``objectives: NAME`` in a study spec): the YAML files in this folder.

pyproject.toml ships this folder inside the package as ``autopeft.spec.presets.objectives``;
this file makes it a package, which setuptools' editable installs need to find it.
"""
