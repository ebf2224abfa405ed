"""Where autopeft writes (a study folder, an export, a report) told in one line when the place
refuses writes (read-only, no permission, full), instead of a traceback.

Two halves: ``refuse_unwritable`` checks up front, before minutes of model loading, from the
nearest folder that exists; ``writes_to`` turns a refused write found later into the same line.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from autopeft.errors import AutopeftError

# What the OS answers to a write the place refuses, and how the place may be repaired.
REPAIRS = {
    errno.EACCES: "make it writable",
    errno.EPERM: "make it writable",
    errno.EROFS: "make it writable",
    errno.ENOSPC: "free space on that disk",
    errno.EDQUOT: "free space on that disk",
}
# A path that cannot name a new file (a file where a folder should be, a folder's "..", a long name).
MISNAMED = {errno.ENOTDIR, errno.EEXIST, errno.EISDIR, errno.EBUSY, errno.ENAMETOOLONG, errno.EINVAL}


def unwritable_error(field: str, path: Path | str, reason: str, fix: str, repair: str | None = None) -> AutopeftError:
    """``fix`` is the way around the place (another one); the line offers ``repair`` first."""
    first = f"{repair}, or " if repair else ""
    return AutopeftError(f"{field}: {path} cannot be written ({reason}). Fix: {first}{fix}")


def refuse_unwritable(path: str | Path, field: str, fix: str) -> None:
    """Raise the one line if ``path`` (a folder to write in, made if missing) cannot be written."""
    path = Path(path).absolute()
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None:
        return
    if not existing.is_dir():
        raise unwritable_error(field, path, f"{existing} is a file, not a folder", fix)
    if not os.access(existing, os.W_OK | os.X_OK):  # EROFS, or permissions (root passes these)
        read_only = os.statvfs(existing).f_flag & os.ST_RDONLY
        reason = "read-only file system" if read_only else "permission denied"
        raise unwritable_error(field, path, reason, fix, REPAIRS[errno.EACCES])


@contextmanager
def writes_to(path: str | Path, field: str, fix: str) -> Iterator[None]:
    """The block's writes under ``path``; a write the OS refuses becomes the one line."""
    try:
        yield
    except OSError as error:
        if error.errno not in REPAIRS and error.errno not in MISNAMED:
            raise
        where = error.filename if error.filename is not None else path
        reason = (error.strerror or str(error)).lower()
        raise unwritable_error(field, where, reason, fix, REPAIRS.get(error.errno)) from None
