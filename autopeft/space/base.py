"""What every search space offers the search loop: sample a point through an optuna trial."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class Hyperparameters:
    """Training knobs shared by every method."""

    learning_rate: float
    head_learning_rate: float


@dataclass(frozen=True)
class PlacedComponent:
    """One method's part of a point: its name and its settings in their stored form (the
    plain mapping its ``MethodSettings`` writes, full module names; ``autopeft.methods`` reads it back).
    """

    method: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class Point:
    """One configuration to train: one component per method in use, plus training hyperparameters."""

    components: tuple[PlacedComponent, ...]
    hyperparameters: Hyperparameters

    @classmethod
    def single(cls, method: str, settings: dict[str, Any], hyperparameters: Hyperparameters) -> Point:
        return cls((PlacedComponent(method, settings),), hyperparameters)

    @property
    def method(self) -> str:
        """The method's name, or the methods joined by '+' for a hybrid."""
        return "+".join(c.method for c in self.components)

    def component(self, method: str) -> PlacedComponent | None:
        return next((c for c in self.components if c.method == method), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "components": [asdict(c) for c in self.components],
            "hyperparameters": asdict(self.hyperparameters),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Point:
        if "components" in raw:
            components = tuple(PlacedComponent(c["method"], c["settings"]) for c in raw["components"])
        else:  # studies written before hybrids stored one method's settings
            components = (PlacedComponent(raw["method"], raw["settings"]),)
        return cls(components, Hyperparameters(**raw["hyperparameters"]))


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

    def placeable_modules(self) -> list[str]:
        """Modules that a searched per-layer placement bit switches (what importance pruning ranks)."""
        return []

    @abstractmethod
    def center_params(self) -> dict[str, Any]:
        """The configuration to try first: every module placed, middle sizes, mid learning rates.

        It is what a practitioner would try (LoRA of one rank everywhere), and a random initial
        design, which switches each placement bit by a coin toss, almost never draws it.
        """

    def canonical_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with the values the point does not use set to fixed ones.

        Two draws that build the same model then look the same to the optimizer.
        """
        return params

    @abstractmethod
    def trainable_parameters(self, params: dict[str, Any]) -> int:
        """The exact trainable-parameter count of the point, head included, without building it."""
