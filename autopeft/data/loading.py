"""Reading a task's examples: local files, ``save_to_disk`` folders or hub datasets.

Every problem a user can make here (a missing file, a column the data lacks) is a
SpecError raised before any training starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autopeft.errors import SpecError
from autopeft.spec import DataSpec

_FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}


@dataclass(frozen=True)
class TaskData:
    """Train and validation rows with integer labels, and the label names."""

    train: object  # datasets.Dataset
    validation: object  # datasets.Dataset
    label_names: list[str]

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def majority_rate(self) -> float:
        """Accuracy of always predicting the most common validation label."""
        labels = list(self.validation["label"])
        return max(labels.count(i) for i in range(self.num_labels)) / len(labels)


def _load_file(path: str, field: str):
    from datasets import load_dataset

    file = Path(path)
    if not file.is_file():
        raise SpecError(field, f"no file at {path}", "fix the path (relative paths start at the spec's folder)")
    builder = _FILE_BUILDERS.get(file.suffix.lower())
    if builder is None:
        raise SpecError(field, f"unsupported file type '{file.suffix}'", f"use one of {', '.join(_FILE_BUILDERS)}")
    return load_dataset(builder, data_files={"rows": str(file)}, split="rows")


def _load_source(value: str, field: str, subset: str | None, split: str):
    """A local file, a save_to_disk folder, or a split of a hub dataset."""
    if Path(value).suffix.lower() in _FILE_BUILDERS or value.startswith((".", "/")) and not Path(value).is_dir():
        return _load_file(value, field)
    if Path(value).is_dir() and any((Path(value) / name).exists() for name in ("dataset_dict.json", "state.json")):
        from datasets import load_from_disk

        loaded = load_from_disk(value)
        return loaded[split] if hasattr(loaded, "keys") else loaded
    from datasets import load_dataset

    try:
        return load_dataset(value, subset, split=split)
    except Exception as error:  # the hub raises many kinds; the user needs the field and the cause
        raise SpecError(
            field,
            f"could not load hub dataset '{value}' split '{split}' ({type(error).__name__})",
            "check the dataset id and network, or give a local file",
        ) from None


def _check_columns(dataset, spec: DataSpec, split_field: str) -> None:
    columns = dataset.column_names
    wanted = {"data.text": spec.text, "data.label": spec.label}
    if spec.text_pair is not None:
        wanted["data.text_pair"] = spec.text_pair
    for field, column in wanted.items():
        if column not in columns:
            raise SpecError(
                field,
                f"column '{column}' is not in {split_field} (columns: {', '.join(columns)})",
                f"set {field} to one of the dataset's columns",
            )


def _label_names(train, label_column: str) -> list[str]:
    values = sorted(set(list(train[label_column])), key=lambda v: (isinstance(v, str), v))
    return [str(v) for v in values]


def load_task_data(spec: DataSpec, seed: int = 0) -> TaskData:
    """Load, check and label-encode the train and validation splits named by the spec."""
    train = _load_source(spec.train, "data.train", spec.subset, "train")
    _check_columns(train, spec, "data.train")
    if spec.validation is not None:
        validation = _load_source(spec.validation, "data.validation", spec.subset, spec.validation)
        _check_columns(validation, spec, "data.validation")
    else:
        parts = train.train_test_split(test_size=spec.validation_fraction, seed=seed)
        train, validation = parts["train"], parts["test"]

    names = _label_names(train, spec.label)
    index = {name: i for i, name in enumerate(names)}
    if len(names) < 2:
        raise SpecError(
            "data.label", f"column '{spec.label}' has fewer than two distinct labels", "point it at the label column"
        )

    def encode(split, field):
        column = list(split[spec.label])
        unknown = {str(v) for v in column} - set(index)
        if unknown:
            raise SpecError(
                field, f"labels {sorted(unknown)[:5]} do not occur in train", "make both splits share one label set"
            )
        keep = [c for c in (spec.text, spec.text_pair) if c]
        labels = [index[str(v)] for v in column]
        return split.select_columns(keep).add_column("label", labels)

    return TaskData(encode(train, "data.train"), encode(validation, "data.validation"), names)
