"""A reference that peaks at an edge of its learning-rate grid gets the grid extended past that
edge (driver/reference_grid.py) until it peaks inside, within a cap and sane bounds."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from typer.testing import CliRunner

import autopeft
from autopeft.cli import app
from autopeft.driver.reference_grid import MAX_EXTENSIONS, beyond_edge, member_name
from autopeft.store.records import ReferenceRecord, tuned_references

cli = CliRunner()
LORA = {"modules": ["q", "v"], "rank": 4, "head_learning_rate": 1e-2}


def member(lr: float, head: float = 1e-2) -> ReferenceRecord:
    point = {"hyperparameters": {"learning_rate": lr, "head_learning_rate": head}}
    return ReferenceRecord(member_name("r", {"learning_rate": lr, "head_learning_rate": head}), point, {})


def test_the_member_to_add_is_one_grid_step_past_the_edge_the_best_sits_on():
    grid = [member(1e-4), member(1e-3), member(1e-2)]
    assert beyond_edge(grid[2], grid) == ("learning_rate", 0.1, "above")
    assert beyond_edge(grid[0], grid) == ("learning_rate", 1e-5, "below")
    assert beyond_edge(grid[1], grid) is None, "inside: nothing to add"
    assert beyond_edge(member(1e-2), [member(1e-2)]) is None, "one rate is no grid"
    assert beyond_edge(member(0.5), [member(0.05), member(0.5)]) is None, "never above a learning rate of 1"
    # Two rates: the line is the members sharing the best's other rate.
    square = [member(lr, head) for lr in (1e-3, 3e-3) for head in (1e-3, 1e-2)]
    assert beyond_edge(square[1], square) == ("learning_rate", pytest.approx(1e-3 / 3, rel=1e-5), "below")
    inside = [*square, member(3e-4, 1e-2)]
    assert beyond_edge(square[1], inside) == ("head_learning_rate", 0.1, "above")
    assert member_name("r", {"learning_rate": 0.1, "head_learning_rate": 1e-2}) == "r.lr1e-1.h1e-2"


def rising_then_falling(monkeypatch, peak: float) -> list[float]:
    """Patch the trial runner so that a reference's accuracy is highest at learning rate ``peak``
    and falls by 0.1 per decade away from it; returns the rates trained."""
    from autopeft.executors import base as executing

    real, trained = executing.run_trial, []

    def run_trial(point, context, seed, **kwargs):
        outcome = real(point, context, seed, **kwargs)
        lr = point.hyperparameters.learning_rate
        trained.append(lr)
        accuracy = 0.9 - 0.1 * abs(math.log10(lr / peak))
        return replace(outcome, measurements=outcome.measurements | {"accuracy": accuracy})

    monkeypatch.setattr(executing, "run_trial", run_trial)
    return trained


def test_a_reference_peaking_at_its_grids_top_gets_the_grid_extended_until_it_peaks_inside(quick_spec, monkeypatch):
    trained = rising_then_falling(monkeypatch, peak=1e-2)
    quick_spec["references"] = {"r": LORA | {"learning_rate": [1e-4, 1e-3]}}
    result = autopeft.search(quick_spec, trials=1)
    names = [r.name for r in result.references]
    assert names == ["r.lr1e-4.h1e-2", "r.lr1e-3.h1e-2", "r.lr1e-1.h1e-2", "r.lr1e-2.h1e-2"]
    ((best, grid),) = tuned_references(result.references, "accuracy")
    assert best.name == "r.lr1e-2.h1e-2" and grid == 4, "1e-2 peaks inside 1e-3 .. 1e-1"
    extended = {r.name: r.extended for r in result.references if r.extended}
    assert extended == {
        "r.lr1e-2.h1e-2": "learning_rate above 1e-3, where r.lr1e-3.h1e-2 peaked",
        "r.lr1e-1.h1e-2": "learning_rate above 1e-2, where r.lr1e-2.h1e-2 peaked",
    }
    shown = cli.invoke(app, ["show", str(result.study_dir)])
    assert "grid extended 2 time(s): " in shown.stdout and all(note in shown.stdout for note in extended.values())
    as_json = json.loads(cli.invoke(app, ["show", str(result.study_dir), "--json"]).stdout)
    assert sum(1 for r in as_json["references"] if r["extended"]) == 2

    before = len(trained)
    again = autopeft.search(quick_spec, trials=1)  # resumed: nothing is left, nothing is added
    assert len(trained) == before and [r.name for r in again.references] == names


def test_a_grid_whose_members_tie_for_the_best_is_not_extended(quick_spec, monkeypatch):
    """All at chance (the tiny model's usual case): no peak to follow, so no member is added."""
    from autopeft.executors import base as executing

    real = executing.run_trial

    def flat(point, context, seed, **kwargs):
        outcome = real(point, context, seed, **kwargs)
        return replace(outcome, measurements=outcome.measurements | {"accuracy": 0.5})

    monkeypatch.setattr(executing, "run_trial", flat)
    quick_spec["references"] = {"r": LORA | {"learning_rate": [1e-4, 1e-3]}}
    result = autopeft.search(quick_spec, trials=1)
    assert [r.name for r in result.references] == ["r.lr1e-4.h1e-2", "r.lr1e-3.h1e-2"]


def test_the_extensions_stop_at_the_cap(quick_spec, monkeypatch):
    rising_then_falling(monkeypatch, peak=1.0)  # higher is always better up to 1
    quick_spec["references"] = {"r": LORA | {"learning_rate": [1e-6, 1e-5]}}
    result = autopeft.search(quick_spec, trials=1)
    rates = [r.point["hyperparameters"]["learning_rate"] for r in result.references]
    assert sum(1 for r in result.references if r.extended) == MAX_EXTENSIONS
    assert max(rates) == 1e-2, "three steps of x10 past 1e-5, no more"


def test_a_failed_extension_is_recorded_once_and_ends_that_grids_extensions(quick_spec, monkeypatch):
    from autopeft.executors import base as executing

    real, calls = executing.run_trial, []

    def run_trial(point, context, seed, **kwargs):
        calls.append(point.hyperparameters.learning_rate)
        if len(calls) > 10:
            raise KeyboardInterrupt("the grid is extended again and again")
        if point.hyperparameters.learning_rate > 5e-3:
            raise RuntimeError("diverged")
        outcome = real(point, context, seed, **kwargs)
        accuracy = point.hyperparameters.learning_rate * 100  # higher is better
        return replace(outcome, measurements=outcome.measurements | {"accuracy": accuracy})

    monkeypatch.setattr(executing, "run_trial", run_trial)
    quick_spec["references"] = {"r": LORA | {"learning_rate": [1e-4, 1e-3]}}
    result = autopeft.search(quick_spec, trials=1)
    (added,) = [r for r in result.references if r.extended]
    assert added.name == "r.lr1e-2.h1e-2" and added.failed and calls.count(1e-2) == 1
