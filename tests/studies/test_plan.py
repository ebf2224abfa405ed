"""The full-training plan (studies/plan.py): fixed before any test score, trained exactly, frozen
once its found configurations are scored (issue 37, protocol item 1)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from autopeft.results.result import SearchResult
from autopeft.spec import parse_spec
from autopeft.store.records import Confirmation, ReferenceRecord, TrialRecord

STUDIES = Path(__file__).resolve().parents[2] / "studies"
sys.path.insert(0, str(STUDIES))
TRAINED = sorted(p.parent for p in STUDIES.glob("*/full_training.json"))


def trial(number: int, proxy: float, params: int, confirmed: float) -> TrialRecord:
    values = {"accuracy": proxy, "trainable_params": params}
    runs = [{"accuracy": confirmed - 0.01}, {"accuracy": confirmed + 0.01}]
    return TrialRecord(
        number, "complete", {}, values, None, params, None, 1.0, None, confirmed=Confirmation([7, 8], runs, 4)
    )


def lucky_study() -> SearchResult:
    """Trial 0's proxy score was lucky (0.90; confirmed 0.70): the proxy's front is {0, 1}, the
    confirmed one {1, 2}, and the one reference (100 params) is matched to 0 or to 2."""
    trials = [trial(0, 0.90, 50, 0.70), trial(1, 0.85, 40, 0.84), trial(2, 0.80, 100, 0.86)]
    reference = ReferenceRecord("r.lr1e-3.h1e-2", {}, {"accuracy": 0.8, "trainable_params": 100}, 100)
    result = SearchResult(Path("s"), "accuracy", "classification", ["accuracy", "trainable_params"], trials)
    result.pareto, result.references = trials[:2], [reference]
    return result


def test_the_picks_come_from_the_front_the_plan_names(quick_spec):
    from plan import make_plan

    spec = parse_spec(quick_spec | {"data": quick_spec["data"] | {"test": "test.jsonl"}}, source="test")
    result = lucky_study()
    assert [t.number for t in result.confirmed_pareto] == [2, 1]
    proxy = make_plan(spec, result, 10, (0, 1), 32, 1, "proxy", None)
    confirmed = make_plan(spec, result, 10, (0, 1), 32, 1, "confirmed", None)
    assert [(f["trial"], f["picked_by"]) for f in proxy["found"]] == [(0, "proxy")]
    ((pick,),) = [confirmed["found"]]
    assert (pick["trial"], pick["picked_by"], pick["label"]) == (2, "confirmed", "trial 2 (for r)")
    assert pick["confirmed_validation"] == pytest.approx(0.86) and pick["confirmed_seeds"] == [7, 8]
    assert confirmed["references"] == [
        {"label": "r", "member": "r.lr1e-3.h1e-2", "trainable_params": 100, "proxy_validation": 0.8}
    ]
    assert (confirmed["steps"], confirmed["seeds"], confirmed["test"]) == (10, [0, 1], "test.jsonl")
    assert len(confirmed["commit"]) == 40 and confirmed["made_at"].startswith("20")
    unconfirmed = lucky_study()
    unconfirmed.trials = [replace(t, confirmed=None) for t in unconfirmed.trials]
    with pytest.raises(SystemExit, match="no confirmed trials"):
        make_plan(spec, unconfirmed, 10, (0,), 32, 1, "confirmed", None)


def test_a_row_outside_the_plan_is_found():
    from plan import unplanned_rows

    plan = {"found": [{"label": "trial 2 (for r)"}], "references": [{"label": "r"}]}
    recorded = {"plan": plan, "rows": [{"name": "trial 2 (for r)"}, {"name": "r"}]}
    assert unplanned_rows(recorded) == []
    recorded["rows"].insert(1, {"name": "trial 0 (for r)"})
    assert unplanned_rows(recorded) == ["trial 0 (for r)"]
    assert unplanned_rows({"rows": [{"name": "r"}]}) == ["r"], "without a plan no row is planned"


@pytest.mark.parametrize("folder", TRAINED, ids=[f.name for f in TRAINED])
def test_committed_full_trainings_hold_only_their_plans_rows(folder: Path):
    from plan import unplanned_rows

    recorded = json.loads((folder / "full_training.json").read_text())
    if "plan" not in recorded:
        pytest.skip("trained before plans (issue 37): its rows are checked against the rule instead")
    assert unplanned_rows(recorded) == []
    assert recorded["plan"] == json.loads((folder / "plan.json").read_text()), "the plan as committed"


def test_train_follows_the_plan_and_a_scored_plan_is_frozen(quick_spec, tmp_path):
    from full_training import confirm
    from plan import planned_labels, write_plan

    import autopeft

    quick_spec |= {"name": "planned", "trials": 2}
    quick_spec["data"] = quick_spec["data"] | {"validation_fraction": 0.2}
    quick_spec["data"]["test"] = quick_spec["data"].pop("validation")  # read by full training only
    quick_spec["references"] = {"r": {"modules": ["q"], "rank": 2, "learning_rate": 1e-3, "head_learning_rate": 1e-2}}
    folder, study = tmp_path / "planned", Path(quick_spec["study_dir"])
    folder.mkdir()
    (folder / "spec.yaml").write_text(yaml.safe_dump(quick_spec))
    autopeft.search(quick_spec)
    readme = tmp_path / "README.md"
    readme.write_text("# Studies\n")
    with pytest.raises(SystemExit, match="plan.json: no plan"):
        confirm(folder, study, readme)

    plan = write_plan(folder, study, steps=2, seeds=(0,), max_length=32, found_count=1)
    assert json.loads((folder / "plan.json").read_text()) == plan
    recorded = confirm(folder, study, readme)
    assert recorded["plan"] == plan and [r["name"] for r in recorded["rows"]] == planned_labels(plan)
    assert [r["kind"] for r in recorded["rows"]] == ["found", "reference"]

    with pytest.raises(SystemExit, match="plan.json: frozen"):
        write_plan(folder, study, steps=2, seeds=(0,), max_length=32, found_count=2)
    (folder / "full_training.json").rename(tmp_path / "aside.json")  # a machine with the finished runs only
    with pytest.raises(SystemExit, match="plan.json: frozen, .* holds finished full trainings of found"):
        write_plan(folder, study, steps=2, seeds=(0,), max_length=32, found_count=2)
    (tmp_path / "aside.json").rename(folder / "full_training.json")
    added = plan | {"found": [*plan["found"], plan["found"][0] | {"label": "trial 99 (for r)", "trial": 99}]}
    (folder / "plan.json").write_text(json.dumps(added))
    with pytest.raises(SystemExit, match="plan.json: differs from the frozen plan"):
        confirm(folder, study, readme)


def test_a_reference_grid_narrower_than_the_search_is_named_in_the_plan(quick_spec):
    from plan import spec_grids, unspanned_grids

    space = {"method": "lora", "modules": ["q"], "rank": [2], "learning_rate": {"low": 1e-4, "high": 1e-2, "log": True}}
    space["head_learning_rate"] = {"low": 1e-3, "high": 2e-2, "log": True}
    grid = {"modules": ["q"], "rank": 2, "learning_rate": [1e-4, 1e-3, 1e-2], "head_learning_rate": [3e-3, 1e-2]}
    spec = parse_spec(quick_spec | {"space": space, "references": {"r": grid}}, source="test")
    assert unspanned_grids(spec_grids(spec), spec) == {
        "r": [
            "head_learning_rate: tried down to 0.003, searched from 0.001",
            "head_learning_rate: tried up to 0.01, searched to 0.02",
        ]
    }
    wide = parse_spec(
        quick_spec | {"space": space, "references": {"r": grid | {"head_learning_rate": [1e-3, 2e-2]}}}, source="test"
    )
    assert unspanned_grids(spec_grids(wide), wide) == {}, "a grid reaching both ends spans the search"


def test_a_study_is_planned_against_the_references_another_plans(quick_spec, tmp_path):
    from plan import planned_references

    spec = parse_spec(quick_spec, source="test")
    other = tmp_path / "other"
    other.mkdir()
    (other / "spec.yaml").write_text(yaml.safe_dump(quick_spec | {"name": "other"}))
    assert planned_references(spec, other) is None, "no plan there: its trained references are read instead"
    reference = {"label": "r", "member": "r.lr1e-3.h1e-2", "trainable_params": 100, "proxy_validation": 0.8}
    (other / "plan.json").write_text(json.dumps({"metric": "accuracy", "references": [reference]}))
    (tuned,) = planned_references(spec, other)
    assert (tuned.name, tuned.values, tuned.trainable_params) == ("r.lr1e-3.h1e-2", {"accuracy": 0.8}, 100)
    (other / "spec.yaml").write_text(yaml.safe_dump(quick_spec | {"name": "other", "seed": 1}))
    with pytest.raises(SystemExit, match="its seed differs"):
        planned_references(spec, other)


def test_a_plan_against_another_study_matches_its_planned_references(quick_spec, tmp_path):
    """With ``--compare-with``, the found configurations are matched to the references the other
    study's plan.json names (not to this study's own grids), and the plan lists those."""
    from plan import make_plan

    tested = quick_spec | {"data": quick_spec["data"] | {"test": str(tmp_path / "test.jsonl")}}
    spec = parse_spec(tested, source="test")
    other = tmp_path / "other"
    other.mkdir()
    (other / "spec.yaml").write_text(yaml.safe_dump(tested | {"name": "other"}))
    planned = {"label": "big", "member": "big.lr1e-3.h1e-2", "trainable_params": 1000, "proxy_validation": 0.95}
    (other / "plan.json").write_text(json.dumps({"metric": "accuracy", "references": [planned]}))
    plan = make_plan(spec, lucky_study(), 10, (0,), 32, 1, "confirmed", other)
    assert plan["references"] == [planned] and plan["compare_with"] == "other"
    assert [(f["trial"], f["label"]) for f in plan["found"]] == [(2, "trial 2 (for big)")]
