"""Preparing a study says where the data cannot give what the budget asks."""

from __future__ import annotations

from autopeft.driver.prepare import prepare_study
from autopeft.spec import parse_spec


def test_a_budget_asking_for_more_rows_than_a_split_holds_is_named(quick_spec, caplog):
    quick_spec["budget"] |= {"train_examples": 10**6, "eval_examples": 10**6}
    with caplog.at_level("WARNING", logger="autopeft"):
        prepared = prepare_study(parse_spec(quick_spec), None, "cpu")
    rows = len(prepared.data.train), len(prepared.data.validation)
    assert f"budget.train_examples: 1000000 asked, the train split holds {rows[0]} rows" in caplog.text
    assert f"budget.eval_examples: 1000000 asked, the validation split holds {rows[1]} rows" in caplog.text
    assert prepared.validation_rows == rows[1]
    caplog.clear()
    quick_spec["budget"] |= {"train_examples": rows[0], "eval_examples": 5}
    with caplog.at_level("WARNING", logger="autopeft"):
        assert prepare_study(parse_spec(quick_spec), None, "cpu").validation_rows == 5
    assert "asked" not in caplog.text
