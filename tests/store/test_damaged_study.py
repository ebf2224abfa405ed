"""A study folder as a user may leave it: read by show and export without a write, and an empty
or damaged database, a damaged spec file or a read-only folder told in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import autopeft


def _show(folder: Path):
    from typer.testing import CliRunner

    from autopeft.cli import app

    return CliRunner().invoke(app, ["show", str(folder)])


def test_show_and_export_never_write_the_study(finished_study, tmp_path):
    from autopeft.finetune.export import export_trial

    db = finished_study / "study.db"
    before = db.read_bytes()
    assert _show(finished_study).exit_code == 0
    export_trial(finished_study, 0, tmp_path / "out")
    assert db.read_bytes() == before
    from autopeft.finetune.export import export_reference

    with pytest.raises(autopeft.AutopeftError, match=r"no trained reference 'lora'.*Fix: use one of: lora-r4-qv"):
        export_reference(finished_study, "lora", tmp_path / "ref")  # the study's one reference is lora-r4-qv


def test_an_empty_database_is_one_line_and_stays_empty(finished_study):
    db = finished_study / "study.db"
    db.write_bytes(b"")
    shown = _show(finished_study)
    assert shown.exit_code == 1 and "study.db is empty (no study was ever written to it). Fix:" in shown.stderr
    assert db.stat().st_size == 0, "a read-only command wrote nothing"


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_database_is_one_line(finished_study, damage):
    db = finished_study / "study.db"
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not a database" * 100)
    shown = _show(finished_study)
    assert shown.exit_code == 1, shown.output
    assert "is not a readable study database" in shown.output and "Fix: restore it from a copy" in shown.output
    assert "Traceback" not in shown.output and len(shown.output.strip().splitlines()) <= 3
    with pytest.raises(autopeft.AutopeftError, match="is not a readable study database"):
        autopeft.resume(finished_study)


def test_a_damaged_spec_file_is_one_line_naming_it(finished_study):
    spec_file = finished_study / "spec.yaml"
    spec_file.write_text(spec_file.read_text() + "name: [cut off mid-write\n")
    shown = _show(finished_study)
    assert shown.exit_code == 2 and "Traceback" not in shown.output  # 2: a spec error, as for a spec the user wrote
    assert f"{spec_file}: line" in shown.output and "malformed YAML" in shown.output, shown.output


def test_resume_in_a_read_only_folder_says_so(finished_study, monkeypatch):
    real_access = os.access
    # Tests run as root, which writes through file modes: pretend the folder is on a read-only mount.
    monkeypatch.setattr(os, "access", lambda path, mode: False if mode == os.W_OK else real_access(path, mode))
    with pytest.raises(
        autopeft.AutopeftError, match=r"study\.db cannot be written \(the file or its folder is read-only\)"
    ):
        autopeft.resume(finished_study)
