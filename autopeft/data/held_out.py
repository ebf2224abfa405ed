"""Whether held-out rows are held out: validation (or test) rows that are also rows of train
score what the model trained on, so they flatter it and cannot rank configurations."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from autopeft.errors import SpecError

logger = logging.getLogger(__name__)
SHOWN = 5  # row numbers a warning names
BATCH = 10_000  # rows of the seen split read at a time: its memory stays a batch's


def _rows(dataset: Any, columns: list[str], batch_size: int | None = None) -> Iterator[tuple]:
    """``dataset``'s rows as tuples of ``columns``' values, read through Arrow (fast, in batches)."""
    arrow = dataset.select_columns(columns).with_format("arrow")
    tables = arrow.iter(batch_size=batch_size) if batch_size else [arrow[:]]
    for table in tables:
        yield from zip(*(table.column(column).to_pylist() for column in columns), strict=True)


def check_held_out(seen: Any, held_out: Any, field: str, seen_name: str) -> None:
    """Refuse ``held_out`` (a ``datasets.Dataset`` shaped as the task shapes it) when most of its
    rows equal a row of ``seen`` in every column (a copied file); name the few that do in a
    warning, since public datasets share the odd sentence between splits."""
    columns = list(held_out.column_names)
    where: dict[tuple, list[int]] = {}
    for number, row in enumerate(_rows(held_out, columns), start=1):
        where.setdefault(row, []).append(number)
    shared: set[int] = set()
    for row in _rows(seen, columns, BATCH):
        shared.update(where.pop(row, ()))
    if len(shared) * 2 > len(held_out):
        raise SpecError(
            field,
            f"{len(shared)} of its {len(held_out)} rows are also in {seen_name}: scores on them would not be held out",
            f"give rows that are not in {seen_name}",
        )
    if shared:
        numbers = sorted(shared)
        shown = ", ".join(map(str, numbers[:SHOWN])) + (", ..." if len(numbers) > SHOWN else "")
        logger.warning(
            "%s: %d of its %d rows are also in %s (rows %s)", field, len(numbers), len(held_out), seen_name, shown
        )
