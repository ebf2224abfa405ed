"""Search-space primitives, knowing no method: points, the spec language's building blocks, and
the base of a method's part of a space.

- ``base``: ``Point`` (what a trial trains), ``PlacedComponent``, ``Hyperparameters``, ``SearchSpace``;
- ``language``: the pydantic building blocks of a component schema (``ComponentSchema``, ``Placed``, ``Range``);
- ``component``: ``ComponentSpace`` (a method's dimensions, settings and exact size), ``MethodSettings``;

The methods (``autopeft.methods``) build on these; the space a spec describes, which combines
them, is ``autopeft.spec.space``.
"""

from autopeft.space.base import Hyperparameters, PlacedComponent, Point, SearchSpace

__all__ = ["Hyperparameters", "PlacedComponent", "Point", "SearchSpace"]
