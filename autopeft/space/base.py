"""What every search space offers the search loop: sample a point through an optuna trial."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any

import optuna


@dataclass(frozen=True)
class Hyperparameters:
    """Training knobs shared by every method."""

    learning_rate: float
    head_learning_rate: float


@dataclass(frozen=True)
class Point:
    """One configuration to train: method-specific settings plus training hyperparameters."""

    method: str
    settings: dict[str, Any]
    hyperparameters: Hyperparameters

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "settings": self.settings, "hyperparameters": asdict(self.hyperparameters)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Point:
        return cls(raw["method"], raw["settings"], Hyperparameters(**raw["hyperparameters"]))


class SearchSpace(ABC):
    """A space of configurations, sized against one model's architecture."""

    @abstractmethod
    def sample(self, trial: optuna.Trial) -> Point:
        """Draw a point, asking ``trial`` for every searched value (so samplers can learn).

        Every searched value is asked for on every draw, so the space has a fixed
        dimension that a GP surrogate can model; values a point does not use are ignored.
        """

    @abstractmethod
    def point_from_params(self, params: dict[str, Any]) -> Point:
        """The point that the sampled values ``params`` stand for."""

    def is_buildable(self, params: dict[str, Any]) -> bool:
        """Whether the sampled values make a model PEFT can build (e.g. at least one module)."""
        return True

    def canonical_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with the values the point does not use set to fixed ones.

        Two draws that build the same model then look the same to the optimizer.
        """
        return params

    @abstractmethod
    def trainable_parameters(self, params: dict[str, Any]) -> int:
        """The exact trainable-parameter count of the point, head included, without building it."""
