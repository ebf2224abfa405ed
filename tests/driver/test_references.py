"""Reference configurations: trained once beside the search, kept in the study, compared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import autopeft
from autopeft.cli import app
from autopeft.errors import SpecError
from autopeft.executors import TrialRequest, execute
from autopeft.results.wording import reference_comparison
from autopeft.space import Hyperparameters, Point

cli = CliRunner()
LORA_R4_QV = {"modules": ["q", "v"], "rank": 4, "learning_rate": 2e-3, "head_learning_rate": 1e-2}


def counting_run_trial(monkeypatch) -> list[int]:
    """Patch the trial runner to note each training's seed; returns that list."""
    from autopeft.executors import base as executing

    seeds: list[int] = []
    real = executing.run_trial

    def run_trial(point, context, seed, **kwargs):
        seeds.append(seed)
        return real(point, context, seed, **kwargs)

    monkeypatch.setattr(executing, "run_trial", run_trial)
    return seeds


def test_reference_trains_once_apart_from_the_trials(quick_spec, monkeypatch):
    quick_spec["references"] = {"lora-r4-qv": LORA_R4_QV}
    trainings = counting_run_trial(monkeypatch)
    result = autopeft.search(quick_spec, trials=2)
    assert len(trainings) == 3, "two trials and the reference"
    assert [t.number for t in result.trials] == [0, 1], "the reference is not one of the study's trials"
    (reference,) = result.references
    assert reference.name == "lora-r4-qv" and not reference.failed
    (lora,) = reference.point["components"]
    assert sorted(set(lora["settings"]["targets"].values())) == [4]
    assert len(lora["settings"]["targets"]) == 2 * 3  # q and v in each of the tiny BERT's 3 layers
    assert reference.point["hyperparameters"] == {"learning_rate": 2e-3, "head_learning_rate": 1e-2}
    assert 0.0 <= reference.values["accuracy"] <= 1.0
    assert reference.values["trainable_params"] == reference.trainable_params > 0

    again = autopeft.search(quick_spec, trials=3)  # more trials: the reference is kept, not retrained
    assert len(trainings) == 4
    assert again.references == result.references


def test_reference_added_to_a_finished_study_trains_alone(quick_spec, monkeypatch):
    autopeft.search(quick_spec, trials=2)
    trainings = counting_run_trial(monkeypatch)
    quick_spec["references"] = {"lora-r4-qv": LORA_R4_QV}
    result = autopeft.search(quick_spec, trials=2)
    assert len(trainings) == 1 and len(result.trials) == 2
    assert [r.name for r in result.references] == ["lora-r4-qv"]


def test_failed_reference_is_recorded_and_the_study_completes(quick_spec):
    quick_spec["references"] = {"diverges": LORA_R4_QV | {"learning_rate": 1e3, "head_learning_rate": 1e3}}
    result = autopeft.search(quick_spec, trials=2)
    assert all(t.state == "complete" for t in result.trials)
    (reference,) = result.references
    assert reference.failed and reference.values == {}
    assert reference.fail_reason in reference_comparison(reference, result)


def test_cli_shows_references_table_comparison_and_json(tmp_path, quick_spec):
    quick_spec["references"] = {"lora-r4-qv": LORA_R4_QV}
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(quick_spec))
    searched = cli.invoke(app, ["search", str(spec_path), "--trials", "2"])
    assert searched.exit_code == 0, searched.output
    assert "reference lora-r4-qv: accuracy" in searched.output  # the progress line
    assert "References" in searched.output and "best trial at its size or smaller" in searched.output
    shown = cli.invoke(app, ["show", quick_spec["study_dir"], "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert [r["name"] for r in data["references"]] == ["lora-r4-qv"]
    assert [t["number"] for t in data["trials"]] == [0, 1]
    assert set(data["pareto"]) <= {0, 1} and data["metric"] == "accuracy"


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        (LORA_R4_QV | {"rank": [2, 4]}, "searches rank"),
        ({"modules": ["q"], "rank": 4}, "searches learning_rate, head_learning_rate"),
        (LORA_R4_QV | {"per_layer_placement": True}, "searches L0.q"),
        (LORA_R4_QV | {"layers": [7]}, "references.mine.lora.layers: layer 7 is out of range"),
        (LORA_R4_QV | {"modules": ["ffn_gate"]}, "references.mine.lora.modules: role 'ffn_gate' not found"),
    ],
)
def test_reference_that_is_not_one_configuration_fails_before_any_training(quick_spec, reference, problem):
    quick_spec["references"] = {"mine": reference}
    with pytest.raises(SpecError) as raised:
        autopeft.search(quick_spec)
    assert problem in str(raised.value)
    assert not Path(quick_spec["study_dir"]).exists(), "a bad spec creates no study folder"


def test_reference_name_must_be_simple(quick_spec):
    quick_spec["references"] = {"My LoRA": LORA_R4_QV}
    with pytest.raises(SpecError, match="references: reference name 'My LoRA'"):
        autopeft.search(quick_spec)


def test_successive_halving_never_stops_a_reference(quick_spec):
    from autopeft.driver.prepare import prepare_study
    from autopeft.spec import parse_spec

    spec = parse_spec(quick_spec, source="test")
    context = prepare_study(spec, None, "cpu").context
    point = Point.single(
        "lora",
        {
            "targets": {"bert.encoder.layer.0.attention.self.query": 2},
            "variant": "lora",
            "alpha_ratio": 2.0,
            "dropout": 0.0,
        },
        Hyperparameters(1e-3, 1e-2),
    )

    def stop(step, measurements):
        return False

    trial = execute(TrialRequest(0, point, 0), context, rungs=[2], judge=stop)
    reference = execute(TrialRequest(-1, point, 0, reference="r"), context, rungs=[2], judge=stop)
    assert trial.outcome is not None, trial.fail_reason
    assert trial.outcome.stopped_early and trial.outcome.steps == 2
    assert not reference.outcome.stopped_early and reference.outcome.steps == spec.budget.steps


def test_a_reference_exports_like_a_trial(quick_spec, tmp_path):
    quick_spec["references"] = {"lora-r4-qv": LORA_R4_QV}
    result = autopeft.search(quick_spec, trials=1)
    (reference,) = result.references
    out = tmp_path / "ref"
    shown = cli.invoke(app, ["export", str(result.study_dir), "--reference", "lora-r4-qv", "--out", str(out)])
    assert shown.exit_code == 0, shown.output
    recipe = yaml.safe_load((out / "recipe.yaml").read_text())
    assert recipe["reference"] == "lora-r4-qv" and "trial" not in recipe
    assert recipe["hyperparameters"]["learning_rate"] == 2e-3 and recipe["seed"] == quick_spec.get("seed", 0)
    assert recipe["measured"]["trainable_params"] == reference.trainable_params
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["peft_type"] == "LORA"

    missing = cli.invoke(app, ["export", str(result.study_dir), "--reference", "nope", "--out", str(tmp_path / "x")])
    assert missing.exit_code == 2 and "--reference: no trained reference 'nope'" in missing.output
    assert "use one of: lora-r4-qv" in missing.output
    both = cli.invoke(app, ["export", str(result.study_dir), "--trial", "0", "--reference", "lora-r4-qv", "--out", "y"])
    assert both.exit_code == 2 and "give --trial N or --reference NAME" in both.output


def test_a_learning_rate_grid_tunes_a_reference_with_the_proxy(quick_spec, monkeypatch):
    from dataclasses import replace

    from autopeft.executors import base as executing
    from autopeft.store.records import tuned_references

    real = executing.run_trial

    def run_trial(point, context, seed, **kwargs):  # the grid's members score apart: 1e-4 0.4, 3e-3 0.6
        outcome = real(point, context, seed, **kwargs)
        accuracy = 0.6 if point.hyperparameters.learning_rate == 3e-3 else 0.4
        return replace(outcome, measurements=outcome.measurements | {"accuracy": accuracy})

    monkeypatch.setattr(executing, "run_trial", run_trial)
    quick_spec["references"] = {"lora-r4-qv": LORA_R4_QV | {"learning_rate": [1e-4, 3e-3], "head_learning_rate": 1e-2}}
    result = autopeft.search(quick_spec, trials=1)
    # 3e-3 peaked at the grid's top: one member a grid step (x30) above it, which scores 0.4, is added.
    names = ["lora-r4-qv.lr1e-4.h1e-2", "lora-r4-qv.lr3e-3.h1e-2", "lora-r4-qv.lr9e-2.h1e-2"]
    assert [r.name for r in result.references] == names
    ((best, grid),) = tuned_references(result.references, "accuracy")
    assert grid == 3 and best.name == "lora-r4-qv.lr3e-3.h1e-2" and best.values["accuracy"] == 0.6
    shown = cli.invoke(app, ["show", str(result.study_dir)])
    assert f"{best.name}: accuracy" in shown.stdout and "(the best of 3 learning-rate settings" in shown.stdout
    other = next(r for r in result.references if r is not best)
    assert f"\n{other.name}: accuracy" not in shown.stdout, "one comparison line per tuned reference"

    # The grid's name exports the member show compares, and says which.
    out = quick_spec["study_dir"] + "-export"
    exported = cli.invoke(app, ["export", str(result.study_dir), "--reference", "lora-r4-qv", "--out", out])
    assert exported.exit_code == 0, exported.output
    assert f"exported reference lora-r4-qv at its best learning rates ({best.name}," in exported.stdout
    recipe = yaml.safe_load((Path(out) / "recipe.yaml").read_text())
    assert recipe["reference"] == best.name and recipe["hyperparameters"]["learning_rate"] == 3e-3
    assert json.loads((Path(out) / "adapter_config.json").read_text())["modules_to_save"] == ["classifier"]
