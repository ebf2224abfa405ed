"""Data changed under a study: a later run refuses rows that differ from those its trials were
scored on, naming the file, unless told to accept them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import DEMO_DATA

import autopeft
from autopeft.errors import AutopeftError


def _copy_data(quick_spec: dict, tmp_path: Path) -> dict:
    data = dict(quick_spec["data"])
    for split in ("train", "validation"):
        data[split] = str(shutil.copy(DEMO_DATA / f"{split}.jsonl", tmp_path / f"{split}.jsonl"))
    return quick_spec | {"data": data, "trials": 1}


def test_a_changed_validation_file_is_refused_naming_it_and_accepted_when_asked(quick_spec, tmp_path):
    spec = _copy_data(quick_spec, tmp_path)
    autopeft.search(spec)
    validation = Path(spec["data"]["validation"])
    lines = validation.read_text().splitlines()
    validation.write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    with pytest.raises(
        AutopeftError, match=rf"^data.validation: {validation} changed since .*Fix: .*--accept-changed-data"
    ):
        autopeft.search(spec | {"trials": 2})
    with pytest.raises(AutopeftError, match="data.validation"):
        autopeft.resume(spec["study_dir"])
    result = autopeft.search(spec | {"trials": 2}, accept_changed_data=True)
    assert len(result.trials) == 2
    assert autopeft.search(spec | {"trials": 2}).trials  # the new rows are the study's rows now


def test_the_same_rows_go_on_untouched(quick_spec, tmp_path):
    spec = _copy_data(quick_spec, tmp_path)
    autopeft.search(spec)
    Path(spec["data"]["train"]).touch()  # a newer date, the same rows
    assert len(autopeft.search(spec | {"trials": 2}).trials) == 2
