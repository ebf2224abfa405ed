"""A lock file left half-written (a full disk, or a kill while it was written) is taken over once
it is older than a write could take; a fresh unreadable one is still respected."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import autopeft
from autopeft.store.lock import DAMAGED_AFTER_S, LOCK_FILE, StudyLocked


@pytest.mark.parametrize("text", ['{"host": "h', "", "[1, 2]"])
def test_an_old_half_written_lock_is_taken_over(quick_spec, caplog, text):
    folder = Path(quick_spec["study_dir"])
    folder.mkdir(parents=True)
    lock = folder / LOCK_FILE
    lock.write_text(text)
    old = time.time() - DAMAGED_AFTER_S - 5
    os.utime(lock, (old, old))
    result = autopeft.search(quick_spec | {"trials": 1})
    assert [t.state for t in result.trials] == ["complete"]
    assert "from a half-written lock" in caplog.text and not lock.exists()


def test_a_fresh_unreadable_lock_is_respected(quick_spec):
    folder = Path(quick_spec["study_dir"])
    folder.mkdir(parents=True)
    (folder / LOCK_FILE).write_text('{"host": "h')
    with pytest.raises(StudyLocked, match="in use by another search"):
        autopeft.search(quick_spec | {"trials": 1})
