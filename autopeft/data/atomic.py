"""Files written whole or not at all: every file autopeft writes over one it wrote before goes
through here, so that a kill, a full disk or a failing serializer mid-write leaves the older
file as it was, never a truncated one that the next run cannot read.

It sits in the lowest layer (beside the token cache, its first user) so that every layer
above can use it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: a file written here gets the mode open() would give it, not mkstemp's 0o600
FILE_MODE = 0o666 & ~_UMASK


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for the caller to write; renamed over ``path`` when the
    block ends without error, removed when it raises. The name is unique per writer (several
    workers may write one cache file)."""
    path = Path(path)
    try:
        descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:  # named by the file meant, not the temporary one (a read-only folder)
        raise OSError(error.errno, error.strerror, str(path)) from None
    os.close(descriptor)
    partial = Path(name)
    partial.chmod(FILE_MODE)
    try:
        yield partial
        partial.replace(path)
    except BaseException as error:
        partial.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename in (None, name, partial):  # a full disk mid-write
            raise OSError(error.errno, error.strerror, str(path)) from None
        raise


def write_atomic(path: Path, content: str | bytes) -> None:
    """``content`` at ``path``, renamed into place whole (text as UTF-8)."""
    with replacing(path) as partial:
        if isinstance(content, bytes):
            partial.write_bytes(content)
        else:
            partial.write_text(content, encoding="utf-8")
