"""The study store: the one module that knows how a study is kept on disk.

Layout: ``DIR/spec.yaml`` (the validated spec, paths resolved) and ``DIR/study.db``, an
optuna study in SQLite. Every stored key is defined, written and read here: a trial's
point, measurements, rung scores and failure, and the study's baseline, references,
importance scores (the hypervolume history: ``hypervolume``). The store owns the optuna ``Study``; callers
get typed records back. Each trial is written when it finishes, so a killed search loses
at most the trials in flight, and ``recover_interrupted`` queues those again.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopeft.errors import UsageError
from autopeft.methods import is_pure_peft, peft_config_dict
from autopeft.space import Point
from autopeft.spec import StudySpec, parse_spec
from autopeft.spec.custom_metrics import directions
from autopeft.spec.errors import first_difference
from autopeft.spec.objectives import objectives_for
from autopeft.spec.yaml_io import read_yaml, write_yaml
from autopeft.store.confirmations import ConfirmedRuns
from autopeft.store.facts import StudyFacts
from autopeft.store.hypervolume import HypervolumeHistory
from autopeft.store.records import INTERRUPTED_REASON, ReferenceRecord, TrialRecord, training_seed_number
from autopeft.store.stored_study import StoredStudy, StoredTrial, read_stored_study
from autopeft.store.tracker_runs import TrackerRuns
from autopeft.store.trials import (
    ADAPTER_CONFIG,
    ATTEMPTS,
    FAIL_REASON,
    FINISHED_AS,
    MEASUREMENTS,
    PERCENT,
    POINT,
    RERUN_OF,
    RUNGS,
    SECONDS,
    STEPS,
    TRAINABLE,
    UNUSED,
    WORKER,
    trial_record,
)
from autopeft.tasks.kinds import TASK_KINDS

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial, TrialState

    from autopeft.executors.base import TrialResult

SPEC_FILE = "spec.yaml"
DB_FILE = "study.db"
CACHE_DIR = "cache"  # tokenized splits, reused by a resumed study and by workers on the same disk
# Spec fields a study may change between runs: more trials, other workers, more references, the
# wall-clock budget, and the test split (which the search never reads).
CHANGEABLE = {
    "trials": True,
    "executor": True,
    "references": True,
    "confirm": True,
    "data": {"test"},
    "budget": {"hours"},
}
# The study's user attributes.
REFERENCES = "references"  # reference name -> its ReferenceRecord's fields
REFERENCE_ADAPTER_CONFIGS = "reference_adapter_configs"  # reference name -> its ADAPTER_CONFIG


def study_folder(path: str | Path) -> Path:
    """The study folder a user names, by itself or by its database file."""
    path = Path(path)
    return path.parent if path.is_file() and path.name == DB_FILE else path


class StudyStore(StudyFacts, ConfirmedRuns, HypervolumeHistory, TrackerRuns):
    """A study folder on disk and the optuna study inside it (created on first use).

    Opened read-only, it reads the file once with ``sqlite3`` (``stored_study.py``) where it can,
    and loads optuna only when asked for optuna's own study (the report's importances)."""

    def __init__(self, path: str | Path, spec: StudySpec, read_only: bool = False) -> None:
        self.path = Path(path)
        self.spec = spec
        self.read_only = read_only
        self.objectives = objectives_for(spec.objectives, directions(spec.data.metrics))
        self._stored = read_stored_study(self.path / DB_FILE, spec.name) if read_only else None
        if self._stored is None:
            self.storage  # noqa: B018  (opened now, so that a damaged file is told on opening)
        self._study: optuna.Study | None = None

    @cached_property
    def storage(self) -> optuna.storages.RDBStorage:
        from autopeft.store.database import open_storage  # optuna, SQLAlchemy and alembic

        return open_storage(self.path / DB_FILE, self.read_only)

    @classmethod
    def create(cls, path: str | Path, spec: StudySpec) -> StudyStore:
        """A new study folder, or the same study again if the folder holds this spec.

        Only ``CHANGEABLE`` fields may differ (to extend a study); any other change needs a new folder.
        """
        path = Path(path)
        cls.refuse_another_spec(path, spec)
        path.mkdir(parents=True, exist_ok=True)
        write_yaml(path / SPEC_FILE, spec.model_dump(mode="json"))
        if not (path / DB_FILE).exists():  # built whole: Ctrl-C mid-way leaves no half-built study.db
            from autopeft.store.database import create_database  # optuna: not for the read side

            create_database(path / DB_FILE, lambda storage: _new_study(storage, spec))
        return cls(path, spec)

    @classmethod
    def refuse_another_spec(cls, path: Path, spec: StudySpec) -> None:
        """Refuse ``spec`` if ``path`` holds a study whose spec differs beyond ``CHANGEABLE``
        (cheap: a search calls it before loading any model)."""
        if not (path / SPEC_FILE).exists():
            return
        stored = _stored_spec(path / SPEC_FILE)  # its database may never have been built (a creation cut short)
        changed = first_difference(stored.model_dump(exclude=CHANGEABLE), spec.model_dump(exclude=CHANGEABLE))
        if changed is not None:
            raise UsageError(
                f"study_dir: {path} holds a study whose spec differs in {changed}. "
                "Fix: pass --study-dir NEW_FOLDER, delete the folder, or use --resume to continue it as it was"
            )

    @classmethod
    def open(cls, path: str | Path, read_only: bool = False) -> StudyStore:
        """An existing study folder; ``read_only`` (show, export, report) never writes to it."""
        path = study_folder(path)
        spec_file = path / SPEC_FILE
        if not spec_file.is_file() or not (path / DB_FILE).is_file():
            raise UsageError(
                f"study: {path} is not a study folder (no {SPEC_FILE} and {DB_FILE}). "
                "Fix: give the path printed after 'study:' by autopeft search"
            )
        return cls(path, _stored_spec(spec_file), read_only)

    # -- the optuna study ------------------------------------------------------------

    @property
    def study(self) -> optuna.Study:
        """The optuna study, created on first use (loaded, by a read-only store)."""
        import optuna

        if self._study is None and self.read_only:
            self._study = optuna.load_study(study_name=self.spec.name, storage=self.storage)
        if self._study is None:
            self._study = _new_study(self.storage, self.spec)
        return self._study

    def _existing(self) -> optuna.Study | StoredStudy | None:
        """The study if it was ever created (reading never creates it), or as read without optuna."""
        if self._stored is not None:
            return self._stored
        import optuna

        if self._study is None and self.spec.name in [s.study_name for s in self.storage.get_all_studies()]:
            self._study = optuna.load_study(study_name=self.spec.name, storage=self.storage)
        return self._study

    def use_sampler(self, sampler: optuna.samplers.BaseSampler) -> None:
        self.study.sampler = sampler

    def trials(self) -> list[FrozenTrial] | list[StoredTrial]:
        """Every trial as optuna keeps it (for samplers and analyses)."""
        study = self._existing()
        return [] if study is None else study.get_trials(deepcopy=False)

    # -- trials: written by the search loop ------------------------------------------

    def enqueue(self, params: Mapping[str, Any], again: bool = False) -> None:
        """Run these values next (the space's centre, a warm start, an interrupted trial); values
        a trial already has are skipped unless ``again``."""
        self.study.enqueue_trial(dict(params), skip_if_exists=not again)

    def ask(self) -> optuna.Trial:
        return self.study.ask()

    def start(self, trial: optuna.Trial, point: Point, unused: Sequence[str] = ()) -> None:
        """Keep the point a trial stands for before it trains (it may never finish), and the
        parameters it does not use (readers of the optuna study tell placeholders from choices)."""
        trial.set_user_attr(POINT, point.to_dict())
        trial.set_user_attr(UNUSED, sorted(unused))
        config = self._adapter_config(point)
        if config is not None:
            trial.set_user_attr(ADAPTER_CONFIG, config)

    def _adapter_config(self, point: Point) -> dict[str, Any] | None:
        """The adapter config PEFT writes for a pure-PEFT point (kept, so that export needs no PEFT)."""
        try:  # a point of no registered method (a benchmark's stand-in) has none either
            if not is_pure_peft(point):
                return None
            return peft_config_dict(point, self.head_modules(), TASK_KINDS[self.spec.data.task].peft_task_type)
        except Exception:  # a config PEFT refuses fails the trial when it builds; export says why, building it again
            return None

    def adapter_config(self, trial: int | None = None, reference: str | None = None) -> dict[str, Any] | None:
        """The adapter config kept for a trial (or a reference); None for a study from before it was kept."""
        if reference is not None:
            return (self._attr(REFERENCE_ADAPTER_CONFIGS) or {}).get(reference)
        found = [t for t in self.trials() if t.number == trial]
        return found[0].user_attrs.get(ADAPTER_CONFIG) if found else None

    def finish(self, trial: optuna.Trial, result: TrialResult) -> TrialRecord:
        """Write a finished (or failed) trial and extend the hypervolume history."""
        from optuna.trial import TrialState

        outcome = result.outcome
        if result.attempts > 1:
            trial.set_user_attr(ATTEMPTS, result.attempts)
        if result.rungs:
            trial.set_user_attr(RUNGS, result.rungs)
        if result.worker is not None:
            trial.set_user_attr(WORKER, result.worker)
        if outcome is None:
            trial.set_user_attr(FAIL_REASON, result.fail_reason)
            state, measurements = TrialState.FAIL, None
        else:
            trial.set_user_attr(TRAINABLE, outcome.trainable_params)
            trial.set_user_attr(PERCENT, outcome.percent_of_base)
            trial.set_user_attr(SECONDS, outcome.train_seconds)
            trial.set_user_attr(STEPS, outcome.steps)
            trial.set_user_attr(MEASUREMENTS, outcome.measurements)
            # Scores from a shorter training are not comparable: the trial stays off the front.
            state = TrialState.PRUNED if outcome.stopped_early else TrialState.COMPLETE
            measurements = outcome.measurements
        trial.set_user_attr(FINISHED_AS, state.name)
        return trial_record(self._tell(trial.number, state, measurements), self.objectives)

    def _tell(self, number: int, state: TrialState, measurements: Mapping[str, float] | None) -> FrozenTrial:
        """End a trial in optuna; a completed one's values are its objectives' measurements."""
        from optuna.trial import TrialState

        if state != TrialState.COMPLETE:
            return self.study.tell(number, state=state)
        frozen = self.study.tell(number, [measurements[o.name] for o in self.objectives])
        self._extend_history(frozen)
        return frozen

    def recover_interrupted(self) -> list[TrialRecord]:
        """End the trials a killed search left running: one whose end was written in full is
        told as written (and returned); the others are interrupted (see ``interrupt``)."""
        from optuna.trial import TrialState

        told = []
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            finished_as = trial.user_attrs.get(FINISHED_AS)
            if finished_as is None:
                self.interrupt(trial.number, trial.params)
            else:
                frozen = self._tell(trial.number, TrialState[finished_as], trial.user_attrs.get(MEASUREMENTS))
                told.append(trial_record(frozen, self.objectives))
        return told

    def interrupt(self, number: int, params: dict[str, Any]) -> None:
        """Fail a trial that did not run to its end, and queue its point again (it runs next)."""
        from optuna.trial import TrialState

        study_id = self.storage.get_study_id_from_name(self.spec.name)
        trial_id = self.storage.get_trial_id_from_study_id_trial_number(study_id, number)
        self.storage.set_trial_user_attr(trial_id, FAIL_REASON, INTERRUPTED_REASON)
        original = training_seed_number(number, self.storage.get_trial(trial_id).user_attrs.get(RERUN_OF))
        self.study.tell(number, state=TrialState.FAIL)
        self.study.enqueue_trial(params, user_attrs={RERUN_OF: original}, skip_if_exists=False)

    def finished_count(self) -> int:
        """Trials that count towards ``trials``: completed, stopped early or failed, not interrupted."""
        return sum(1 for record in self.records() if record.counts)

    def rung_scores(self) -> dict[str, list[dict[str, float]]]:
        """Successive halving: every trial's measurements at each rung (step -> list)."""
        scores: dict[str, list[dict[str, float]]] = {}
        for trial in self.trials():
            for step, measurements in trial.user_attrs.get(RUNGS, {}).items():
                scores.setdefault(step, []).append(measurements)
        return scores

    # -- trials: read back -----------------------------------------------------------

    def records(self) -> list[TrialRecord]:
        """Every trial, in order."""
        return self.with_confirmations([trial_record(t, self.objectives) for t in self.trials()])

    def pareto(self) -> list[TrialRecord]:
        """The non-dominated completed trials, best first by the first objective."""
        study = self._existing()
        front = (
            []
            if study is None
            else self.with_confirmations([trial_record(t, self.objectives) for t in study.best_trials])
        )
        first = self.objectives[0]
        return sorted(front, key=lambda r: r.values[first.name], reverse=first.maximize)

    def record(self, number: int) -> TrialRecord:
        """One trial by its number."""
        for trial in self.trials():
            if trial.number == number:
                return trial_record(trial, self.objectives)
        raise UsageError(
            f"--trial: study {self.path} has no trial {number}. Fix: pick a number from 'autopeft show {self.path}'"
        )

    # -- what the search fixed once ----------------------------------------------------

    def _attr(self, name: str) -> Any:
        study = self._existing()
        return None if study is None else study.user_attrs.get(name)

    def set_reference(self, record: ReferenceRecord) -> None:
        """Keep a trained (or failed) reference; a resumed study does not train it again."""
        saved = dict(self._attr(REFERENCES) or {})
        saved[record.name] = asdict(record) | {"confirmed": None}  # confirmation runs are kept apart
        self.study.set_user_attr(REFERENCES, saved)
        config = None if record.failed else self._adapter_config(Point.from_dict(record.point))
        if config is not None:
            configs = dict(self._attr(REFERENCE_ADAPTER_CONFIGS) or {})
            self.study.set_user_attr(REFERENCE_ADAPTER_CONFIGS, configs | {record.name: config})

    def references(self) -> list[ReferenceRecord]:
        """The references trained so far, in the spec's order (then any the spec no longer names)."""
        saved = self._attr(REFERENCES) or {}
        named = [name for name in self.spec.references if name in saved]
        order = named + sorted(set(saved) - set(named))
        return self.with_confirmations([ReferenceRecord(**saved[name] | {"confirmed": None}) for name in order])


def _stored_spec(spec_file: Path) -> StudySpec:
    raw = read_yaml(spec_file)
    if isinstance(raw, dict):  # a study made before the confirmation stage existed stays without it
        raw.setdefault("confirm", False)
    return parse_spec(raw, source=str(spec_file))


def _new_study(storage: optuna.storages.BaseStorage, spec: StudySpec) -> optuna.Study:
    """The spec's optuna study in ``storage`` (the one there, if it was made before)."""
    import optuna

    objectives = objectives_for(spec.objectives, directions(spec.data.metrics))
    study = optuna.create_study(
        study_name=spec.name, storage=storage, directions=[o.direction for o in objectives], load_if_exists=True
    )
    if study.metric_names is None:  # optuna's plots and the dashboard label the axes with them
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([o.name for o in objectives])
    return study
