"""Each study's full-training rows are the ones its selection rule picks from the recording
(issue 37, protocol item 5): a Pareto trial swapped in by hand, with its own test scores and
a regenerated table, must fail here even though every table still matches its rows."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from autopeft.store.records import ReferenceRecord, tuned_references

STUDIES = Path(__file__).resolve().parents[2] / "studies"
sys.path.insert(0, str(STUDIES))
TRAINED = sorted(p.parent for p in STUDIES.glob("*/full_training.json"))
RECORD_FIELDS = {f.name for f in dataclasses.fields(ReferenceRecord)} - {"confirmed"}


def rule_picks(recorded: dict, results: dict, count: int = 3) -> list[tuple[int, str]]:
    """(trial, matched reference) as ``found_configurations`` picks them from the recording: the
    study's own tuned references, or those borrowed from the study its rows were trained in."""
    from full_training import found_configurations

    metric = recorded["metric"]
    complete = {t["number"]: t for t in results["trials"] if t["state"] == "complete"}
    pareto = [SimpleNamespace(number=n, trainable_params=complete[n]["trainable_params"]) for n in results["pareto"]]
    if results["references"]:
        records = [ReferenceRecord(**{k: v for k, v in r.items() if k in RECORD_FIELDS}) for r in results["references"]]
        tuned = [r for r, _ in tuned_references(records, metric) if not r.failed]
    else:
        tuned = [
            ReferenceRecord(row["name"], {}, {metric: row["proxy_validation"]}, row["trainable_params"])
            for row in recorded["rows"]
            if row["kind"] == "reference" and "trained_in" in row
        ]
    return [(trial.number, name) for trial, name in found_configurations(pareto, tuned, metric, count)]


def recorded_picks(recorded: dict) -> list[tuple[int, str]]:
    return [
        (int(re.match(r"trial (\d+)", row["name"]).group(1)), row["matched_reference"])
        for row in recorded["rows"]
        if row["kind"] == "found"
    ]


def planned_picks(folder: Path, plan: dict) -> list[tuple[int, str]]:
    """(trial, matched reference) as the plan's rule picks them again from the committed
    confirmation study (its front, its or the other study's planned references)."""
    from plan import make_plan

    from autopeft import load_study
    from autopeft.spec import load_spec

    other = None if plan["compare_with"] is None else STUDIES / plan["compare_with"]
    result = load_study(folder / "confirmation")
    again = make_plan(
        load_spec(folder / "spec.yaml"), result, plan["steps"], tuple(plan["seeds"]), plan["max_length"],
        len(plan["found"]), plan["picks"], other,
    )  # fmt: skip
    return [(entry["trial"], entry["matched_reference"]) for entry in again["found"]]


@pytest.mark.parametrize("folder", TRAINED, ids=[f.name for f in TRAINED])
def test_the_found_rows_are_the_rules_picks(folder: Path):
    recorded = json.loads((folder / "full_training.json").read_text())
    if "plan" in recorded:  # trained under a frozen plan: its picks, made again from the confirmed front
        assert recorded_picks(recorded) == planned_picks(folder, recorded["plan"])
        return
    results = json.loads((folder / "results.json").read_text())
    assert recorded_picks(recorded) == rule_picks(recorded, results)


def test_a_pareto_trial_the_rule_would_not_pick_fails():
    folder = STUDIES / "sst2-lora"
    recorded = json.loads((folder / "full_training.json").read_text())
    results = json.loads((folder / "results.json").read_text())
    swapped = copy.deepcopy(recorded)
    (row,) = [r for r in swapped["rows"] if r["name"].startswith("trial 10 ")]
    assert 21 in results["pareto"]
    row["name"] = "trial 21 (for ia3)"  # a Pareto trial of about IA3's size, not the largest at or below it
    assert recorded_picks(swapped) != rule_picks(swapped, results)
