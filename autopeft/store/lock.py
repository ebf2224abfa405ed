"""One search at a time per study folder: an advisory lock file naming its holder.

``DIR/study.lock`` holds the host and process id of the search that runs the study. A second
``search`` or ``--resume`` refuses at once, naming the holder. A lock left by a process that
died on this host is taken over with a warning. A lock held from another host (a shared
filesystem) cannot be checked from here, so it is never taken over: the message names the
host, and the user deletes the file once that search is known to be gone. A lock file that
does not read as a holder (a disk filled up, or the search died, while writing it) is stale once
it is older than a write could take, and is taken over like a dead holder's.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path

from autopeft.errors import AutopeftError, UsageError

LOCK_FILE = "study.lock"
DAMAGED_AFTER_S = 10.0  # a lock file still unreadable this long after it was written is no one's


class StudyLocked(AutopeftError):
    """Another live search holds the study."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _names(text: str, holder: dict) -> bool:
    """Whether a lock file's ``text`` is the one ``holder`` was read from."""
    if "text" in holder:
        return text == holder["text"]
    try:
        return json.loads(text) == holder
    except ValueError:
        return False


class StudyLock:
    """The lock of one study folder; ``with StudyLock(folder):`` holds it for a search."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / LOCK_FILE
        self.me = {"host": socket.gethostname(), "pid": os.getpid()}
        self.held = False

    def holder(self) -> dict | None:
        """Who holds the lock (host, pid, since; and the file's text, to take it over by), or
        None when nobody does."""
        try:
            text = self.path.read_text()
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        except OSError:
            text, age = "", 0.0
        try:
            holder = json.loads(text)
            if not isinstance(holder, dict):
                raise ValueError(text)
        except ValueError:  # being written, or left half-written
            return {"host": "?", "pid": -1, "since": "?", "text": text, "damaged_for": age}
        return holder | {"text": text}

    def check(self) -> None:
        """Refuse at once if a live search holds the study (before anything is loaded), or if
        the study folder is a file (no lock can be there, and no search either)."""
        folder = self.path.parent
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"study_dir: {folder} is a file. Fix: give a folder path (a new one starts a study)")
        holder = self.holder()
        if holder is not None and not self._stale(holder):
            self._refuse(holder)

    def _stale(self, holder: dict) -> bool:
        if holder.get("damaged_for", 0.0) > DAMAGED_AFTER_S:
            return True
        return holder.get("host") == self.me["host"] and holder.get("pid", -1) > 0 and not _alive(holder["pid"])

    def _refuse(self, holder: dict) -> None:
        raise StudyLocked(
            f"study_dir: {self.path.parent} is in use by another search (pid {holder.get('pid')} on "
            f"{holder.get('host')}, since {holder.get('since')}). Fix: wait for it to finish, or, if that search "
            f"is gone, delete {self.path}"
        )

    def acquire(self) -> None:
        for _ in range(3):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self.holder()
                if holder is None:
                    continue  # released meanwhile
                if not self._stale(holder):
                    self._refuse(holder)
                if self._take_over(holder):
                    whose = "a half-written lock" if "damaged_for" in holder else f"pid {holder.get('pid')}"
                    logging.getLogger("autopeft").warning(
                        "taking over the lock of %s from %s, which is no longer running", self.path.parent, whose
                    )
                continue
            with os.fdopen(descriptor, "w") as file:
                json.dump(self.me | {"since": time.strftime("%Y-%m-%d %H:%M:%S")}, file)
            self.held = True
            return
        self._refuse(self.holder() or {})

    def _take_over(self, stale: dict) -> bool:
        """Remove the lock file if it still names ``stale``. It is renamed aside first, so of two
        searches that judged the same dead holder only one removes it; a live lock created
        between the judging and the rename is put back."""
        aside = self.path.with_name(f"{LOCK_FILE}.{self.me['pid']}.stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False  # another search took it over first
        try:
            taken = aside.read_text()
        except OSError:
            taken = None
        if taken is None or not _names(taken, stale):
            os.rename(aside, self.path)
            return False
        aside.unlink(missing_ok=True)
        return True

    def release(self) -> None:
        if self.held and (self.holder() or {}).get("pid") == self.me["pid"]:
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> StudyLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
