"""``SearchResult``: a study read back from its store, what ``search``, ``resume`` and
``load_study`` return and every view (console, report, trackers) reads."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from autopeft.models.loading import shared_model_name
from autopeft.spec.objectives import Objective, dominates, objectives_for
from autopeft.store.records import COUNTS, ReferenceRecord, TrialRecord
from autopeft.store.study import StudyStore

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

Record = TypeVar("Record", TrialRecord, ReferenceRecord)


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
    custom_metrics: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> function, direction
    validation_classes: int | None = None  # classes among the validation rows scored (classification)

    def objective(self, name: str) -> Objective:
        """The objective (or any metric) called ``name``: its direction and label."""
        custom = {metric: details["direction"] for metric, details in self.custom_metrics.items()}
        return objectives_for([name], custom)[0]

    @property
    def confirmed_pareto(self) -> list[TrialRecord]:
        """The answer once the confirmation stage ran: the confirmed trials that no other confirmed
        trial beats, with the task metric at its confirmed mean (costs as measured), best first.
        Empty when nothing was confirmed (``pareto`` is then the proxy's front)."""
        confirmed = [t for t in self.trials if t.confirmed is not None and t.confirmed.mean(self.metric) is not None]
        objectives = [self.objective(name) for name in self.objectives]

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
        model = shared_model_name(store.spec.model)
        references = [_exported(r, store.adapter_config(reference=r.name), model) for r in store.references()]
        return cls(
            store.path,
            store.objectives[0].name,
            store.spec.data.task,
            [o.name for o in store.objectives],
            [_exported(t, t.adapter_config, model) for t in store.records()],
            [_exported(t, t.adapter_config, model) for t in store.pareto()],
            baseline,
            validation_rows,
            store.hypervolume_history(),
            scores,
            sorted(switched_off),
            references,
            store.spec.data.model_dump()["metrics"],
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
        frame = pd.DataFrame(rows)
        integers = {name: "Int64" for name in ("number", *COUNTS) if name in frame}
        return frame.astype(integers)  # ints stay ints beside the gaps (a reference has no number)

    def _measured(self, record: TrialRecord | ReferenceRecord) -> dict[str, Any]:
        confirmed = record.confirmed
        return {
            **record.values,
            "trainable_params": record.trainable_params,
            f"confirmed_{self.metric}": None if confirmed is None else confirmed.mean(self.metric),
            f"confirmed_{self.metric}_se": None if confirmed is None else confirmed.standard_error(self.metric),
            "fail_reason": record.fail_reason,
        }

    def plot_front(self) -> go.Figure:
        """The report's Pareto-front figure (plotly): every completed trial, the Pareto set and
        the tuned references, validation metric against trainable parameters."""
        from autopeft.results import figure_data, figures  # here: plotly loads only when drawing

        return figures.front_figure(figure_data.front(self))

    def _repr_html_(self) -> str:
        """A notebook's view: the repr's line and the Pareto set as a table."""
        frame = self.to_pandas()
        columns = ["number", *self.objectives, "state"]
        table = frame[frame["pareto"]][columns].to_html(index=False, border=0)
        return f"<p>{html.escape(repr(self))}</p>{table}"

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


def _exported(record: Record, config: dict[str, Any] | None, model: str) -> Record:
    """The record with the adapter config export writes for it (naming the base model)."""
    return replace(record, adapter_config=None if config is None else config | {"base_model_name_or_path": model})


def load_study(study_dir: str | Path) -> SearchResult:
    """Read a study's trials and Pareto set without running anything, and without torch (as
    ``autopeft show`` reads it): ``autopeft.load_study`` in a notebook."""
    return SearchResult.load(study_dir)
