"""The read side's own reader of the study file (``store/stored_study.py``) reads what optuna
reads, and leaves a file of another schema to optuna."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

import autopeft.store.study
from autopeft.results.result import SearchResult
from autopeft.store.stored_study import SCHEMA, read_stored_study
from autopeft.store.study import StudyStore

DISTRIBUTIONS = {  # in an order that is not the alphabet's: params keep the order optuna wrote them in
    "zeta": CategoricalDistribution(["lora", None, 2.5, True]),
    "rank": IntDistribution(1, 64, log=True),
    "alpha": FloatDistribution(1e-5, 1e-1, log=True),
    "dropout": FloatDistribution(0.0, 1.0, step=0.25),
    "layers": IntDistribution(0, 10, step=2),
}
PARAMS = {"zeta": None, "rank": 8, "alpha": 3e-4, "dropout": 0.5, "layers": 4}
# Completed trials' values: ties (at the best value of each objective too), a dominated one, infinities.
VALUES = [
    [0.8, 100, 1],
    [0.9, 200, 2],
    [0.8, 100, 3],
    [0.7, 300, 1],
    [math.inf, 1000, 2],
    [0.6, -math.inf, 3],
    [math.inf, 1000, 2],
    [0.6, 50, 1],
]


def make_study(db, directions: list[str]) -> optuna.Study:
    """Trials of every state, every kind of parameter, user attributes on the study and its trials."""
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{db}", directions=directions)
    study.set_user_attr("baseline", {"metrics": {"accuracy": 0.5}, "validation_rows": 32})
    for i, values in enumerate(VALUES):
        params = PARAMS | {"zeta": DISTRIBUTIONS["zeta"].choices[i % 4], "rank": i + 1}
        attrs = {"point": {"i": i}, "measurements": {"x": values[0]}}
        values = values[: len(directions)]
        study.add_trial(create_trial(params=params, distributions=DISTRIBUTIONS, values=values, user_attrs=attrs))
    for state in (TrialState.FAIL, TrialState.PRUNED):
        study.add_trial(create_trial(params=PARAMS, distributions=DISTRIBUTIONS, state=state, user_attrs={"a": 1}))
    study.enqueue_trial({"rank": 2})
    study.enqueue_trial({"rank": 3})  # waiting
    running = study.ask()  # the first one queued
    running.suggest_float("alpha", 1e-5, 1e-1, log=True)
    return study


def as_read(trial) -> tuple:
    return trial.number, trial.state.name, trial.values, list(trial.params.items()), trial.user_attrs


@pytest.mark.parametrize(
    "directions", [["maximize", "minimize"], ["minimize", "maximize", "minimize"], ["maximize"], ["minimize"]]
)
def test_it_reads_what_optuna_reads(tmp_path, directions):
    made = make_study(tmp_path / "study.db", directions)
    stored = read_stored_study(tmp_path / "study.db", "s")
    assert stored is not None
    assert [as_read(t) for t in stored.get_trials()] == [as_read(t) for t in made.get_trials(deepcopy=False)]
    assert [t.number for t in stored.best_trials] == [t.number for t in made.best_trials]
    assert len(stored.best_trials) > 1  # ties at the best
    assert stored.user_attrs == made.user_attrs
    assert {t.state.name for t in stored.get_trials()} == {"COMPLETE", "FAIL", "PRUNED", "WAITING", "RUNNING"}


def test_a_study_the_file_does_not_hold_reads_empty(tmp_path):
    make_study(tmp_path / "study.db", ["maximize", "minimize"])
    stored = read_stored_study(tmp_path / "study.db", "another")
    assert stored is not None and (stored.get_trials(), stored.best_trials, stored.user_attrs) == ([], [], {})


def test_a_folder_named_like_url_syntax_is_read_as_a_path(tmp_path):
    made = make_study(tmp_path / "study.db", ["maximize", "minimize"])
    odd = tmp_path / "run?mode=rw%41#x"
    odd.mkdir()
    shutil.copy(tmp_path / "study.db", odd / "study.db")
    stored = read_stored_study(odd / "study.db", "s")
    assert stored is not None and len(stored.get_trials()) == len(made.trials)


def test_the_schema_it_reads_is_the_one_the_installed_optuna_writes(tmp_path):
    optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'new.db'}")
    with sqlite3.connect(tmp_path / "new.db") as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(SCHEMA,)]


def test_show_reads_the_same_study_without_optuna(finished_study, monkeypatch):
    """SearchResult (show --json) is the same, byte for byte, read either way."""
    assert read_stored_study(finished_study / "study.db", "tiny") is not None  # the fast way is the one taken
    fast = json.dumps(SearchResult.load(finished_study).to_dict())
    monkeypatch.setattr(autopeft.store.study, "read_stored_study", lambda db, name: None)
    assert StudyStore.open(finished_study, read_only=True)._stored is None
    assert json.dumps(SearchResult.load(finished_study).to_dict()) == fast


def test_a_file_of_another_schema_is_left_to_optuna(finished_study):
    with sqlite3.connect(finished_study / "study.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'v9.9.9.z'")
    assert read_stored_study(finished_study / "study.db", "tiny") is None
    with pytest.raises(RuntimeError, match="no longer compatible with the table schema"):  # optuna's own refusal
        StudyStore.open(finished_study, read_only=True)
