"""``SearchResult``: a study read back from its store, what ``search``, ``resume`` and
``load_study`` return and every view (console, report, trackers) reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopeft.spec.objectives import objectives_for
from autopeft.store.records import ReferenceRecord, TrialRecord
from autopeft.store.study import StudyStore

if TYPE_CHECKING:
    import pandas as pd


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
    validation_classes: int | None = None  # classes among the validation rows scored (classification)

    @property
    def confirmed_pareto(self) -> list[TrialRecord]:
        """The answer once the confirmation stage ran: the confirmed trials that no other confirmed
        trial beats, with the task metric at its confirmed mean (costs as measured), best first.
        Empty when nothing was confirmed (``pareto`` is then the proxy's front)."""
        confirmed = [t for t in self.trials if t.confirmed is not None and t.confirmed.mean(self.metric) is not None]
        objectives = objectives_for(self.objectives)

        def vector(trial: TrialRecord) -> list[float]:
            values = trial.values | {self.metric: trial.confirmed.mean(self.metric)}
            return [o.maximized(values[o.name]) for o in objectives]

        rows = {t.number: vector(t) for t in confirmed}
        front = [t for t in confirmed if not any(dominates(rows[o.number], rows[t.number]) for o in confirmed)]
        return sorted(front, key=lambda t: rows[t.number][0], reverse=True)

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
            validation_classes=store.validation_classes(),
        )

    def to_pandas(self) -> pd.DataFrame:
        """One row per trial and per reference (``kind``), as optuna's ``trials_dataframe()``: its
        number or name, state, every measurement, trainable parameters, whether it is on the
        Pareto set, the confirmed mean and standard error where the confirmation stage ran, and
        the parameters it used (``params_*``, placeholders left out)."""
        import pandas as pd

        front = {t.number for t in self.pareto}
        rows = [
            {"kind": "trial", "number": t.number, "name": None, "state": t.state, "pareto": t.number in front}
            | self._measured(t)
            | {f"params_{name}": value for name, value in t.used_params.items()}
            for t in self.trials
        ]
        rows += [
            {"kind": "reference", "number": None, "name": r.name, "state": "fail" if r.failed else "complete"}
            | {"pareto": False}
            | self._measured(r)
            for r in self.references
        ]
        return pd.DataFrame(rows)

    def _measured(self, record: TrialRecord | ReferenceRecord) -> dict[str, Any]:
        confirmed = record.confirmed
        return {
            **record.values,
            "trainable_params": record.trainable_params,
            f"confirmed_{self.metric}": None if confirmed is None else confirmed.mean(self.metric),
            f"confirmed_{self.metric}_se": None if confirmed is None else confirmed.standard_error(self.metric),
            "fail_reason": record.fail_reason,
        }

    def __repr__(self) -> str:
        best = self.confirmed_pareto or self.pareto
        top = f"{best[0].values[self.metric]:.4f}" if best and self.metric in best[0].values else "-"
        confirmed = f", {len(self.confirmed_pareto)} confirmed" if self.confirmed_pareto else ""
        return (
            f"SearchResult({str(self.study_dir)!r}: {len(self.trials)} trials, {len(self.pareto)} on the Pareto set"
            f"{confirmed}, best proxy {self.metric} {top}, {len(self.references)} references)"
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready data (``autopeft show --json``); the Pareto set as trial numbers."""
        data = asdict(self)
        data["study_dir"] = str(self.study_dir)
        data["pareto"] = [record.number for record in self.pareto]
        data["confirmed_pareto"] = [record.number for record in self.confirmed_pareto]
        data["pruned"] = data["switched_off"]  # the key earlier versions wrote
        return data


def dominates(a: list[float], b: list[float]) -> bool:
    """Whether maximized vector ``a`` is at least as good as ``b`` everywhere and better somewhere."""
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(x > y for x, y in zip(a, b, strict=True))
