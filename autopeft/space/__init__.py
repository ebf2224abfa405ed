"""Search spaces: from a spec and a model's architecture to points a trial can train."""

from typing import Any

from autopeft.errors import SpecError
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


def fixed_point(spec: SpaceSpec, arch: Architecture, model_config: Any, field: str) -> Point:
    """The one configuration a space with a single value everywhere stands for (a study's
    reference); ``field`` names it in errors."""
    space = ComposedSpace(spec, arch, model_config)
    if space.dims:
        raise SpecError(
            field,
            f"is one configuration, but it searches {', '.join(space.dims)}",
            "give one value for each (a number for learning rates, one rank or width, no per-layer choices)",
        )
    if not space.is_buildable({}):
        raise SpecError(field, "places no module", "give it at least one module, layer or non-zero size")
    return space.point_from_params({})


__all__ = [
    "Component",
    "ComposedSpace",
    "Hyperparameters",
    "Point",
    "SearchSpace",
    "SpaceSpec",
    "build_space",
    "fixed_point",
]
