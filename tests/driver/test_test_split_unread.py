"""The search never reads ``data.test``: the rows that judge its picks afterwards (issue 37,
protocol item 4). Every file open in this process is audited while a search with a test
split, a tuned reference and the confirmation stage runs; opening the test file fails it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

import autopeft

FORBIDDEN: set[str] = set()  # resolved paths whose opening fails the running test
OPENED: list[str] = []  # each attempt, kept even where the search catches the error raised


def _refuse_forbidden_opens(event: str, args: tuple) -> None:
    if event == "open" and FORBIDDEN and isinstance(args[0], (str, bytes, Path)):
        path = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
        if str(Path(path).resolve()) in FORBIDDEN:
            OPENED.append(path)
            raise AssertionError(f"the search opened the test split {path}")


sys.addaudithook(_refuse_forbidden_opens)  # audit hooks stay for the process: it acts only while FORBIDDEN is set


@pytest.fixture()
def forbidden_test_split(quick_spec, tmp_path):
    """A spec whose ``data.test`` is a readable copy of the demo rows that must never be opened."""
    test = tmp_path / "held-out" / "test.jsonl"
    test.parent.mkdir()
    shutil.copy(quick_spec["data"]["validation"], test)
    FORBIDDEN.add(str(test.resolve()))
    yield quick_spec | {"data": quick_spec["data"] | {"test": str(test)}}
    FORBIDDEN.clear()
    OPENED.clear()


def test_the_audit_catches_a_read_of_the_test_file(forbidden_test_split):
    with pytest.raises(AssertionError, match="opened the test split"):
        Path(forbidden_test_split["data"]["test"]).read_text()


def test_a_search_never_opens_the_test_split(forbidden_test_split):
    spec = forbidden_test_split | {
        "trials": 2,
        "confirm": {"candidates": 1, "seeds": 1},
        "references": {"r2": {"modules": ["q"], "rank": 2, "learning_rate": [1e-3, 3e-3], "head_learning_rate": 1e-2}},
    }
    result = autopeft.search(spec)
    assert [t.state for t in result.trials] == ["complete", "complete"], "the search ran (a failed open ends no trial)"
    assert len([r for r in result.references if not r.extended]) == 2 and any(
        r.confirmed for r in [*result.trials, *result.references]
    )
    resumed = autopeft.search(spec | {"trials": 3})  # resuming reads the stored spec and data again
    assert len(resumed.trials) == 3
    assert OPENED == [], "the search opened the test split"
