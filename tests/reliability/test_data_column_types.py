"""A text column of numbers or lists, or a label column of lists, is one line naming the column
and the row when the data loads (issue 39, item 7), not a tokenizer or hashing traceback later."""

from __future__ import annotations

import json

import pytest

from autopeft.errors import SpecError
from autopeft.spec import DataSpec
from autopeft.tasks import load_task_data


@pytest.mark.parametrize(
    ("text", "label", "message"),
    [
        (7, 1, "column 'sentence' holds int '7', not text"),
        (["a", "b"], 1, "column 'sentence' holds list \"['a', 'b']\", not text"),
        ("fine", [1], "column 'label' holds list '[1]', not one value"),
    ],
)
def test_a_column_of_the_wrong_kind_is_one_line(tmp_path, text, label, message):
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"sentence": text, "label": label}) + "\n" for _ in range(10)))
    spec = DataSpec(train=str(train), validation_fraction=0.3)
    with pytest.raises(SpecError, match=r"data.train: .*train.jsonl, row 1: " + message.replace("[", r"\[")):
        load_task_data(spec.source(), spec.make_task())
