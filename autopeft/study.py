"""The study folder: the spec it ran, the optuna study in SQLite, and reading trials back.

Layout: ``DIR/spec.yaml`` (the validated spec, paths resolved) and ``DIR/study.db``.
Every trial is written when it finishes, so a killed search loses at most the trial in
flight, and ``recover_interrupted`` queues that one again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from autopeft.errors import AutopeftError
from autopeft.objectives import Objective, maximized_vector, objectives_for
from autopeft.optim.hypervolume import hypervolume
from autopeft.spec import StudySpec, parse_spec

SPEC_FILE = "spec.yaml"
# Spec fields a study may change between runs: more trials, other workers, more references.
CHANGEABLE = {"trials", "executor", "references"}
DB_FILE = "study.db"
# Keys under which a trial's results are kept in optuna's user attributes.
POINT = "point"
TRAINABLE = "trainable_params"
PERCENT = "percent_of_base"
SECONDS = "train_seconds"
STEPS = "steps"
MEASUREMENTS = "measurements"
FAIL_REASON = "fail_reason"
INTERRUPTED = "interrupted"
ATTEMPTS = "attempts"  # set when a worker died mid-trial and the trial ran again
WORKER = "worker"  # node:pid of the Ray worker that ran the trial
# Study-level attributes.
HV_REFERENCE = "hypervolume_reference"  # objective name -> the worst value that still counts
HV_HISTORY = "hypervolume_history"  # [trial number, hypervolume of the front so far]
LABEL_NAMES = "label_names"  # the task's labels, in the order of the head's outputs
HEAD_MODULES = "head_modules"  # the base model's task head, trained in full by every trial
IMPORTANCE = "importance"  # {"scores": module -> gradient energy, "pruned": modules switched off}
BASELINE = "baseline"  # {"metrics": the trivial predictor's (or untuned model's), "validation_rows": n}
REFERENCES = "references"  # reference name -> its ReferenceRecord's fields


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the user sees it."""

    number: int
    state: str
    params: dict[str, Any]
    values: dict[str, float]
    point: dict[str, Any] | None
    trainable_params: int | None
    percent_of_base: float | None
    train_seconds: float | None
    fail_reason: str | None
    steps: int | None = None
    attempts: int = 1
    worker: str | None = None

    @classmethod
    def from_frozen(cls, trial: FrozenTrial, objectives: list[Objective]) -> TrialRecord:
        attrs = trial.user_attrs
        values = dict(zip([o.name for o in objectives], trial.values, strict=True)) if trial.values else {}
        values.update(attrs.get(MEASUREMENTS, {}))
        return cls(
            number=trial.number,
            state=trial.state.name.lower(),
            params=dict(trial.params),
            values=values,
            point=attrs.get(POINT),
            trainable_params=attrs.get(TRAINABLE),
            percent_of_base=attrs.get(PERCENT),
            train_seconds=attrs.get(SECONDS),
            fail_reason=attrs.get(FAIL_REASON),
            steps=attrs.get(STEPS),
            attempts=attrs.get(ATTEMPTS, 1),
            worker=attrs.get(WORKER),
        )


@dataclass(frozen=True)
class ReferenceRecord:
    """A reference configuration of the spec, trained once with the study's proxy."""

    name: str
    point: dict[str, Any]
    values: dict[str, float]  # every measurement, objectives included; empty when it failed
    trainable_params: int | None = None
    percent_of_base: float | None = None
    train_seconds: float | None = None
    fail_reason: str | None = None

    @property
    def failed(self) -> bool:
        return self.fail_reason is not None


class StudyStore:
    """A study folder on disk and the optuna study inside it."""

    def __init__(self, path: str | Path, spec: StudySpec):
        self.path = Path(path)
        self.spec = spec
        self.objectives = objectives_for(spec.objectives)
        self.storage = optuna.storages.RDBStorage(f"sqlite:///{(self.path / DB_FILE).resolve()}")

    @classmethod
    def create(cls, path: str | Path, spec: StudySpec) -> StudyStore:
        """A new study folder, or the same study again if the folder holds this spec.

        Only ``trials`` may differ (to extend a study); any other change needs a new folder.
        """
        path = Path(path)
        spec_file = path / SPEC_FILE
        if spec_file.exists():
            stored = cls.open(path).spec
            if stored.model_dump(exclude=CHANGEABLE) != spec.model_dump(exclude=CHANGEABLE):
                raise AutopeftError(
                    f"study_dir: {path} holds a study with a different spec. "
                    "Fix: pass --study-dir NEW_FOLDER, delete the folder, or use --resume to continue it as it was"
                )
        path.mkdir(parents=True, exist_ok=True)
        spec_file.write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
        return cls(path, spec)

    @classmethod
    def open(cls, path: str | Path) -> StudyStore:
        """An existing study folder."""
        path = Path(path)
        if path.is_file() and path.name == DB_FILE:
            path = path.parent
        spec_file = path / SPEC_FILE
        if not spec_file.is_file() or not (path / DB_FILE).is_file():
            raise AutopeftError(
                f"study: {path} is not a study folder (no {SPEC_FILE} and {DB_FILE}). "
                "Fix: give the path printed after 'study:' by autopeft search"
            )
        spec = parse_spec(yaml.safe_load(spec_file.read_text()), source=str(spec_file))
        return cls(path, spec)

    def optuna_study(self, sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study:
        """The optuna study, created on first use."""
        return optuna.create_study(
            study_name=self.spec.name,
            storage=self.storage,
            sampler=sampler,
            directions=[o.direction for o in self.objectives],
            load_if_exists=True,
        )

    def recover_interrupted(self, study: optuna.Study) -> int:
        """Mark trials left running by a killed search as failed and queue their points again."""
        stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        for trial in stale:
            self.storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, True)
            self.storage.set_trial_user_attr(trial._trial_id, FAIL_REASON, "interrupted: the search stopped mid-trial")
            self.storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            study.enqueue_trial(trial.params, skip_if_exists=False)
        return len(stale)

    def finished_count(self, study: optuna.Study) -> int:
        """Trials that count towards ``trials``: completed, stopped early or failed, not interrupted."""
        finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
        return sum(1 for t in finished if not t.user_attrs.get(INTERRUPTED))

    def _trials(self, pareto_only: bool = False) -> list[TrialRecord]:
        study = self._load()
        if study is None:
            return []  # the folder exists but no trial was ever asked for
        trials = study.best_trials if pareto_only else study.get_trials(deepcopy=False)
        return [TrialRecord.from_frozen(t, self.objectives) for t in trials]

    def set_model_facts(self, study: optuna.Study, label_names: list[str], head_modules: list[str]) -> None:
        """What export needs to know of the data and model without loading them."""
        study.set_user_attr(LABEL_NAMES, list(label_names))
        study.set_user_attr(HEAD_MODULES, list(head_modules))

    def set_baseline(self, study: optuna.Study, metrics: dict[str, float], validation_rows: int) -> None:
        """What a trial must beat to show the model learns the task, and on how many validation
        rows it was scored (kept, so that ``show`` can judge a finished study too)."""
        study.set_user_attr(BASELINE, {"metrics": dict(metrics), "validation_rows": int(validation_rows)})

    def baseline(self) -> tuple[dict[str, float] | None, int | None]:
        """The stored baseline metrics and validation rows; (None, None) before the first run."""
        saved = self._attr(BASELINE) or {}
        return saved.get("metrics"), saved.get("validation_rows")

    def set_reference(self, study: optuna.Study, record: ReferenceRecord) -> None:
        """Keep a trained (or failed) reference; a resumed study does not train it again."""
        saved = dict(study.user_attrs.get(REFERENCES, {}))
        saved[record.name] = asdict(record)
        study.set_user_attr(REFERENCES, saved)

    def references(self, study: optuna.Study | None = None) -> list[ReferenceRecord]:
        """The references trained so far, in the spec's order (then any the spec no longer names)."""
        saved = (study.user_attrs.get(REFERENCES) if study is not None else self._attr(REFERENCES)) or {}
        named = [name for name in self.spec.references if name in saved]
        order = named + sorted(set(saved) - set(named))
        return [ReferenceRecord(**saved[name]) for name in order]

    def set_importance(self, study: optuna.Study, scores: dict[str, float], pruned: frozenset[str]) -> None:
        """Keep the importance scores and the pruned modules, so a resumed study searches the same space."""
        study.set_user_attr(IMPORTANCE, {"scores": dict(scores), "pruned": sorted(pruned)})

    def importance(self, study: optuna.Study | None = None) -> tuple[dict[str, float], frozenset[str]] | None:
        """The stored scores and pruned modules, or None when the study prunes nothing."""
        saved = study.user_attrs.get(IMPORTANCE) if study is not None else self._attr(IMPORTANCE)
        if not saved:
            return None
        return saved["scores"], frozenset(saved["pruned"])

    def _attr(self, name: str) -> Any:
        study = self._load()
        return None if study is None else study.user_attrs.get(name)

    def label_names(self) -> list[str] | None:
        return self._attr(LABEL_NAMES)

    def head_modules(self) -> list[str]:
        return self._attr(HEAD_MODULES) or []

    def set_hypervolume_reference(self, study: optuna.Study, reference: dict[str, float]) -> None:
        """Fix the study's hypervolume reference once, so its history stays comparable."""
        if HV_REFERENCE not in study.user_attrs:
            study.set_user_attr(HV_REFERENCE, reference)

    def hypervolume_history(self, study: optuna.Study | None = None) -> list[tuple[int, float]]:
        """(trial number, hypervolume of the completed trials up to it), in the optimizer's
        geometry (log trainable parameters) against the study's fixed reference."""
        study = study or self._load()
        if study is None or HV_REFERENCE not in study.user_attrs:
            return []
        reference = maximized_vector(self.objectives, study.user_attrs[HV_REFERENCE])
        rows, history = [], []
        for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            rows.append(
                maximized_vector(
                    self.objectives, dict(zip([o.name for o in self.objectives], trial.values, strict=True))
                )
            )
            history.append((trial.number, hypervolume(np.array(rows), reference)))
        return history

    def save_hypervolume_history(self, study: optuna.Study) -> None:
        """Store the history in the study, where the dashboard and other tools can read it."""
        study.set_user_attr(HV_HISTORY, [list(entry) for entry in self.hypervolume_history(study)])

    def _load(self) -> optuna.Study | None:
        names = [s.study_name for s in self.storage.get_all_studies()]
        return optuna.load_study(study_name=self.spec.name, storage=self.storage) if self.spec.name in names else None

    def records(self) -> list[TrialRecord]:
        """Every trial, in order."""
        return self._trials()

    def pareto(self) -> list[TrialRecord]:
        """The non-dominated completed trials, best first by the first objective."""
        front = self._trials(pareto_only=True)
        first = self.objectives[0]
        return sorted(front, key=lambda r: r.values[first.name], reverse=first.maximize)

    def record(self, number: int) -> TrialRecord:
        """One trial by its number."""
        for record in self.records():
            if record.number == number:
                return record
        raise AutopeftError(
            f"--trial: study {self.path} has no trial {number}. Fix: pick a number from 'autopeft show {self.path}'"
        )
