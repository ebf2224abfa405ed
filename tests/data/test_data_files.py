"""Data files as users write them: paths under ~, bad files and rows told in one line naming
file and row, and labels that are equal as numbers counted as one class."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import autopeft


def test_data_paths_expand_the_home_folder(quick_spec, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copy(quick_spec["data"]["train"], tmp_path / "train.jsonl")
    quick_spec["data"]["train"] = "~/train.jsonl"
    result = autopeft.search(quick_spec, trials=1)
    assert result.trials[0].state == "complete", result.trials[0].fail_reason


def _rows(count: int = 40, label=lambda i: i % 2, start: int = 0) -> list[dict]:
    """Rows numbered from ``start``: a validation file starts past train's rows (a copy is refused)."""
    numbers = range(start, start + count)
    return [{"sentence": f"review number {i} is {'good' if i % 2 else 'bad'}", "label": label(i)} for i in numbers]


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda p: p.write_text(""), r"data.train: .*train.jsonl is empty\. Fix: give a file with examples"),
        (
            lambda p: _write_jsonl(p, _rows()[:5] + [{"sentence": None, "label": 1}]),
            r"row 6: no value in column 'sentence'",
        ),
        (
            lambda p: _write_jsonl(p, _rows()[:3] + [{"sentence": "  ", "label": 1}]),
            r"row 4: empty text in column 'sentence'",
        ),
        (
            lambda p: _write_jsonl(p, _rows()[:7] + [{"sentence": "fine", "label": None}]),
            r"row 8: no value in column 'label'",
        ),
        (
            lambda p: p.write_bytes(b'{"sentence": "ok", "label": 1}\n{"sentence": "caf\xe9", "label": 0}\n'),
            r"line 2: bytes that are not UTF-8 text\. Fix: save the file as UTF-8",
        ),
        (
            lambda p: p.write_text('{"sentence": "ok", "label": 1}\n{"sentence": "broken", \n'),
            r"line 2: not valid JSON .*Fix: fix or remove that line",
        ),
    ],
)
def test_bad_data_files_are_one_line_naming_file_and_row(quick_spec, tmp_path, damage, expected):
    train = tmp_path / "train.jsonl"
    damage(train)
    quick_spec["data"]["train"] = str(train)
    with pytest.raises(autopeft.SpecError, match=expected):
        autopeft.search(quick_spec, trials=1)
    assert not Path(quick_spec["study_dir"]).exists(), "refused before any study exists"


def test_labels_equal_as_numbers_are_one_class(quick_spec, tmp_path):
    quick_spec["data"]["train"] = str(_write_jsonl(tmp_path / "train.jsonl", _rows(label=lambda i: float(i % 2))))
    quick_spec["data"]["validation"] = str(_write_jsonl(tmp_path / "validation.jsonl", _rows(10, start=100)))
    result = autopeft.search(quick_spec, trials=1)
    assert result.trials[0].state == "complete"
    quick_spec["data"]["validation"] = str(
        _write_jsonl(tmp_path / "other.jsonl", _rows(10, label=lambda i: 2 + i % 2, start=100))
    )
    quick_spec["study_dir"] += "-2"
    with pytest.raises(
        autopeft.SpecError, match=r"labels \['2', '3'\] do not occur in train \(train's labels: \['0', '1'\]\)"
    ):
        autopeft.search(quick_spec, trials=1)


def test_a_folder_of_data_files_reads_and_an_empty_one_is_named_as_a_folder(quick_spec, tmp_path):
    folder = tmp_path / "rows"
    folder.mkdir()
    quick_spec["data"] |= {
        "train": str(folder),
        "validation": str(_write_jsonl(tmp_path / "valid.jsonl", _rows(10, start=100))),
    }
    with pytest.raises(autopeft.SpecError, match=rf"data.train: could not read the folder {folder} as a dataset's"):
        autopeft.search(quick_spec, trials=1)  # not "no file", not "hub dataset"
    _write_jsonl(folder / "train.jsonl", _rows())  # datasets reads a folder of files by their names' splits
    result = autopeft.search(quick_spec, trials=1)
    assert result.trials[0].state == "complete", result.trials[0].fail_reason


def test_a_carving_that_leaves_no_training_row_or_the_train_file_as_validation_is_one_line(quick_spec, tmp_path):
    train = _write_jsonl(tmp_path / "train.jsonl", _rows())
    quick_spec["data"] = {"train": str(train), "validation_fraction": 0.99, "text": "sentence", "label": "label"}
    with pytest.raises(
        autopeft.SpecError, match=r"^data.validation_fraction: 0.99 of data.train's 40 rows leaves 0 to"
    ):
        autopeft.search(quick_spec, trials=1)  # not sklearn's traceback
    quick_spec["data"] = {"train": str(train), "validation": str(train), "text": "sentence", "label": "label"}
    with pytest.raises(autopeft.SpecError, match=r"^data.validation: is data.train's own file .*Fix: give a file of"):
        autopeft.search(quick_spec, trials=1)


def test_labels_mixing_numbers_and_text_are_refused_naming_the_column(quick_spec, tmp_path):
    rows = _rows(label=lambda i: i % 2 if i < 20 else ("neg", "pos")[i % 2])  # two spellings of two classes
    quick_spec["data"]["train"] = str(_write_jsonl(tmp_path / "train.jsonl", rows))
    with pytest.raises(autopeft.SpecError, match=r"^data.label: column 'label' mixes numbers \[0, 1\] and text"):
        autopeft.search(quick_spec, trials=1)  # not a 4-class head
