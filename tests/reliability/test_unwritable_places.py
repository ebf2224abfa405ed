"""A place that refuses writes (read-only, no permission, a full disk) is one line naming the
path and the fix, for `search` (its study folder), `export --out` and `report --out` (issue 39:
each was a traceback). As root, permissions are not enforced, so each case is also run with
the OS's refusal injected where the write happens."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autopeft.cli import app

ROOT = os.geteuid() == 0


def _one_line(ran, code: int = 1) -> str:
    assert ran.exit_code == code, ran.output
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in ran.output, ran.output
    return lines[0]


def _refuse_writes_under(folder: Path, monkeypatch) -> None:
    """Making a folder or a temporary file under ``folder`` fails as on a read-only disk."""
    mkdir, mkstemp = Path.mkdir, tempfile.mkstemp

    def refused(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    def guarded_mkdir(self, *args, **kwargs):
        if not self.is_dir() and self.absolute().is_relative_to(folder.absolute()):
            refused(self)
        return mkdir(self, *args, **kwargs)

    def guarded_mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).absolute().is_relative_to(folder.absolute()):
            refused(Path(dir) / "file")
        return mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(Path, "mkdir", guarded_mkdir)
    monkeypatch.setattr(tempfile, "mkstemp", guarded_mkstemp)


@pytest.mark.skipif(ROOT, reason="root writes into a 0o555 folder; the injected refusals below cover root")
def test_a_read_only_folder_is_one_line_for_every_command(quick_spec, finished_study, tmp_path):
    from conftest import write_spec

    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    spec = write_spec(quick_spec | {"study_dir": str(locked / "study")}, tmp_path)
    runner = CliRunner()
    line = _one_line(runner.invoke(app, ["search", str(spec)]))
    assert f"study_dir: {locked / 'study'} cannot be written (permission denied). Fix: make it writable" in line
    line = _one_line(runner.invoke(app, ["export", str(finished_study), "--trial", "0", "--out", str(locked / "x")]))
    assert f"--out: {locked / 'x'} cannot be written" in line
    line = _one_line(runner.invoke(app, ["report", str(finished_study), "--out", str(locked / "r.html")]))
    assert f"--out: {locked / 'r.html'} cannot be written" in line


def test_search_refuses_an_unwritable_study_folder_before_loading_anything(quick_spec, tmp_path, monkeypatch):
    from conftest import write_spec

    import autopeft.api

    folder = tmp_path / "study"
    writable = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == tmp_path else writable(path, mode))
    monkeypatch.setattr(autopeft.api, "prepare_study", lambda *a, **k: pytest.fail("the model was loaded"))
    ran = CliRunner().invoke(app, ["search", str(write_spec(quick_spec | {"study_dir": str(folder)}, tmp_path))])
    assert f"error: study_dir: {folder} cannot be written (" in _one_line(ran)


def test_search_turns_a_refused_write_into_one_line(quick_spec, tmp_path, monkeypatch):
    from conftest import write_spec

    folder = tmp_path / "study"
    spec = write_spec(quick_spec | {"study_dir": str(folder)}, tmp_path)
    _refuse_writes_under(folder, monkeypatch)
    line = _one_line(CliRunner().invoke(app, ["search", str(spec)]))
    assert line.startswith(f"error: study_dir: {folder}") and "cannot be written (permission denied)" in line
    assert "Fix: make it writable, or pass --study-dir" in line


@pytest.mark.parametrize("command", ["export", "report"])
def test_export_and_report_turn_a_refused_write_into_one_line(finished_study, tmp_path, monkeypatch, command):
    out = tmp_path / "locked" / ("exported" if command == "export" else "report.html")
    out.parent.mkdir()
    _refuse_writes_under(out.parent, monkeypatch)
    extra = ["--trial", "0"] if command == "export" else []
    line = _one_line(CliRunner().invoke(app, [command, str(finished_study), *extra, "--out", str(out)]))
    assert line.startswith(f"error: --out: {out}") and "cannot be written (permission denied). Fix:" in line
