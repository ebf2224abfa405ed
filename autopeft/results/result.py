"""``SearchResult``: a study read back from its store, what ``search``, ``resume`` and
``load_study`` return and every view (console, report, trackers) reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autopeft.store.records import ReferenceRecord, TrialRecord
from autopeft.store.study import StudyStore


@dataclass
class SearchResult:
    """A study's folder, all its trials and its Pareto set."""

    study_dir: Path
    metric: str
    task: str  # the spec's data.task: classification, regression or causal_lm
    objectives: list[str] = field(default_factory=list)
    trials: list[TrialRecord] = field(default_factory=list)
    pareto: list[TrialRecord] = field(default_factory=list)
    baseline: dict[str, float] | None = None  # metrics of a trivial predictor (or the untuned model)
    validation_rows: int | None = None  # how many validation rows the metrics are measured on
    hypervolume_history: list[tuple[int, float]] = field(default_factory=list)
    importance: dict[str, float] | None = None  # module -> importance score, when the study narrows
    switched_off: list[str] = field(default_factory=list)  # modules the importance scores switched off
    references: list[ReferenceRecord] = field(default_factory=list)  # the spec's references, as trained

    @property
    def pruned(self) -> list[str]:
        """Former name of ``switched_off``."""
        return self.switched_off

    @classmethod
    def load(cls, study_dir: str | Path) -> SearchResult:
        """A study read back without running anything: the way in for show, report and export,
        which open the store read-only and never load the search (nor torch)."""
        return cls.from_store(StudyStore.open(study_dir, read_only=True))

    @classmethod
    def from_store(cls, store: StudyStore) -> SearchResult:
        baseline, validation_rows = store.baseline()
        scores, switched_off = store.importance() or (None, frozenset())
        return cls(
            store.path,
            store.objectives[0].name,
            store.spec.data.task,
            [o.name for o in store.objectives],
            store.records(),
            store.pareto(),
            baseline,
            validation_rows,
            store.hypervolume_history(),
            scores,
            sorted(switched_off),
            store.references(),
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready data (``autopeft show --json``); the Pareto set as trial numbers."""
        data = asdict(self)
        data["study_dir"] = str(self.study_dir)
        data["pareto"] = [record.number for record in self.pareto]
        data["pruned"] = data["switched_off"]  # the key earlier versions wrote
        return data
