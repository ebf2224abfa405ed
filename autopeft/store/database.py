"""Opening a study's SQLite database through optuna's storage, with one line (not a
traceback) when the file is empty, read-only or not a database.

The file is opened by path through ``sqlite3`` (SQLAlchemy's ``creator``), never spelt into a
``sqlite:///`` URL: in a URL, what follows a ``?`` in a folder's name is read as options and
``%41`` as an escape, which sent a study's trials into another file, or another study's."""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from pathlib import Path

import optuna
import sqlalchemy

from autopeft.errors import AutopeftError


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
    path = db.resolve()

    def connect() -> sqlite3.Connection:
        if read_only:  # a URI, so that mode=ro applies; the path is percent-encoded in it
            return sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro", uri=True, check_same_thread=False)
        return sqlite3.connect(str(path), check_same_thread=False)

    engine = {"creator": connect, "poolclass": sqlalchemy.pool.QueuePool}
    try:
        storage = optuna.storages.RDBStorage("sqlite://", engine_kwargs=engine)
        storage.get_all_studies()
    except (sqlalchemy.exc.DatabaseError, optuna.exceptions.StorageInternalError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise AutopeftError(
            f"study: {db} is not a readable study database ({reason}). "
            "Fix: restore it from a copy, or start the study again in a new folder"
        ) from None
    return storage
