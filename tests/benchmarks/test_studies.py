"""The reference studies under studies/: each spec is valid and its recorded results match it.

Everything derived in a recording (the Pareto set, the hypervolume history, the README's
tables) is recomputed here from the raw trials, so an edited recording fails.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from autopeft.optim.hypervolume import hypervolume
from autopeft.spec import StudySpec, load_spec
from autopeft.spec.objectives import maximized_vector, objectives_for

STUDIES = Path(__file__).resolve().parents[2] / "studies"
sys.path.insert(0, str(STUDIES))  # studies/full_training.py, imported by the tests that use it
FOLDERS = sorted(p.parent for p in STUDIES.glob("*/spec.yaml") if (p.parent / "results.json").is_file())
TRAINED = [f for f in FOLDERS if (f / "full_training.json").is_file()]
# A proxy table's row: label, validation metric, trainable params (full-training tables, whose
# second column is a kind, are not matched).
TABLE_ROW = re.compile(
    r"^\| (Pareto trial (\d+)|trial (\d+)[^|]*|reference ([\w.-]+)) \| (\**[0-9.]+\**) \| ([^|]+) \|"
)


def non_dominated(complete: dict[int, dict], objectives) -> set[int]:
    vectors = {n: maximized_vector(objectives, t["values"]) for n, t in complete.items()}
    return {
        n
        for n, mine in vectors.items()
        if not any((other >= mine).all() and (other > mine).any() for other in vectors.values())
    }


def hypervolume_history(results: dict, objectives) -> list[tuple[int, float]]:
    """The history as the study computes it: reference = the trivial predictor's metric and
    the whole model's parameter count (recovered from any trial's count and percentage)."""
    some = next(t for t in results["trials"] if t["state"] == "complete")
    base_parameters = some["trainable_params"] / (some["percent_of_base"] / 100)
    reference = maximized_vector(objectives, results["baseline"] | {"trainable_params": base_parameters})
    rows, history = [], []
    for trial in results["trials"]:
        if trial["state"] == "complete":
            rows.append(maximized_vector(objectives, trial["values"]))
            history.append((trial["number"], hypervolume(np.array(rows), reference)))
    return history


def readme_rows(name: str) -> list[tuple[str, float, int]]:
    """(label, metric, trainable params) of each table row in the study's README section."""
    text = (STUDIES / "README.md").read_text()
    section = text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        match = TABLE_ROW.match(line)
        if match:
            metric = float(match.group(5).replace("*", "").strip())
            params = int(match.group(6).replace("*", "").replace(",", "").strip())
            rows.append((match.group(1), metric, params))
    return rows


def check_recording(spec: StudySpec, results: dict, name: str) -> None:
    assert results["objectives"] == spec.objectives and results["metric"] == spec.objectives[0]
    objectives = objectives_for(spec.objectives)
    trials = results["trials"]
    finished = [t for t in trials if t["state"] in ("complete", "fail", "pruned")]
    assert len(finished) >= spec.trials, "the recorded study ran all its trials"
    assert [r["name"] for r in results["references"] if not r.get("extended")] == list(spec.references)
    complete = {t["number"]: t for t in trials if t["state"] == "complete"}
    assert set(results["pareto"]) == non_dominated(complete, objectives), "the Pareto set is complete and exact"
    recorded = [tuple(entry) for entry in results["hypervolume_history"]]
    recomputed = hypervolume_history(results, objectives)
    assert [n for n, _ in recorded] == [n for n, _ in recomputed]
    np.testing.assert_allclose([v for _, v in recorded], [v for _, v in recomputed], rtol=1e-9)
    metric = spec.objectives[0]
    references = {r["name"]: r for r in results["references"]}
    rows = readme_rows(name)
    assert rows, f"studies/README.md has a table for {name}"
    for label, value, params in rows:
        match = re.fullmatch(r"(?:Pareto trial (\d+)|trial (\d+).*|reference ([\w.-]+))", label)
        number = match.group(1) or match.group(2)
        entry = complete[int(number)] if number else references[match.group(3)]
        assert (round(entry["values"][metric], 4), entry["trainable_params"]) == (value, params), label
        if label.startswith("Pareto"):
            assert int(number) in results["pareto"], f"{label} is on the Pareto set"


@pytest.mark.parametrize("spec_file", sorted(STUDIES.glob("*/spec.yaml")), ids=lambda p: p.parent.name)
def test_every_study_spec_is_valid_and_names_its_folder(spec_file: Path):
    spec = load_spec(spec_file)
    assert spec.name == spec_file.parent.name
    if spec.data.validation_fraction is not None:  # the protocol of issue 17: the dev split is the test split
        assert spec.data.test is not None, "full trainings need a test split the search never read"


def test_there_are_reference_studies():
    assert FOLDERS, f"no studies/*/spec.yaml with results.json under {STUDIES}"


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_recorded_results_match_the_spec(folder: Path):
    spec = load_spec(folder / "spec.yaml")
    assert spec.name == folder.name, "a study's folder is named after it"
    check_recording(spec, json.loads((folder / "results.json").read_text()), folder.name)


@pytest.mark.parametrize("folder", FOLDERS[:1], ids=[f.name for f in FOLDERS[:1]])
def test_an_edited_recording_fails(folder: Path):
    spec = load_spec(folder / "spec.yaml")
    results = json.loads((folder / "results.json").read_text())
    best = max(results["pareto"], key=lambda n: results["trials"][n]["values"][spec.objectives[0]])
    tampered = copy.deepcopy(results)
    tampered["pareto"] = [best]
    tampered["trials"][best]["values"][spec.objectives[0]] += 0.05
    with pytest.raises(AssertionError):
        check_recording(spec, tampered, folder.name)
    dropped = copy.deepcopy(results)
    dropped["pareto"] = results["pareto"][:-1]
    with pytest.raises(AssertionError, match="complete and exact"):
        check_recording(spec, dropped, folder.name)
    raised = copy.deepcopy(results)
    raised["trials"][best]["values"][spec.objectives[0]] += 0.05
    with pytest.raises(AssertionError):
        check_recording(spec, raised, folder.name)


def test_full_training_confirms_a_study_on_its_test_split(quick_spec, tmp_path):
    from full_training import confirm
    from plan import write_plan

    import autopeft

    demo = Path(quick_spec["data"]["train"]).parent
    quick_spec["data"] = quick_spec["data"] | {"validation": None, "validation_fraction": 0.2}
    quick_spec["data"]["test"] = str(demo / "validation.jsonl")
    quick_spec["references"] = {
        "lora-r2-q": {"modules": ["q"], "rank": 2, "learning_rate": [1e-3, 3e-3], "head_learning_rate": 1e-2}
    }
    quick_spec["name"] = "tiny-study"
    folder = tmp_path / "tiny-study"
    folder.mkdir()
    (folder / "spec.yaml").write_text(__import__("yaml").safe_dump(quick_spec))
    searched = copy.deepcopy(quick_spec)
    del searched["data"]["test"]  # a study run before its spec named the test split: the spec's is used
    autopeft.search(searched, trials=3)
    readme = tmp_path / "README.md"
    readme.write_text("# Studies\n")
    before_plans = [{"name": "trial 9 (for lora-r2-q)", "kind": "found", "test": [0.5], "test_mean": 0.5}]
    before_plans[0] |= {"proxy_validation": 0.6, "steps": 2, "seeds": [0], "trainable_params": 1}
    (folder / "full_training.json").write_text(json.dumps({"metric": "accuracy", "rows": before_plans}))
    write_plan(folder, Path(quick_spec["study_dir"]), steps=2, seeds=(0, 1), max_length=32, found_count=0)
    alone = confirm(folder, Path(quick_spec["study_dir"]), readme=readme)
    assert alone["previous_rows"] == before_plans and alone["previous_plan"] is None, "rows before plans are kept"
    assert [r["kind"] for r in alone["rows"]] == ["reference"], "--found 0 trains the references alone"
    write_plan(folder, Path(quick_spec["study_dir"]), steps=2, seeds=(0, 1), max_length=32)
    recorded = confirm(folder, Path(quick_spec["study_dir"]), readme=readme)
    rows = recorded["rows"]
    assert rows[1] == alone["rows"][0], "the references trained mid-search are read back"
    assert [r["kind"] for r in rows] == ["found", "reference"] and rows[1]["name"] == "lora-r2-q"
    for entry in rows:
        assert entry["seeds"] == [0, 1] and len(entry["test"]) == 2 and entry["test_examples"] == 200
        assert entry["test_mean"] == pytest.approx(sum(entry["test"]) / 2)
    assert json.loads((folder / "full_training.json").read_text()) == recorded
    table = readme.read_text()
    assert "| lora-r2-q | reference |" in table and f"{rows[0]['test_mean']:.4f}" in table
    # Each run's test predictions travel with the recording; the found row is compared row by row.
    number = recorded["plan"]["found"][0]["trial"]
    assert rows[0]["predictions"] == f"predictions/trial-{number}.json" and rows[0]["picked_by"] == "proxy"
    kept = json.loads((folder / rows[0]["predictions"]).read_text())
    assert list(kept["seeds"]) == ["0", "1"] and kept["rows"] == 200 and len(kept["seeds"]["0"]) == 200
    versus = rows[0]["paired"]["lora-r2-q"]
    assert versus["diff"] == pytest.approx(rows[0]["test_mean"] - rows[1]["test_mean"], abs=1e-12)
    assert recorded["comparisons"] == 1 and recorded["previous_rows"] == before_plans
    assert set(recorded["verdicts"]) == {"near_best_reference", "above_default", "drop_confirmed", "drop_raw"}
    assert recorded["verdicts"]["drop_raw"] == pytest.approx(rows[0]["proxy_validation"] - rows[0]["test_mean"])
    assert "vs lora-r2-q (paired diff ± se)" in table and f"{versus['diff']:+.4f} ± {versus['se']:.4f}" in table
    assert "Verdicts (1 paired comparisons;" in table
    check_paired(folder, recorded)
    tampered = json.loads(json.dumps(recorded))
    tampered["rows"][0]["paired"]["lora-r2-q"]["diff"] += 0.01
    with pytest.raises(AssertionError):
        check_paired(folder, tampered)
    again = confirm(folder, Path(quick_spec["study_dir"]), readme=readme)
    assert again == recorded, "finished runs are read back, not trained again"
    shutil.rmtree(Path(quick_spec["study_dir"]) / "full")  # another machine: only the recording travels
    moved = confirm(folder, Path(quick_spec["study_dir"]), readme=readme)
    assert moved == recorded and not (Path(quick_spec["study_dir"]) / "full").exists(), "recorded rows are kept"

    # A study without references of its own (the choice among methods) borrows the first one's:
    # matched to its tuned references, which are not trained again.
    methods = copy.deepcopy(quick_spec) | {"name": "tiny-methods", "references": {}}
    methods["study_dir"] = str(tmp_path / "runs-methods")
    other = tmp_path / "tiny-methods"
    other.mkdir()
    (other / "spec.yaml").write_text(__import__("yaml").safe_dump(methods))
    autopeft.search(methods, trials=2)
    write_plan(other, Path(methods["study_dir"]), steps=2, seeds=(0, 1), max_length=32, compare_with=folder)
    borrowed = confirm(other, Path(methods["study_dir"]), readme=readme)
    assert [r["kind"] for r in borrowed["rows"]] == ["found", "reference"]
    assert borrowed["rows"][1] == rows[1] | {"trained_in": "tiny-study"}
    assert list(borrowed["rows"][0]["paired"]) == ["lora-r2-q"], "against the predictions kept in tiny-study"
    assert not (Path(methods["study_dir"]) / "full" / "lora-r2-q").exists(), "the borrowed reference is not retrained"
    assert "| lora-r2-q (trained in tiny-study) | reference |" in readme.read_text()
    with pytest.raises(SystemExit, match="plan.json: frozen"):  # found test scores exist: no new plan
        write_plan(folder, Path(quick_spec["study_dir"]), steps=3, seeds=(0, 1), max_length=32)
    (folder / "full_training.json").unlink()
    (other / "full_training.json").unlink()
    with pytest.raises(SystemExit, match="holds finished full trainings of found configurations"):
        write_plan(other, Path(methods["study_dir"]), steps=2, seeds=(0, 1), compare_with=folder)
    __import__("shutil").rmtree(Path(methods["study_dir"]) / "full")  # a machine without those runs
    (folder / "plan.json").unlink()  # and no plan of the other study's references either
    with pytest.raises(SystemExit, match="needs its full_training.json"):
        write_plan(other, Path(methods["study_dir"]), steps=2, seeds=(0, 1), compare_with=folder)
    unlike = copy.deepcopy(methods) | {"seed": 1}
    (other / "spec.yaml").write_text(__import__("yaml").safe_dump(unlike))
    with pytest.raises(SystemExit, match="seed differs"):
        write_plan(other, Path(methods["study_dir"]), steps=2, seeds=(0, 1), compare_with=folder)


def check_paired(folder: Path, recorded: dict) -> None:
    """The paired differences and verdicts of a recording recompute from its kept predictions."""
    from comparisons import judged

    unpaired = [{k: v for k, v in entry.items() if k != "paired"} for entry in recorded["rows"]]
    again = judged(folder, unpaired, recorded["metric"], recorded.get("previous_rows", []))
    keys = ("rows", "comparisons", "verdicts")
    assert {k: again[k] for k in keys} == {k: recorded[k] for k in keys}


@pytest.mark.parametrize("folder", TRAINED, ids=[f.name for f in TRAINED])
def test_full_training_tables_are_computed_from_their_runs(folder: Path):
    """Each full_training.json row's mean and sd are those of its seeds' test scores, its found
    configurations are Pareto trials of the recording, and the README's table is generated from it."""
    import statistics

    from full_training import readme_table

    recorded = json.loads((folder / "full_training.json").read_text())
    results = json.loads((folder / "results.json").read_text())
    for entry in recorded["rows"]:
        assert len(entry["test"]) == len(entry["seeds"]) >= 3
        assert entry["test_mean"] == pytest.approx(statistics.mean(entry["test"]))
        assert entry["test_sd"] == pytest.approx(statistics.stdev(entry["test"]))
        if entry["kind"] == "found":
            number = int(re.match(r"trial (\d+)", entry["name"]).group(1))
            # a confirmed pick is on the confirmation study's front (tests/studies checks the plan)
            assert entry.get("picked_by") == "confirmed" or number in results["pareto"]
            trial = results["trials"][number]
            assert (entry["trainable_params"], entry["proxy_validation"]) == (
                trial["trainable_params"],
                trial["values"][recorded["metric"]],
            )
    if "verdicts" in recorded:
        check_paired(folder, recorded)
    table = readme_table(recorded["study"], recorded)
    assert table in (STUDIES / "README.md").read_text(), "the README's table is the one generated from the JSON"


def test_found_configurations_are_distinct_and_fill_past_repeats():
    """Each strong reference gets the largest Pareto trial at or below its size; when those
    repeat, references still unmatched get the next trial left, so ``count`` distinct trials are
    trained where the Pareto set has them."""
    from types import SimpleNamespace

    from full_training import found_configurations

    from autopeft.store.records import ReferenceRecord

    def reference(name: str, accuracy: float, params: int) -> ReferenceRecord:
        return ReferenceRecord(name, {}, {"accuracy": accuracy}, params)

    pareto = [SimpleNamespace(number=n, trainable_params=p) for n, p in [(18, 86_786), (28, 12_290), (24, 10_754)]]
    references = [
        reference("big", 0.74, 664_322),
        reference("mid", 0.73, 74_498),
        reference("serial", 0.72, 224_546),
        reference("tiny", 0.70, 14_594),
    ]
    found = [(trial.number, name) for trial, name in found_configurations(pareto, references, "accuracy", 3)]
    assert found == [(18, "big"), (28, "mid"), (24, "serial")]
    assert [t.number for t, _ in found_configurations(pareto, references, "accuracy", 2)] == [18, 28]
    assert len(found_configurations(pareto[:1], references, "accuracy", 3)) == 1, "no trial twice"
