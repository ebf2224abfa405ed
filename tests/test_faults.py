"""Faults a real user runs into: two searches on one study, locks left by dead searches.

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
import yaml

import autopeft
from autopeft.lock import LOCK_FILE, StudyLocked

REPO = Path(__file__).resolve().parents[1]


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


def _write_spec(quick_spec: dict, folder: Path) -> Path:
    spec_file = folder / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(quick_spec))
    return spec_file


def test_a_second_search_on_a_live_study_refuses_and_the_first_finishes(quick_spec, tmp_path):
    quick_spec |= {"trials": 2, "budget": quick_spec["budget"] | {"steps": 120}}
    spec_file = _write_spec(quick_spec, tmp_path)
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
    assert [t.state for t in result.trials] == ["complete"] * 2, "the first search lost nothing"
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


def test_a_lock_held_from_another_host_is_never_taken_over(quick_spec):
    folder = Path(quick_spec["study_dir"])
    folder.mkdir(parents=True)
    (folder / LOCK_FILE).write_text(json.dumps({"host": "other-node", "pid": 1, "since": "then"}))
    with pytest.raises(StudyLocked, match=r"in use by another search \(pid 1 on other-node.*delete .*study.lock"):
        autopeft.search(quick_spec, trials=1)
    assert not (folder / "study.db").exists(), "refused before anything was written"
