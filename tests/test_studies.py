"""The reference studies under studies/: each spec is valid and its recorded results match it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autopeft.objectives import maximized_vector, objectives_for
from autopeft.spec import load_spec

STUDIES = Path(__file__).resolve().parents[1] / "studies"
FOLDERS = sorted(p.parent for p in STUDIES.glob("*/spec.yaml"))


def test_there_are_reference_studies():
    assert FOLDERS, f"no studies/*/spec.yaml under {STUDIES}"


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_recorded_results_match_the_spec(folder: Path):
    spec = load_spec(folder / "spec.yaml")
    assert spec.name == folder.name, "a study's folder is named after it"
    results = json.loads((folder / "results.json").read_text())
    assert results["objectives"] == spec.objectives and results["metric"] == spec.objectives[0]
    trials = results["trials"]
    finished = [t for t in trials if t["state"] in ("complete", "fail", "pruned")]
    assert len(finished) >= spec.trials, "the recorded study ran all its trials"
    assert [r["name"] for r in results["references"]] == list(spec.references)
    complete = {t["number"]: t for t in trials if t["state"] == "complete"}
    assert results["pareto"] and set(results["pareto"]) <= set(complete)

    objectives = objectives_for(spec.objectives)
    for number in results["pareto"]:
        mine = maximized_vector(objectives, complete[number]["values"])
        for other in complete.values():
            theirs = maximized_vector(objectives, other["values"])
            dominated = bool((theirs >= mine).all() and (theirs > mine).any())
            assert not dominated, f"Pareto trial {number} is dominated by trial {other['number']}"
