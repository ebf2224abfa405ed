"""Search spaces: from a spec and a model's architecture to points a trial can train."""

from typing import Any

from autopeft.models.arch import Architecture
from autopeft.space.base import Component, Hyperparameters, Point, SearchSpace
from autopeft.space.composite import ComposedSpace
from autopeft.space.spec import SpaceSpec


def build_space(
    spec: SpaceSpec, arch: Architecture, model_config: Any = None, pruned: frozenset[str] = frozenset()
) -> SearchSpace:
    """The search space the spec describes, sized against ``arch`` (and the model's config),
    with the placement bits of the ``pruned`` modules fixed off."""
    return ComposedSpace(spec, arch, model_config, pruned)


__all__ = ["Component", "ComposedSpace", "Hyperparameters", "Point", "SearchSpace", "SpaceSpec", "build_space"]
