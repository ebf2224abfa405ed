"""Opening a study's SQLite database through optuna's storage, with one line (not a
traceback) when the file is empty, read-only or not a database."""

from __future__ import annotations

import os
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
    url = f"sqlite:///file:{db.resolve()}?mode=ro&uri=true" if read_only else f"sqlite:///{db.resolve()}"
    try:
        storage = optuna.storages.RDBStorage(url)
        storage.get_all_studies()
    except (sqlalchemy.exc.DatabaseError, optuna.exceptions.StorageInternalError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise AutopeftError(
            f"study: {db} is not a readable study database ({reason}). "
            "Fix: restore it from a copy, or start the study again in a new folder"
        ) from None
    return storage
