"""Reading a task's examples: local files, ``save_to_disk`` folders or hub datasets.

Every problem a user can make here (a missing file, a column the data lacks) is a
SpecError raised before any training starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autopeft.errors import SpecError
from autopeft.spec import DataSpec
from autopeft.tasks import Task, task_for

_FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}


@dataclass(frozen=True)
class TaskData:
    """Train and validation rows (labels numeric), the label names and the task."""

    train: Any  # datasets.Dataset
    validation: Any  # datasets.Dataset
    label_names: list[str]
    task: Task

    @property
    def num_labels(self) -> int:
        return len(self.label_names)


def _load_file(path: str, field: str):
    from datasets import load_dataset

    file = Path(path)
    if not file.is_file():
        raise SpecError(field, f"no file at {path}", "fix the path (relative paths start at the spec's folder)")
    builder = _FILE_BUILDERS.get(file.suffix.lower())
    if builder is None:
        raise SpecError(field, f"unsupported file type '{file.suffix}'", f"use one of {', '.join(_FILE_BUILDERS)}")
    return load_dataset(builder, data_files={"rows": str(file)}, split="rows")


def _looks_like_file(value: str) -> bool:
    """A data file's path rather than a hub id or a split name: a known suffix, or a path start."""
    return Path(value).suffix.lower() in _FILE_BUILDERS or value.startswith((".", "/", "~"))


def _is_saved_folder(value: str) -> bool:
    folder = Path(value)
    return folder.is_dir() and any((folder / name).exists() for name in ("dataset_dict.json", "state.json"))


def _load_source(value: str, field: str, subset: str | None, split: str):
    """A local file, a save_to_disk folder, or a split of a hub dataset."""
    if _is_saved_folder(value):
        from datasets import load_from_disk

        loaded = load_from_disk(value)
        if not hasattr(loaded, "keys"):
            return loaded
        if split not in loaded:
            raise SpecError(field, f"{value} has no split '{split}' (splits: {', '.join(loaded)})", "name one of them")
        return loaded[split]
    if _looks_like_file(value):
        return _load_file(value, field)
    from datasets import load_dataset

    try:
        return load_dataset(value, subset, split=split)
    except Exception as error:  # the hub raises many kinds; the user needs the field and the cause
        raise SpecError(
            field,
            f"could not load hub dataset '{value}' split '{split}' ({type(error).__name__})",
            "check the dataset id and network, or give a local file",
        ) from None


def _check_columns(dataset, task: Task, split_field: str) -> None:
    columns = dataset.column_names
    for field, column in task.columns().items():
        if column not in columns:
            raise SpecError(
                field,
                f"column '{column}' is not in {split_field} (columns: {', '.join(columns)})",
                f"set {field.split(' ')[0]} to use the dataset's columns",
            )


def _is_split_name(spec: DataSpec) -> bool:
    """Whether ``validation`` names a split of the train source rather than a file or folder."""
    value = spec.validation
    return not (_looks_like_file(value) or Path(value).is_dir())


def load_task_data(spec: DataSpec, seed: int = 0) -> TaskData:
    """Load and check the train and validation splits named by the spec, shaped for its task."""
    task = task_for(spec)
    train = _load_source(spec.train, "data.train", spec.subset, spec.train_split)
    _check_columns(train, task, "data.train")
    if spec.validation is not None:
        source = spec.train if _is_split_name(spec) else spec.validation
        if source == spec.train and Path(spec.train).is_file():
            raise SpecError(
                "data.validation",
                f"'{spec.validation}' reads as a split name, but data.train is a single file with no splits",
                "give a validation file, or validation_fraction to carve one from train",
            )
        validation = _load_source(source, "data.validation", spec.subset, spec.validation)
        _check_columns(validation, task, "data.validation")
    else:
        parts = train.train_test_split(test_size=spec.validation_fraction, seed=seed)
        train, validation = parts["train"], parts["test"]
    train, validation, names = task.prepare(train, validation)
    return TaskData(train, validation, names, task)
