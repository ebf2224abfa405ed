"""Files written over older ones are written whole or not at all (issue 39): a failure mid-write
(a full disk, a kill) leaves the older file as it was, and no temporary file beside it."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from autopeft.data.atomic import replacing, write_atomic
from autopeft.spec.yaml_io import read_yaml, write_yaml


def _disk_full_after_half(monkeypatch):
    """Path.write_text writes half its text, then fails as a full disk does."""
    real = Path.write_text

    def half(self, text, *args, **kwargs):
        real(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half)


@pytest.mark.parametrize("write", [write_atomic, lambda path, text: write_yaml(path, {"text": text})])
def test_a_failure_mid_write_leaves_the_older_file_intact(tmp_path, monkeypatch, write):
    file = tmp_path / "spec.yaml"
    write_yaml(file, {"text": "old"})
    _disk_full_after_half(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        write(file, "new " * 1000)
    monkeypatch.undo()
    assert read_yaml(file) == {"text": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["spec.yaml"]  # the partial file is gone


def test_a_write_that_succeeds_replaces_the_file(tmp_path):
    file = tmp_path / "metrics.json"
    file.write_text("old")
    write_atomic(file, "new")
    with replacing(file) as partial:
        assert partial.parent == tmp_path and partial != file
        partial.write_bytes(b"newer")
    assert file.read_text() == "newer" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_a_file_written_whole_gets_the_mode_open_would_give(tmp_path):
    """Not the temporary file's 0o600: a study's spec.yaml, study.db and report were private."""
    import os

    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    write_atomic(tmp_path / "whole.txt", "x")
    assert os.stat(tmp_path / "whole.txt").st_mode & 0o777 == os.stat(plain).st_mode & 0o777
