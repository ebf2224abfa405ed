"""Ctrl-C while a study's database is being made leaves no half-built ``study.db`` (issue 39:
``show`` called it damaged): the database is built under a temporary name and renamed into
place once the study is in it, so the folder reads as "not a study folder" and a rerun starts
the study cleanly."""

from __future__ import annotations

from pathlib import Path

import optuna.storages._rdb.storage as rdb
import pytest
from typer.testing import CliRunner

import autopeft
from autopeft.cli import app


def test_ctrl_c_mid_creation_leaves_no_database_and_a_rerun_works(quick_spec, monkeypatch):
    folder = Path(quick_spec["study_dir"])
    with monkeypatch.context() as patched:

        def interrupted(*args, **kwargs):  # the schema's tables are written, its version not yet
            raise KeyboardInterrupt

        patched.setattr(rdb, "_VersionManager", interrupted)
        with pytest.raises(KeyboardInterrupt):
            autopeft.search(quick_spec, trials=1)
    assert sorted(p.name for p in folder.iterdir()) == ["cache", "spec.yaml"]  # no database, no temporary file
    shown = CliRunner().invoke(app, ["show", str(folder)])
    assert shown.exit_code == 2 and len(shown.stderr.strip().splitlines()) == 1, shown.output
    assert f"error: study: {folder} is not a study folder" in shown.stderr
    rerun = autopeft.search(quick_spec, trials=1)
    assert [t.state for t in rerun.trials] == ["complete"]


def test_ctrl_c_before_any_trial_is_one_line_with_the_shells_code(quick_spec, tmp_path, monkeypatch):
    from conftest import write_spec

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(rdb, "_VersionManager", interrupted)
    ran = CliRunner().invoke(app, ["search", str(write_spec(quick_spec, tmp_path))])
    assert ran.exit_code == 130, ran.output
    assert ran.stderr == "error: interrupted before any trial started. Fix: run the same command again\n"
