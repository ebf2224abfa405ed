"""`report` writes its page and PNGs whole or not at all, only where the user means (issue 39):
a failure mid-write keeps the older report; `--out` naming a folder, or a file autopeft did not
write (a spec YAML became HTML), or beside a PNG it did not draw, is one line and changes nothing.
An adapter's files are written whole too."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from typer.testing import CliRunner

from autopeft.cli import app


def _report(study: Path, *out: str):
    return CliRunner().invoke(app, ["report", str(study), *(["--out", out[0]] if out else [])])


def _half_then_full(monkeypatch, cls, method: str) -> None:
    """``cls.method`` writes half of what it was given, then fails as a full disk does."""
    real = getattr(cls, method)

    def half(self, content, *args, **kwargs):
        real(self, content[: len(content) // 2], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cls, method, half)


def test_a_full_disk_mid_report_keeps_the_older_report(finished_study, monkeypatch):
    page = finished_study / "report.html"
    before = page.read_bytes()
    _half_then_full(monkeypatch, Path, "write_text")
    ran = _report(finished_study)
    assert ran.exit_code == 1 and ran.stderr.startswith(f"error: --out: {page} cannot be written (no space left")
    assert page.read_bytes() == before
    assert not [p for p in finished_study.iterdir() if p.suffix == ".tmp"]


def test_a_failure_mid_picture_keeps_the_older_png(finished_study, monkeypatch):
    png = finished_study / "pareto-front.png"
    before = png.read_bytes()
    real = Figure.savefig

    def broken(self, target, *args, **kwargs):
        real(self, target, *args, **kwargs)
        Path(target).write_bytes(Path(target).read_bytes()[:100])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", broken)
    assert _report(finished_study).exit_code == 1
    assert png.read_bytes() == before


def test_report_out_refuses_a_folder_and_files_it_did_not_write(finished_study, tmp_path):
    tmp_path = tmp_path / "place"
    tmp_path.mkdir()
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: mine\n")
    shown = _report(finished_study, str(tmp_path))
    assert shown.exit_code == 2 and shown.stderr.startswith(f"error: --out: {tmp_path} is a folder;")
    assert f"Fix: name the file, e.g. --out {tmp_path / 'report.html'}" in shown.stderr
    shown = _report(finished_study, str(spec))
    assert shown.exit_code == 2 and f"--out: {spec} exists and is not a report autopeft wrote" in shown.stderr
    assert spec.read_text() == "name: mine\n" and sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]

    mine = tmp_path / "pareto-front.png"  # a picture of the user's, beside the page to be written
    mine.write_bytes(b"\x89PNG\r\n\x1a\n a holiday picture")
    shown = _report(finished_study, str(tmp_path / "report.html"))
    assert shown.exit_code == 2 and f"--out: {mine} exists and is not a report autopeft wrote" in shown.stderr
    assert mine.read_bytes() == b"\x89PNG\r\n\x1a\n a holiday picture"
    mine.unlink()
    assert _report(finished_study, str(tmp_path / "report.html")).exit_code == 0
    assert _report(finished_study, str(tmp_path / "report.html")).exit_code == 0, "its own report is replaced"


def test_a_failure_mid_adapter_write_keeps_the_older_config(tmp_path, monkeypatch):
    from autopeft.methods.io import AUTOPEFT_CONFIG, write_adapter_config
    from autopeft.space.base import Point

    bias = {"method": "bias", "settings": {}}
    point = Point.from_dict(
        {"method": "bias", "components": [bias], "hyperparameters": {"learning_rate": 1e-3, "head_learning_rate": 1e-2}}
    )
    write_adapter_config(point, ["classifier"], tmp_path, "base")
    before = (tmp_path / AUTOPEFT_CONFIG).read_text()
    _half_then_full(monkeypatch, Path, "write_text")
    with pytest.raises(OSError, match="No space left"):
        write_adapter_config(point, ["classifier", "pooler"], tmp_path, "other")
    monkeypatch.undo()
    assert json.loads((tmp_path / AUTOPEFT_CONFIG).read_text()) == json.loads(before)
