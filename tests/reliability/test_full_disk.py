"""A full disk while the study database is written is one line naming the study folder and the
fix (issue 39: optuna's own message blamed "invalid data, e.g. exceeding max length").

The disk fills for real as far as SQLite can tell: ``PRAGMA max_page_count`` caps the file, and
a write past it fails with SQLITE_FULL, "database or disk is full", as on a full disk."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy

from autopeft.errors import AutopeftError
from autopeft.spec import build_spec
from autopeft.store.study import StudyStore


def _fill_the_disk(store: StudyStore) -> None:
    """Every connection from now on may not grow the file past its present size."""
    engine = store.storage.engine
    engine.dispose()
    pages = engine.connect().exec_driver_sql("PRAGMA page_count").scalar()
    engine.dispose()
    sqlalchemy.event.listen(engine, "connect", lambda dbapi, _: dbapi.execute(f"PRAGMA max_page_count={pages}"))


def test_a_full_disk_is_one_line_naming_the_study_folder(quick_spec):
    folder = Path(quick_spec["study_dir"])
    store = StudyStore.create(folder, build_spec(quick_spec))
    store.set_baseline({"accuracy": 0.5}, 10)
    _fill_the_disk(store)
    with pytest.raises(AutopeftError) as raised:
        store.set_baseline({f"metric {i}": 0.5 for i in range(20000)}, 10)  # far more than the free pages
    assert str(raised.value) == (
        f"study: {folder} cannot be written: the disk is full. "
        "Fix: free space on it, or move the study folder to a disk with room"
    )
    assert StudyStore.open(folder, read_only=True).baseline() == ({"accuracy": 0.5}, 10)  # rolled back, intact


@pytest.mark.parametrize(
    ("sqlite_says", "what"),
    [("attempt to write a readonly database", "read-only"), ("unable to open database file", "cannot be written")],
)
def test_a_refused_write_is_one_line_too(quick_spec, monkeypatch, sqlite_says, what):
    import sqlite3

    folder = Path(quick_spec["study_dir"])
    store = StudyStore.create(folder, build_spec(quick_spec))
    dialect = store.storage.engine.dialect
    execute = dialect.do_execute

    def refuse(cursor, statement, parameters, context):  # the error sqlite3 raises, as SQLAlchemy gets it
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            raise sqlite3.OperationalError(sqlite_says)
        return execute(cursor, statement, parameters, context)

    monkeypatch.setattr(dialect, "do_execute", refuse)
    with pytest.raises(AutopeftError, match=f"study: .* cannot be written: .*{what}.*Fix: "):
        store.set_baseline({"accuracy": 0.5}, 10)
