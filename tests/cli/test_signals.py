"""SIGTERM and Ctrl-C stop a search the same way: the trial in flight is marked interrupted and
queued to run first, and the resume command is printed with the real (quoted) path."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import yaml

from autopeft.store.records import INTERRUPTED_REASON
from autopeft.store.study import StudyStore


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_marks_the_trial_in_flight_and_prints_the_resume_command(quick_spec, tmp_path, sent, code):
    folder = tmp_path / "my study"
    spec = quick_spec | {"trials": 2, "study_dir": str(folder), "budget": quick_spec["budget"] | {"steps": 4000}}
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    process = subprocess.Popen(
        [sys.executable, "-m", "autopeft.cli", "search", str(spec_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a shell's `cmd &` ignores it
    )
    deadline = time.monotonic() + 120
    while not (folder / "study.db").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(4)  # the first trial is training
    process.send_signal(sent)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    assert f"autopeft search --resume '{folder}'" in err and "Traceback" not in err
    records = StudyStore.open(folder, read_only=True).records()
    assert records[0].fail_reason == INTERRUPTED_REASON  # marked now, not only when a resume finds it
    assert [r.state for r in records[1:]] == ["waiting"]  # its point, queued to run first
