"""One search at a time on a study: a second search on a live study refuses, and a lock left by
a dead search is taken over, never one held from another host.

Each test asserts that no finished trial is lost and no point is trained twice where it can.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, write_spec

import autopeft
from autopeft import resume
from autopeft.errors import UsageError
from autopeft.store.lock import LOCK_FILE, StudyLocked


def _cli(*args: str, cwd: Path) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "autopeft.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_second_search_on_a_live_study_refuses_and_the_first_finishes(quick_spec, tmp_path):
    quick_spec |= {"trials": 12, "sampler": "random", "budget": quick_spec["budget"] | {"steps": 100}}
    spec_file = write_spec(quick_spec, tmp_path)
    lock = Path(quick_spec["study_dir"]) / LOCK_FILE
    first = _cli("search", str(spec_file), cwd=tmp_path)
    deadline = time.monotonic() + 300
    while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lock.exists(), "the first search holds the study while it runs"
    holder = json.loads(lock.read_text())
    assert holder["pid"] == first.pid and holder["host"] == socket.gethostname()

    second = _cli("search", str(spec_file), cwd=tmp_path)
    resumed = _cli("search", "--resume", quick_spec["study_dir"], cwd=tmp_path)
    for other in (second, resumed):
        output = other.communicate(timeout=120)[0]
        assert other.returncode != 0
        assert f"is in use by another search (pid {first.pid} on {holder['host']}" in output, output
        assert "Traceback" not in output
    assert first.poll() is None, "the refusals came while the first search ran"

    assert first.wait(timeout=600) == 0, first.stdout.read()
    result = autopeft.load_study(quick_spec["study_dir"])
    assert len(result.trials) == 12, "the first search ran all its trials"
    assert not any(t.interrupted for t in result.trials)
    assert sum(t.state == "complete" for t in result.trials) >= 6, "and lost none of them"
    assert not lock.exists(), "a finished search releases the study"


def test_a_lock_left_by_a_dead_search_is_taken_over(quick_spec, caplog):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    folder = Path(quick_spec["study_dir"])
    folder.mkdir(parents=True)
    (folder / LOCK_FILE).write_text(json.dumps({"host": socket.gethostname(), "pid": gone.pid, "since": "then"}))
    result = autopeft.search(quick_spec, trials=1)
    assert [t.state for t in result.trials] == ["complete"]
    assert f"taking over the lock of {folder} from pid {gone.pid}" in caplog.text
    assert not (folder / LOCK_FILE).exists()


def test_of_two_searches_taking_over_one_dead_lock_only_one_gets_it(tmp_path, monkeypatch):
    """B judged the dead holder stale, but A took the lock over first: B must not remove A's lock."""
    from autopeft.store.lock import StudyLock

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = {"host": socket.gethostname(), "pid": gone.pid, "since": "then"}
    alive = {"host": socket.gethostname(), "pid": os.getpid(), "since": "now"}  # A, which took it over
    (tmp_path / LOCK_FILE).write_text(json.dumps(alive))
    b = StudyLock(tmp_path)
    reads = iter([dead])  # what B read before A's takeover landed
    real_holder = StudyLock.holder
    monkeypatch.setattr(StudyLock, "holder", lambda self: next(reads, None) or real_holder(self))
    with pytest.raises(StudyLocked, match=f"pid {os.getpid()}"):
        b.acquire()
    assert json.loads((tmp_path / LOCK_FILE).read_text()) == alive, "A's lock is left in place"
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_FILE]


def test_a_lock_held_from_another_host_is_never_taken_over(quick_spec):
    folder = Path(quick_spec["study_dir"])
    folder.mkdir(parents=True)
    (folder / LOCK_FILE).write_text(json.dumps({"host": "other-node", "pid": 1, "since": "then"}))
    with pytest.raises(StudyLocked, match=r"in use by another search \(pid 1 on other-node.*delete .*study.lock"):
        autopeft.search(quick_spec, trials=1)
    assert not (folder / "study.db").exists(), "refused before anything was written"


def test_resume_of_a_study_in_use_says_so_before_it_opens_the_database(finished_study):
    """A database another search is writing may not open cleanly: that is not damage to restore."""
    (finished_study / LOCK_FILE).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
    (finished_study / "study.db").write_bytes(b"mid-write" * 100)
    with pytest.raises(StudyLocked, match="is in use by another search"):
        autopeft.resume(finished_study / "study.db")


def test_search_and_resume_hold_the_study_while_trials_run(quick_spec):
    from autopeft.driver.observer import SearchObserver

    lock, holders = Path(quick_spec["study_dir"]) / LOCK_FILE, []

    class LockWatcher(SearchObserver):
        def on_trial_start(self, number: int) -> None:
            holders.append(json.loads(lock.read_text())["pid"] if lock.exists() else None)

    class StoppedAtTheSecondTrial(LockWatcher):
        def on_trial_start(self, number: int) -> None:
            super().on_trial_start(number)
            if number == 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        autopeft.search(quick_spec, observer=StoppedAtTheSecondTrial())  # 3 trials
    assert not lock.exists(), "an interrupted search releases the study"
    autopeft.resume(quick_spec["study_dir"], observer=LockWatcher())  # the second again, then the third
    assert holders == [os.getpid()] * 4 and not lock.exists(), "held while each trial ran, released after"


def test_a_study_dir_that_is_a_file_is_named_as_one_not_as_a_study_in_use(quick_spec, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    for call in (lambda: autopeft.search(quick_spec | {"study_dir": str(afile)}, trials=1), lambda: resume(afile)):
        with pytest.raises(UsageError, match=rf"^study_dir: {afile} is a file\. Fix: give a folder path"):
            call()
    assert afile.read_text() == "mine"
