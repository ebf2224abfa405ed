"""A study read straight from its SQLite file with the standard library, for the read side
(show, report, export): importing optuna, SQLAlchemy and alembic to open the file cost more than
half of ``autopeft show``'s second.

It reads optuna's tables as optuna's ``Study`` offers them to the store (``user_attrs``,
``get_trials``, ``best_trials``), and only a file whose schema is the one it was written for
(``SCHEMA``, which a test pins to the installed optuna's): any other file, or one it cannot
read, gives None and the store opens it through optuna instead (which also words the errors).
"""

from __future__ import annotations

import json
import math
import sqlite3
import urllib.parse
from contextlib import closing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from autopeft.spec.objectives import dominates

SCHEMA = "v3.2.0.a"  # optuna's alembic revision of the tables read here (optuna 3.2 to 5.x)
_INFINITE = {"INF_POS": math.inf, "INF_NEG": -math.inf}
_INTEGER = {"IntDistribution", "IntUniformDistribution", "IntLogUniformDistribution"}
_FLOAT = {"FloatDistribution", "UniformDistribution", "LogUniformDistribution", "DiscreteUniformDistribution"}


class StoredState(Enum):
    """optuna's ``TrialState``, by the same names and numbers."""

    RUNNING = 0
    COMPLETE = 1
    PRUNED = 2
    FAIL = 3
    WAITING = 4


@dataclass(frozen=True)
class StoredTrial:
    """What the store reads of optuna's ``FrozenTrial``."""

    number: int
    state: StoredState
    values: list[float] | None
    params: dict[str, Any]
    user_attrs: dict[str, Any]


@dataclass(frozen=True)
class StoredStudy:
    """What the store reads of optuna's ``Study``; empty where the file holds no such study."""

    maximize: list[bool] = field(default_factory=list)  # the study's directions, by objective
    user_attrs: dict[str, Any] = field(default_factory=dict)
    trials: list[StoredTrial] = field(default_factory=list)

    def get_trials(self, deepcopy: bool = False) -> list[StoredTrial]:
        return list(self.trials)

    @property
    def best_trials(self) -> list[StoredTrial]:
        """As optuna's (which sets no constraints): the completed trials no other completed trial
        dominates, ties included, in trial order; with one objective, every trial at the best value."""
        complete = [t for t in self.trials if t.state == StoredState.COMPLETE]
        rows = [[v if up else -v for v, up in zip(t.values, self.maximize, strict=True)] for t in complete]
        return [t for t, row in zip(complete, rows, strict=True) if not any(dominates(other, row) for other in rows)]


class _Unreadable(Exception):
    """The file holds something this reader does not know: optuna reads it instead."""


def read_stored_study(db: Path, name: str) -> StoredStudy | None:
    """The study ``name`` in ``db``, read without optuna; None where optuna should read it (a
    file of another schema, a damaged, empty or missing one)."""
    if not db.is_file() or db.stat().st_size == 0:
        return None
    uri = f"file:{urllib.parse.quote(str(db.resolve()))}?mode=ro"  # never writes; the path is percent-encoded
    try:
        with closing(sqlite3.connect(uri, uri=True)) as connection:
            return _read(connection, db, name)
    except (sqlite3.Error, _Unreadable, ValueError, KeyError, IndexError, TypeError):
        return None


def _read(connection: sqlite3.Connection, db: Path, name: str) -> StoredStudy:
    connection.execute("BEGIN")  # one snapshot, should a search be writing the file meanwhile
    pages = connection.execute("PRAGMA page_count").fetchone()[0] * connection.execute("PRAGMA page_size").fetchone()[0]
    if pages > db.stat().st_size:  # a truncated file: optuna tells the user
        raise _Unreadable(db)
    if [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")] != [SCHEMA]:
        raise _Unreadable(db)
    found = connection.execute("SELECT study_id FROM studies WHERE study_name = ?", (name,)).fetchone()
    if found is None:
        return StoredStudy()
    study = found[0]
    directions = connection.execute(
        "SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective", (study,)
    ).fetchall()
    attrs = connection.execute(
        "SELECT key, value_json FROM study_user_attributes WHERE study_id = ? ORDER BY study_user_attribute_id",
        (study,),
    )
    return StoredStudy(
        [direction == "MAXIMIZE" for (direction,) in directions],
        {key: json.loads(value) for key, value in attrs},
        _trials(connection, study),
    )


def _trials(connection: sqlite3.Connection, study: int) -> list[StoredTrial]:
    """Every trial of the study, in order, with its values, parameters and user attributes (each
    in the order optuna wrote them, as optuna reads them back)."""

    def rows(table: str, columns: str, order: str) -> sqlite3.Cursor:
        trials = "SELECT trial_id FROM trials WHERE study_id = ?"
        query = f"SELECT trial_id, {columns} FROM {table} WHERE trial_id IN ({trials}) ORDER BY trial_id, {order}"
        return connection.execute(query, (study,))

    values: dict[int, list[float]] = {}
    for trial, value, kind in rows("trial_values", "value, value_type", "objective"):
        values.setdefault(trial, []).append(_INFINITE[kind] if kind in _INFINITE else float(value))
    params: dict[int, dict[str, Any]] = {}
    for trial, name, value, distribution in rows(
        "trial_params", "param_name, param_value, distribution_json", "param_id"
    ):
        params.setdefault(trial, {})[name] = _external(value, json.loads(distribution))
    attrs: dict[int, dict[str, Any]] = {}
    for trial, key, value in rows("trial_user_attributes", "key, value_json", "trial_user_attribute_id"):
        attrs.setdefault(trial, {})[key] = json.loads(value)
    found = connection.execute(
        "SELECT trial_id, number, state FROM trials WHERE study_id = ? ORDER BY trial_id", [study]
    )
    return [
        StoredTrial(number, StoredState[state], values.get(trial), params.get(trial, {}), attrs.get(trial, {}))
        for trial, number, state in found
    ]


def _external(value: float, distribution: dict[str, Any]) -> Any:
    """A parameter as the trial chose it, from optuna's internal float and its distribution's
    JSON (what ``BaseDistribution.to_external_repr`` does for each kind)."""
    kind = distribution["name"]
    if kind == "CategoricalDistribution":
        return distribution["attributes"]["choices"][int(value)]
    if kind in _INTEGER:
        return int(value)
    if kind in _FLOAT:
        return float(value)
    raise _Unreadable(kind)
