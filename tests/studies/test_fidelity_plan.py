"""The fidelity set's random trials (studies/fidelity.py): drawn by a fixed rule off both fronts
and outside the study's plan, frozen once trained, trained exactly; read by signal_fidelity.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from autopeft.results.result import SearchResult
from autopeft.store.records import Confirmation, TrialRecord

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "studies"))
sys.path.insert(0, str(REPO / "benchmarks"))
DEMO = REPO / "examples" / "data" / "demo-sentiment"


def record(number: int, state: str = "complete", confirmed: float | None = None) -> TrialRecord:
    runs = None if confirmed is None else Confirmation([7, 8], [{"accuracy": confirmed}] * 2, 4)
    values = {"accuracy": 0.5 + number / 100, "trainable_params": 10 * (number + 1)}
    return TrialRecord(number, state, {}, values, None, 10, None, 1.0, None, confirmed=runs)


def test_the_rule_draws_only_completed_trials_off_both_fronts_and_outside_the_plan():
    from fidelity import eligible

    trials = [record(0), record(1), record(2, confirmed=0.9), record(3), record(4, "fail"), record(5), record(6)]
    result = SearchResult(Path("s"), "accuracy", "classification", ["accuracy", "trainable_params"], trials)
    result.pareto = trials[:2]
    assert [t.number for t in result.confirmed_pareto] == [2]
    assert eligible(result, planned={5}) == [3, 6]


def test_one_generator_seeded_0_draws_study_by_study(tmp_path, monkeypatch):
    """The documented rule, pinned on two studies of 20 eligible trials each: one
    ``default_rng(0)`` draws for the first study, then (going on) for the second."""
    import fidelity

    def study(folder: Path) -> SearchResult:
        result = SearchResult(folder, "accuracy", "classification", ["accuracy"], [record(n) for n in range(22)])
        result.pareto = result.trials[:1]
        return result

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        plan = {"metric": "accuracy", "found": [{"trial": 1}], "steps": 5, "max_length": 16, "test": "t.jsonl"}
        (tmp_path / name / "plan.json").write_text(json.dumps(plan))
    monkeypatch.setattr(fidelity, "load_study", study)
    with pytest.raises(SystemExit) as refused:
        fidelity.write_fidelity_plan(tmp_path, {"t": ("a", "b")}, per_study=0)
    assert refused.value.code == 2 and not (tmp_path / "fidelity_plan.json").exists()
    plan = fidelity.write_fidelity_plan(tmp_path, {"t": ("a", "b")}, per_study=3)
    rng = np.random.default_rng(0)
    expected = [(name, int(n)) for name in ("a", "b") for n in sorted(rng.choice(range(2, 22), 3, replace=False))]
    assert [(e["study"], e["trial"]) for e in plan["tasks"]["t"]] == expected
    assert plan["studies"]["b"] == {"metric": "accuracy", "steps": 5, "max_length": 16, "test": "t.jsonl"} | {
        "seeds": [0],
        "eligible": 20,
    }


@pytest.fixture()
def tiny_studies(quick_spec, tmp_path) -> tuple[Path, dict, int]:
    """studies/tiny-study as the committed studies are laid out: spec, plan.json (one found
    trial, off the front) and the searched study in confirmation/; returns (studies, tasks, planned)."""
    import yaml
    from fidelity import eligible

    import autopeft

    studies = tmp_path / "studies"
    folder = studies / "tiny-study"
    folder.mkdir(parents=True)
    quick_spec["data"] = quick_spec["data"] | {"validation": None, "validation_fraction": 0.2}
    quick_spec["data"]["test"] = str(DEMO / "validation.jsonl")
    quick_spec["space"]["learning_rate"] = {"low": 1e-3, "high": 1e-1, "log": True}  # accuracies that differ
    quick_spec |= {"name": "tiny-study", "study_dir": str(folder / "confirmation")}
    (folder / "spec.yaml").write_text(yaml.safe_dump(quick_spec))
    autopeft.search(quick_spec, trials=6)
    pool = eligible(autopeft.load_study(folder / "confirmation"), set())
    assert len(pool) >= 3, f"the tiny study has trials off its front to draw from: {pool}"
    plan = {"metric": "accuracy", "found": [{"trial": pool[0]}], "steps": 2, "max_length": 32}
    (folder / "plan.json").write_text(json.dumps(plan | {"test": quick_spec["data"]["test"]}))
    return studies, {"tiny": ("tiny-study",)}, pool[0]


def test_the_plan_is_a_repeatable_seeded_draw_and_frozen_once_a_run_finished(tiny_studies):
    from fidelity import FIDELITY_PLAN, TRAININGS, eligible, train, write_fidelity_plan

    import autopeft

    studies, tasks, planned = tiny_studies
    result = autopeft.load_study(studies / "tiny-study" / "confirmation")
    pool = eligible(result, {planned})
    plan = write_fidelity_plan(studies, tasks, per_study=2)
    drawn = [entry["trial"] for entry in plan["tasks"]["tiny"]]
    assert drawn == sorted(int(n) for n in np.random.default_rng(0).choice(pool, size=2, replace=False))
    front = {t.number for t in result.pareto}
    complete = {t.number for t in result.trials if t.state == "complete"}
    assert set(drawn) <= complete - front - {planned}
    settings = plan["studies"]["tiny-study"]
    assert (settings["steps"], settings["max_length"], settings["seeds"]) == (2, 32, [0])
    assert settings["eligible"] == len(pool) and len(plan["commit"]) == 40
    again = write_fidelity_plan(studies, tasks, per_study=2)  # nothing trained yet: may be written again
    assert again["tasks"] == plan["tasks"], "the same draw each time"
    assert json.loads((studies / FIDELITY_PLAN).read_text()) == again

    # train trains exactly the plan, one seed each, and records it
    recorded = train(studies, task="tiny")
    full = studies / "tiny-study" / "confirmation" / "full"
    assert sorted(p.name for p in full.iterdir()) == sorted(f"trial-{n}" for n in drawn)
    rows = recorded["tasks"]["tiny"]
    assert [(r["study"], r["trial"]) for r in rows] == [("tiny-study", n) for n in drawn]
    trials = {t.number: t for t in result.trials}
    for entry in rows:
        metrics = json.loads((full / f"trial-{entry['trial']}" / "seed0" / "metrics.json").read_text())
        assert entry["test_accuracy"] == metrics["test"]["accuracy"] and metrics["seed"] == 0
        assert entry["proxy_accuracy"] == trials[entry["trial"]].values["accuracy"]
        assert entry["proxy_eval_loss"] == trials[entry["trial"]].values["eval_loss"]
        assert entry["trainable_params"] == metrics["trainable_params"] and entry["steps"] == 2
    assert json.loads((studies / TRAININGS).read_text()) == recorded
    stamps = [(full / f"trial-{n}" / "seed0" / "metrics.json").stat().st_mtime_ns for n in drawn]
    assert train(studies) == recorded, "finished runs are read back"
    assert stamps == [(full / f"trial-{n}" / "seed0" / "metrics.json").stat().st_mtime_ns for n in drawn]
    with pytest.raises(SystemExit, match="--task: sst2 is not in"):
        train(studies, task="sst2")

    with pytest.raises(SystemExit, match="frozen"):
        write_fidelity_plan(studies, tasks, per_study=3)
    (studies / TRAININGS).unlink()  # the runs alone freeze it too
    with pytest.raises(SystemExit, match=r"frozen, its trainings finished \(tiny-study:trial-"):
        write_fidelity_plan(studies, tasks, per_study=3)
    done = full / f"trial-{drawn[0]}" / "seed0" / "metrics.json"
    done.write_text(json.dumps(json.loads(done.read_text()) | {"steps": 3}))  # a run of another plan
    with pytest.raises(SystemExit, match="trained 3 steps, the plan says 2"):
        train(studies)


def test_signal_fidelity_adds_the_drawn_trials_once(tmp_path, monkeypatch):
    import signal_fidelity

    study = tmp_path / "tiny-lora"
    study.mkdir()
    trials = [{"number": n, "values": {"accuracy": 0.6 + n / 10, "eval_loss": 0.7 - n / 10}} for n in range(3)]
    reference = {"name": "r.lr1e-3", "values": {"accuracy": 0.65, "eval_loss": 0.66}}
    (study / "results.json").write_text(json.dumps({"trials": trials, "references": [reference]}))
    full = [{"name": "trial 0 (for r)", "kind": "found", "test_mean": 0.61}, {"name": "r", "kind": "reference"}]
    full[1]["test_mean"] = 0.64
    (study / "full_training.json").write_text(json.dumps({"rows": full}))
    drawn = [
        {"study": "tiny-lora", "trial": n, "test_accuracy": 0.7 + n / 10, "proxy_accuracy": 0.6 + n / 10}
        | {"proxy_eval_loss": 0.7 - n / 10}
        for n in (0, 1, 2)  # trial 0 is also a found configuration: counted once
    ]
    (tmp_path / "fidelity_trainings.json").write_text(json.dumps({"tasks": {"tiny": drawn}}))
    monkeypatch.setattr(signal_fidelity, "STUDIES", tmp_path)
    monkeypatch.setattr(signal_fidelity, "TASKS", {"tiny": ("tiny-lora",)})
    confirmed = {"tiny-lora": {"trial 0": [0.61, 0.63], "reference r": [0.6, 0.66], "trial 2": [0.7]}}
    monkeypatch.setattr(signal_fidelity, "confirmed_scores", lambda study: confirmed.get(study, {}))
    rows = signal_fidelity.signal_rows("tiny")
    assert [r["name"] for r in rows] == ["tiny-lora:trial 0 (for r)", "r", "tiny-lora:trial 1 (drawn)"] + [
        "tiny-lora:trial 2 (drawn)"
    ]
    assert rows[3] == {
        "name": "tiny-lora:trial 2 (drawn)",
        "test": pytest.approx(0.9),
        "proxy_metric": pytest.approx(0.8),
        "proxy_loss": pytest.approx(-0.5),
        "posterior_mean": None,
        "confirmed_2": None,  # one confirmation run is not a mean at 2 seeds
        "confirmed_3": None,
    }
    assert signal_fidelity.rank_agreement(rows, "proxy_metric") == {"all": 1.0, "top_half": None, "n": 4}
    assert [r["confirmed_2"] for r in rows] == [pytest.approx(0.62), pytest.approx(0.63), None, None]
    # At 3 seeds the search's own run counts too: trial 0's proxy 0.6, the reference's 0.65.
    assert [r["confirmed_3"] for r in rows] == [pytest.approx(1.84 / 3), pytest.approx(1.91 / 3), None, None]

    # A methods study borrows its LoRA study's references' confirmed means, not its trials'.
    methods = tmp_path / "tiny-methods"
    methods.mkdir()
    (methods / "results.json").write_text(json.dumps({"trials": trials, "references": []}))
    (methods / "full_training.json").write_text(json.dumps({"rows": [full[0] | {"test_mean": 0.5}]}))
    monkeypatch.setattr(signal_fidelity, "TASKS", {"tiny": ("tiny-lora", "tiny-methods")})
    rows = {r["name"]: r["confirmed_2"] for r in signal_fidelity.signal_rows("tiny")}
    assert rows["tiny-methods:trial 0 (for r)"] is None and rows["tiny-lora:trial 0 (for r)"] == pytest.approx(0.62)
