"""Opening a study's SQLite database through optuna's storage, with one line (not a
traceback) when the file is empty, read-only or not a database, or a write fails because the
disk is full or the folder cannot be written.

The file is opened by path through ``sqlite3`` (SQLAlchemy's ``creator``), never spelt into a
``sqlite:///`` URL: in a URL, what follows a ``?`` in a folder's name is read as options and
``%41`` as an escape, which sent a study's trials into another file, or another study's.

A new database is built beside its final name and renamed into place once built, so a study
interrupted while it is made leaves no half-built ``study.db`` that later reads call damaged."""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import optuna
import sqlalchemy

from autopeft.data.atomic import replacing
from autopeft.errors import AutopeftError

# SQLite's words for a write the disk or the folder refuses (SQLITE_FULL, SQLITE_READONLY, SQLITE_CANTOPEN).
UNWRITABLE = {
    "disk is full": "the disk is full. Fix: free space on it, or move the study folder to a disk with room",
    "readonly database": "its file or folder is read-only. Fix: make them writable, or move the study folder",
    "unable to open database file": "its folder cannot be written. Fix: make it writable, or use another folder",
}


def open_storage(db: Path, read_only: bool) -> optuna.storages.RDBStorage:
    """The study database, or one line saying what is wrong with it and what to do.

    Read-only opening (SQLite's ``mode=ro``) never writes, not even a schema into an empty file.
    """
    if db.is_file() and db.stat().st_size == 0:
        raise AutopeftError(
            f"study: {db} is empty (no study was ever written to it). "
            "Fix: run the search again into this folder, or give the folder of a study that ran"
        )
    if not read_only and db.exists() and not (os.access(db, os.W_OK) and os.access(db.parent, os.W_OK)):
        raise AutopeftError(
            f"study: {db} cannot be written (the file or its folder is read-only). "
            "Fix: make them writable, or copy the study folder somewhere writable and resume that"
        )
    return _connected(db, read_only, db)


def create_database(db: Path, build: Callable[[optuna.storages.RDBStorage], None]) -> None:
    """A new database at ``db``: schema and ``build``'s writes (the optuna study) go into a
    temporary file beside it, renamed to ``db`` only once all are written."""
    with replacing(db) as partial:
        storage = _connected(partial, False, db)
        try:
            build(storage)
        finally:
            storage.engine.dispose()  # every connection closed before the file is renamed


def unwritable(db: Path, error: BaseException) -> AutopeftError | None:
    """One line for a write SQLite refused for want of space or permission (optuna's own
    message blames "invalid data, e.g. exceeding max length"); None for any other error."""
    reason = str(getattr(error, "orig", None) or error)
    for words, what in UNWRITABLE.items():
        if words in reason:
            return AutopeftError(f"study: {db.parent} cannot be written: {what}")
    return None


def _connected(path: Path, read_only: bool, db: Path) -> optuna.storages.RDBStorage:
    """optuna's storage over the SQLite file at ``path``; errors name ``db`` (the file the user knows)."""
    path = path.resolve()

    def connect() -> sqlite3.Connection:
        if read_only:  # a URI, so that mode=ro applies; the path is percent-encoded in it
            return sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro", uri=True, check_same_thread=False)
        return sqlite3.connect(str(path), check_same_thread=False)

    engine = {"creator": connect, "poolclass": sqlalchemy.pool.QueuePool}
    try:
        storage = optuna.storages.RDBStorage("sqlite://", engine_kwargs=engine)
        storage.get_all_studies()
    except (sqlalchemy.exc.DatabaseError, optuna.exceptions.StorageInternalError) as error:
        cause = error.__cause__ if isinstance(error, optuna.exceptions.StorageInternalError) else error
        refused = unwritable(db, cause or error)
        if refused is not None:
            raise refused from None
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise AutopeftError(
            f"study: {db} is not a readable study database ({reason}). "
            "Fix: restore it from a copy, or start the study again in a new folder"
        ) from None

    def translate(context: sqlalchemy.engine.ExceptionContext) -> None:
        refused = unwritable(db, context.original_exception)
        if refused is not None:  # raised in place of SQLAlchemy's error: optuna rolls back and lets it through
            raise refused from None

    sqlalchemy.event.listen(storage.engine, "handle_error", translate)
    return storage
