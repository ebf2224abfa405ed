"""What the views (wording, figure data) read of a study's result: ``SearchResult``'s fields as a
protocol, so that ``SearchResult`` itself can draw with them (``plot_front``) without an import
cycle between the result and its views."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from autopeft.spec.objectives import Objective
from autopeft.store.records import ReferenceRecord, TrialRecord


class ResultView(Protocol):
    """A study read back: ``autopeft.results.result.SearchResult`` is the one implementation."""

    study_dir: Path
    metric: str
    task: str
    objectives: list[str]
    trials: list[TrialRecord]
    pareto: list[TrialRecord]
    baseline: dict[str, float] | None
    validation_rows: int | None
    references: list[ReferenceRecord]

    def objective(self, name: str) -> Objective:
        """The objective (or any metric) called ``name``: its direction and label."""
