"""Objectives: which measurement a study optimizes and in which direction."""

from __future__ import annotations

from dataclasses import dataclass

from optuna.study import StudyDirection


@dataclass(frozen=True)
class Objective:
    """A named measurement of a trial and whether more is better."""

    name: str
    direction: StudyDirection
    label: str

    @property
    def maximize(self) -> bool:
        return self.direction == StudyDirection.MAXIMIZE


OBJECTIVES: dict[str, Objective] = {
    "accuracy": Objective("accuracy", StudyDirection.MAXIMIZE, "val accuracy"),
    "trainable_params": Objective("trainable_params", StudyDirection.MINIMIZE, "trainable params"),
}


def objectives_for(names: list[str]) -> list[Objective]:
    """The objectives named in a spec, in its order."""
    return [OBJECTIVES[name] for name in names]
