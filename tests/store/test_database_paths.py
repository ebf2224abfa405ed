"""A study folder's name is a path, never URL syntax: `?`, `%41` and `#` in it keep the
database inside the folder named (they once sent it to a sibling file, or into another study)."""

from __future__ import annotations

from pathlib import Path

import pytest

import autopeft
from autopeft.store.study import StudyStore


@pytest.mark.parametrize("name", ["run?mode=ro", "run%41", "run#x", "study.db?y"])
def test_the_database_lands_in_the_folder_named(quick_spec, tmp_path, name):
    folder = tmp_path / name
    result = autopeft.search(quick_spec | {"study_dir": str(folder), "trials": 1})
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".db") == ["study.db"]
    assert [p.name for p in tmp_path.iterdir()] == [name]  # nothing written beside it
    assert len(StudyStore.open(folder, read_only=True).records()) == len(result.trials) == 1


def test_a_question_mark_cannot_reach_another_study(quick_spec, tmp_path):
    victim = tmp_path / "victim"
    autopeft.search(quick_spec | {"study_dir": str(victim), "trials": 1})
    before = len(StudyStore.open(victim, read_only=True).records())
    autopeft.search(quick_spec | {"study_dir": str(victim / "study.db?y"), "trials": 1, "seed": 5})
    assert len(StudyStore.open(victim, read_only=True).records()) == before
    assert Path(victim / "study.db?y" / "study.db").is_file()
