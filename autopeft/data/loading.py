"""Reading a task's examples: local files, ``save_to_disk`` folders or hub datasets.

Every problem a user can make here (a missing file, a column the data lacks) is a
SpecError raised before any training starts. Which columns are needed is the caller's
(the task's) business: this module knows no task.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autopeft.data.source import FILE_BUILDERS, DataSource, looks_like_file
from autopeft.errors import SpecError


def _load_file(path: str, field: str):
    from datasets import load_dataset

    file = Path(path).expanduser()
    if not file.is_file():
        raise SpecError(
            field, f"no file at {path}", "fix the path (relative paths start at the spec's, or the recipe's, folder)"
        )
    builder = FILE_BUILDERS.get(file.suffix.lower())
    if builder is None:
        raise SpecError(field, f"unsupported file type '{file.suffix}'", f"use one of {', '.join(FILE_BUILDERS)}")
    if builder != "parquet":
        _check_text_file(file, field)
    try:
        rows = load_dataset(builder, data_files={"rows": str(file)}, split="rows")
    except Exception as error:  # datasets' readers raise many kinds; the user needs the file and the cause
        cause = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SpecError(field, f"{file} could not be read ({cause})", "fix the file's format") from None
    if len(rows) == 0:
        raise SpecError(field, f"{file} holds no rows", "give a file with examples")
    return rows


def _check_text_file(file: Path, field: str) -> None:
    """Empty files, bytes that are not UTF-8 and (JSON lines) a line that is not a JSON object,
    each named by file and line: datasets would raise a traceback or, worse, skip them."""
    data = file.read_bytes()
    if not data.strip():
        raise SpecError(field, f"{file} is empty", "give a file with examples")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SpecError(
            field, f"{file}, line {line}: bytes that are not UTF-8 text", "save the file as UTF-8"
        ) from None
    if file.suffix.lower() != ".jsonl":
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:
            raise SpecError(
                field, f"{file}, line {number}: not valid JSON ({error.msg})", "fix or remove that line"
            ) from None
        if not isinstance(row, dict):
            raise SpecError(field, f"{file}, line {number}: not a JSON object", "write one object per line")


def _is_saved_folder(value: str) -> bool:
    folder = Path(value).expanduser()
    return folder.is_dir() and any((folder / name).exists() for name in ("dataset_dict.json", "state.json"))


def _load_source(value: str, field: str, subset: str | None, split: str):
    """A local file, a save_to_disk folder, or a split of a hub dataset."""
    if _is_saved_folder(value):
        from datasets import load_from_disk

        loaded = load_from_disk(str(Path(value).expanduser()))
        if not hasattr(loaded, "keys"):
            return loaded
        if split not in loaded:
            raise SpecError(field, f"{value} has no split '{split}' (splits: {', '.join(loaded)})", "name one of them")
        return loaded[split]
    if looks_like_file(value) and not Path(value).expanduser().is_dir():
        return _load_file(value, field)
    from datasets import load_dataset

    try:
        return load_dataset(value, subset, split=split)
    except Exception as error:  # the hub raises many kinds; the user needs the field and the cause
        if Path(value).expanduser().is_dir():  # datasets reads a folder of data files as a dataset too
            raise SpecError(
                field,
                f"could not read the folder {value} as a dataset's split '{split}' ({type(error).__name__})",
                "give a data file (json, jsonl, csv, parquet), a save_to_disk folder, or a folder of data files",
            ) from None
        raise SpecError(
            field,
            f"could not load hub dataset '{value}' split '{split}' ({type(error).__name__})",
            "check the dataset id and network, or give a local file",
        ) from None


def _check_columns(dataset: Any, required: Mapping[str, str], split_field: str, origin: str) -> None:
    """The required columns exist, and no row leaves one of them empty (null, or blank text)."""
    columns = dataset.column_names
    for field, column in required.items():
        if column not in columns:
            raise SpecError(
                field,
                f"column '{column}' is not in {split_field} (columns: {', '.join(columns)})",
                f"set {field.split(' ')[0]} to use the dataset's columns",
            )
        text = field.startswith("data.text")  # text columns are read by the tokenizer: strings only
        for index, value in enumerate(dataset[column]):
            if value is None or (isinstance(value, str) and not value.strip()):
                what = "no value" if value is None else "empty text"
                raise SpecError(
                    split_field,
                    f"{origin}, row {index + 1}: {what} in column '{column}'",
                    "fill it in or remove the row",
                )
            if not isinstance(value, str) if text else isinstance(value, (list, dict)):
                kind = "text" if text else "one value (a label or a number)"
                raise SpecError(
                    split_field,
                    f"{origin}, row {index + 1}: column '{column}' holds {type(value).__name__} {str(value)[:40]!r}, "
                    f"not {kind}",
                    f"give {field} a column of {kind}, or fix the row",
                )


def _is_split_name(value: str) -> bool:
    """Whether a ``validation`` value names a split of the train source rather than a file or folder."""
    return not (looks_like_file(value) or Path(value).expanduser().is_dir())


def _check_carving(rows: int, fraction: float) -> None:
    """Both parts of train that ``validation_fraction`` carves hold rows (datasets' rule: the
    validation part is the fraction rounded up)."""
    held = math.ceil(fraction * rows)
    if held < 1 or rows - held < 1:
        raise SpecError(
            "data.validation_fraction",
            f"{fraction:g} of data.train's {rows} rows leaves {rows - held} to train on and {held} to validate",
            "lower it, or give a validation file",
        )


def load_splits(
    source: DataSource, required: Mapping[str, str], seed: int = 0, field: str = "data.validation"
) -> tuple[Any, Any]:
    """The train and validation splits (``datasets.Dataset``) of ``source``, checked to hold
    the ``required`` columns (spec field -> column name, the field named in errors); ``field``
    names the validation source in errors (``--test`` for held-out rows).

    Without a validation source, ``source.validation_fraction`` of train is split off with ``seed``.
    """
    train = _load_source(source.train, "data.train", source.subset, source.train_split)
    _check_columns(train, required, "data.train", source.train)
    if source.validation is None:
        _check_carving(len(train), source.validation_fraction)
        parts = train.train_test_split(test_size=source.validation_fraction, seed=seed)
        return parts["train"], parts["test"]
    split_name = _is_split_name(source.validation)
    validation_source = source.train if split_name else source.validation
    if not split_name and validation_source == source.train:
        raise SpecError(
            field,
            f"is data.train's own file ({source.train}): scores on it would not be held out",
            "give a file of other rows, or validation_fraction to carve them from train",
        )
    if validation_source == source.train and Path(source.train).expanduser().is_file():
        raise SpecError(
            field,
            f"'{source.validation}' reads as a split name, but data.train is a single file with no splits",
            "give a validation file, or validation_fraction to carve one from train",
        )
    validation = _load_source(validation_source, field, source.subset, source.validation)
    _check_columns(validation, required, field, validation_source)
    return train, validation
