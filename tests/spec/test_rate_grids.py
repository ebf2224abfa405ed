"""Reference learning-rate grids: every member gets its own name, and a bad grid is one line
naming the reference."""

from __future__ import annotations

import pytest

from autopeft.errors import SpecError
from autopeft.spec import parse_spec
from autopeft.spec.rate_grids import expand_rate_grids, grid_name, rate_tag

DATA = {"train": "rows.jsonl", "validation_fraction": 0.2}


def test_rates_that_agree_to_three_digits_keep_their_own_members():
    grid = expand_rate_grids({"r": {"learning_rate": [1.2341e-3, 1.2349e-3, 5e-3]}})
    assert len(grid) == 3 and {grid_name(name) for name in grid} == {"r"}
    assert [member["learning_rate"] for member in grid.values()] == [1.2341e-3, 1.2349e-3, 5e-3]
    assert rate_tag(3e-4) == "3e-4" and rate_tag(2.5e-4) == "0.00025" and rate_tag(1.2341e-3) == "0.0012341"


@pytest.mark.parametrize(
    ("grid", "problem"),
    [([1e-3, "fast"], "not a number"), ([1e-3, 1e-3], "twice"), ([1e-3, True], "not a number"), ([], "is empty")],
)
def test_a_bad_grid_is_one_line_naming_the_reference(grid, problem):
    with pytest.raises(SpecError, match=rf"references.*reference lora-qv: learning_rate grid .*{problem}"):
        parse_spec({"data": DATA, "references": {"lora-qv": {"method": "lora", "learning_rate": grid}}})


def test_a_grid_reaching_a_rate_of_one_names_members_a_stored_spec_reads_back():
    """A '+' (1e+0) is not allowed in a reference's name: the study's stored spec would not read."""
    grid = {"r": {"method": "lora", "learning_rate": [0.1, 1.0, 20.0], "head_learning_rate": [1e-2, 1.5]}}
    spec = parse_spec({"data": DATA, "references": grid})
    assert sorted(spec.references) == sorted(f"r.lr{lr}.h{h}" for lr in ("1e-1", "1e0", "2e1") for h in ("1e-2", "1.5"))
    assert sorted(parse_spec(spec.model_dump()).references) == sorted(spec.references)
    assert {grid_name(name) for name in spec.references} == {"r"}
