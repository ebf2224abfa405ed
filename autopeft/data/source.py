"""Where a task's examples are and which columns hold what, as plain values.

The loaders (``autopeft.data.loading``) and the tasks (``autopeft.tasks``) take these types,
so data loads without a study spec; the spec's ``data`` (``autopeft.spec.DataSpec``)
validates user input and converts to them. This module imports nothing of the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Local file suffixes and the ``datasets`` builder that reads each.
FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}


def looks_like_file(value: str) -> bool:
    """A data file's path rather than a hub id or a split name: a known suffix, or a path start
    (``.``, ``/``, ``~``). Both the spec (resolving relative paths) and the loaders use it."""
    return Path(value).suffix.lower() in FILE_BUILDERS or value.startswith((".", "/", "~"))


@dataclass(frozen=True)
class DataSource:
    """The train and validation examples: local json/jsonl/csv/parquet files, ``save_to_disk``
    folders or hub dataset ids.

    ``validation`` is a file or folder, or a split name of the train source; without it,
    ``validation_fraction`` of train is carved off (seeded) instead.
    """

    train: str
    validation: str | None = None
    subset: str | None = None  # hub dataset configuration, e.g. sst2
    train_split: str = "train"  # split of a hub dataset or save_to_disk folder to train on
    validation_fraction: float | None = None

    def __post_init__(self) -> None:
        if self.validation is None and self.validation_fraction is None:
            raise ValueError("give `validation` (a file or split) or `validation_fraction`")


@dataclass(frozen=True)
class Columns:
    """Which columns of the examples hold what; each task reads the ones it needs."""

    text: str = "sentence"
    text_pair: str | None = None
    label: str = "label"
    prompt: str = "prompt"  # causal_lm: the prompt column
    prompt_template: str | None = None  # causal_lm: a prompt built from columns, e.g. "Q: {question}\nA: "
    response: str = "response"  # causal_lm: the response column (the loss is on it)
