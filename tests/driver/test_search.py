"""The whole path on a tiny model: search, storage, Pareto set, export, resume, failures."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml
from transformers import AutoModelForSequenceClassification
from typer.testing import CliRunner

import autopeft
from autopeft.cli import app
from autopeft.driver.observer import SearchObserver
from autopeft.finetune.recipe import Recipe
from autopeft.methods import count_parameters
from autopeft.store.study import StudyStore

cli = CliRunner()


def test_every_method_searches_and_exports(tmp_path, quick_spec, tiny_bert):
    quick_spec["space"] = "methods"  # one method at a time, from the preset
    quick_spec["sampler"] = "random"
    result = autopeft.search(quick_spec, trials=6)
    assert all(t.state == "complete" for t in result.trials), [t.fail_reason for t in result.trials]
    assert len({t.point["method"] for t in result.trials}) >= 3
    for record in result.trials:
        out = autopeft.export_trial(quick_spec["study_dir"], record.number, tmp_path / f"export-{record.number}")
        recipe = yaml.safe_load((out / "recipe.yaml").read_text())
        assert (out / recipe["adapter_config"]).is_file()
        base = AutoModelForSequenceClassification.from_pretrained(str(tiny_bert), num_labels=2)
        model = autopeft.load_adapter(base, out, is_trainable=True)
        assert count_parameters(model)[0] == record.trainable_params, record.point["method"]


def test_python_api_returns_pareto_and_all_trials(quick_spec):
    result = autopeft.search(quick_spec, trials=2)
    assert len(result.trials) == 2
    assert 0 < len(result.pareto) <= 2
    for record in result.trials:
        assert 0.0 <= record.values["accuracy"] <= 1.0
        assert record.values["trainable_params"] == record.trainable_params > 0
    train = [json.loads(line)["label"] for line in open(quick_spec["data"]["train"])]
    majority = max((0, 1), key=train.count)
    scored = [json.loads(line)["label"] for line in open(quick_spec["data"]["validation"])][:32]  # eval_examples
    assert result.baseline["accuracy"] == pytest.approx(scored.count(majority) / len(scored))
    stored = autopeft.load_study(quick_spec["study_dir"])  # as `autopeft show` sees it
    assert (stored.baseline, stored.validation_rows, stored.task) == (result.baseline, 32, "classification")


def test_running_again_extends_without_redoing(quick_spec):
    autopeft.search(quick_spec, trials=2)
    first = {t.number: t.values for t in autopeft.load_study(quick_spec["study_dir"]).trials}
    result = autopeft.search(quick_spec, trials=3)
    assert [t.number for t in result.trials] == [0, 1, 2]
    assert {t.number: t.values for t in result.trials if t.number < 2} == first


def test_changed_spec_in_same_folder_is_refused_before_the_model_loads(quick_spec, monkeypatch):
    autopeft.search(quick_spec, trials=1)

    def not_loaded(*args, **kwargs):
        raise AssertionError("the model was loaded before the changed spec was refused")

    monkeypatch.setattr("autopeft.driver.prepare.load_base_model", not_loaded)
    quick_spec["space"]["rank"] = [8]
    with pytest.raises(
        autopeft.AutopeftError, match=r"study_dir: .* holds a study whose spec differs in space\.components"
    ):
        autopeft.search(quick_spec, trials=1)
    quick_spec["space"]["rank"] = [2, 4]
    quick_spec["seed"] = 7
    with pytest.raises(autopeft.AutopeftError, match=r"differs in seed \(0 before, 7 now\)"):
        autopeft.search(quick_spec, trials=1)


def test_a_trial_killed_after_its_result_was_written_is_told_on_resume_not_run_again(quick_spec, monkeypatch):
    from autopeft.executors import base as executing

    real_tell, real_run_trial = StudyStore._tell, executing.run_trial

    def killed_before_telling_trial_1(store, number, state, measurements):
        if number == 1:
            raise KeyboardInterrupt  # between the trial's last write and optuna's tell
        return real_tell(store, number, state, measurements)

    monkeypatch.setattr(StudyStore, "_tell", killed_before_telling_trial_1)
    with pytest.raises(KeyboardInterrupt):
        autopeft.search(quick_spec)
    written = StudyStore.open(quick_spec["study_dir"]).records()[1]
    assert written.state == "running" and written.values["accuracy"] is not None
    monkeypatch.setattr(StudyStore, "_tell", real_tell)
    trained = []
    monkeypatch.setattr(
        executing, "run_trial", lambda point, *a, **k: trained.append(point) or real_run_trial(point, *a, **k)
    )
    reported = SearchObserver()
    reported.on_start = lambda store, done, *rest: trained.append(f"{done} done")
    reported.on_trial_end = lambda record: trained.append(f"reported {record.number}")
    result = autopeft.resume(quick_spec["study_dir"], observer=reported)
    assert [t.state for t in result.trials] == ["complete", "complete", "complete"], "nothing interrupted"
    assert result.trials[1].values == written.values, "kept as written"
    assert trained[:2] == ["1 done", "reported 1"], "counted once: when it is reported (trackers log it)"
    assert len(trained) == 4, "then only trial 2 trained"
    assert [number for number, _ in result.hypervolume_history] == [0, 1, 2]


def test_a_trial_killed_while_writing_its_result_runs_again_and_shows_no_half_written_values(quick_spec, monkeypatch):
    from autopeft.store.study import FINISHED_AS

    real_set = optuna.Trial.set_user_attr

    def killed_before_its_end_state(trial, key, value):
        if key == FINISHED_AS and trial.number == 1:
            raise KeyboardInterrupt  # its measurements are written, its end state is not
        real_set(trial, key, value)

    monkeypatch.setattr(optuna.Trial, "set_user_attr", killed_before_its_end_state)
    with pytest.raises(KeyboardInterrupt):
        autopeft.search(quick_spec)
    monkeypatch.setattr(optuna.Trial, "set_user_attr", real_set)
    result = autopeft.resume(quick_spec["study_dir"])
    assert [t.state for t in result.trials] == ["complete", "fail", "complete", "complete"]
    assert result.trials[1].interrupted and result.trials[1].values == {}, "no measurements of a trial that failed"


def test_resume_reruns_interrupted_trial(quick_spec, monkeypatch):
    from autopeft.executors import base as executing  # where trials are run

    real_run_trial = executing.run_trial
    seeds = []

    def killed_in_trial_1(point, context, seed, **kwargs):
        if seed == 1:
            raise KeyboardInterrupt  # Ctrl-C here: the trial is marked interrupted and queued again at once
        return real_run_trial(point, context, seed, **kwargs)

    def seen(point, context, seed, **kwargs):
        seeds.append(seed)
        return real_run_trial(point, context, seed, **kwargs)

    monkeypatch.setattr(executing, "run_trial", killed_in_trial_1)
    with pytest.raises(KeyboardInterrupt):
        autopeft.search(quick_spec)
    stored = StudyStore.open(quick_spec["study_dir"]).records()
    assert [t.state for t in stored] == ["complete", "fail", "waiting"] and stored[1].interrupted
    interrupted_params = stored[1].point

    monkeypatch.setattr(executing, "run_trial", seen)
    result = autopeft.resume(quick_spec["study_dir"])
    assert seeds == [1, 3], "the rerun trains with the interrupted trial's seed: a resume changes no score"
    assert (result.trials[2].rerun_of, result.trials[2].seed_number, result.trials[3].seed_number) == (1, 1, 3)
    exported = autopeft.export_trial(quick_spec["study_dir"], 2, Path(quick_spec["study_dir"]).parent / "export")
    assert Recipe.read(exported).seed == 1, "train starts the rerun's adapter as its search trial did"
    assert [t.state for t in result.trials] == ["complete", "fail", "complete", "complete"]
    assert result.trials[1].fail_reason.startswith("interrupted")
    assert result.trials[1].interrupted and not any(t.interrupted for t in result.trials[2:])
    from typer.testing import CliRunner

    from autopeft.cli import app

    summary = CliRunner().invoke(app, ["show", quick_spec["study_dir"]]).stdout
    assert "3 trials, " in summary and "0 failed, 1 interrupted and run again" in summary, "counted once, not failed"
    assert result.trials[2].point == interrupted_params, "the interrupted point runs again first"
    assert result.trials[0].values == stored[0].values, "finished trials are kept, not rerun"
    assert result.trials[3].params != result.trials[0].params, "a resumed run proposes new points, not the first run's"


def test_failed_trial_is_recorded_and_study_goes_on(quick_spec, monkeypatch):
    from autopeft.executors import base as executing  # where trials are run

    real_run_trial = executing.run_trial

    def flaky(point, context, seed, **kwargs):
        if seed == quick_spec.get("seed", 0) + 1:
            raise RuntimeError("simulated crash in trial 1")
        return real_run_trial(point, context, seed, **kwargs)

    monkeypatch.setattr(executing, "run_trial", flaky)
    result = autopeft.search(quick_spec, trials=3)
    assert [t.state for t in result.trials] == ["complete", "fail", "complete"]
    assert result.trials[1].fail_reason == "RuntimeError: simulated crash in trial 1"
    assert 1 not in {t.number for t in result.pareto}


def test_mobo_drives_a_real_study(quick_spec):
    quick_spec["sampler"] = "mobo"
    result = autopeft.search(quick_spec, trials=5)  # 3 random, then 2 proposed by the GP
    assert [t.state for t in result.trials] == ["complete"] * 5
    placements = [tuple(sorted(t.point["components"][0]["settings"]["targets"].items())) for t in result.trials]
    assert len(set(placements)) == 5


@pytest.mark.parametrize("sampler", ["mobo", "random"])
def test_parameter_budget_is_never_trained_over(quick_spec, sampler):
    quick_spec["sampler"] = sampler
    quick_spec["space"]["rank"] = [2, 16]
    quick_spec["constraints"] = {"max_trainable_params": 700}
    result = autopeft.search(quick_spec, trials=5)
    for trial in result.trials:
        if trial.state == "complete":
            assert trial.trainable_params <= 700
        else:
            # random also draws placements with no module at all; both are refused untrained
            assert trial.fail_reason.startswith(("over the parameter budget", "nothing placed"))
            assert trial.train_seconds is None, "rejected before training"
    if sampler == "mobo":
        assert all(t.state == "complete" for t in result.trials), "mobo proposes only feasible points, the first too"


def test_a_budget_no_configuration_meets_is_refused_before_training(quick_spec, tmp_path):
    quick_spec["constraints"] = {"max_trainable_params": 10}
    with pytest.raises(autopeft.SpecError) as refused:
        autopeft.search(quick_spec, trials=2)
    message = str(refused.value)
    assert message.startswith("constraints.max_trainable_params: no configuration of the space fits in 10")
    smallest = int(message.split("the smallest has ")[1].split(" ")[0].replace(",", ""))
    quick_spec["constraints"] = {"max_trainable_params": smallest}
    quick_spec["sampler"] = "mobo"  # whose first trial is feasible too
    result = autopeft.search(quick_spec, trials=1)
    assert result.trials[0].state == "complete" and result.trials[0].trainable_params == smallest


def test_successive_halving_stops_weak_trials_early(quick_spec):
    quick_spec["sampler"] = "mobo"  # proposes buildable points only, learning from first-rung scores
    quick_spec["budget"].update(steps=9, successive_halving={"eta": 3, "min_fraction": 1 / 9})
    result = autopeft.search(quick_spec, trials=6)
    states = [t.state for t in result.trials]
    assert set(states) <= {"complete", "pruned"}, [t.fail_reason for t in result.trials]
    assert "pruned" in states, "with eta=3 most trials stop at a rung"
    for trial in result.trials:
        rungs = StudyStore.open(quick_spec["study_dir"]).study.trials[trial.number].user_attrs["rungs"]
        if trial.state == "pruned":
            assert trial.steps in (1, 3) and str(trial.steps) in rungs
        else:
            assert trial.steps == 9
    assert all(t.state == "complete" for t in result.pareto), "only fully trained trials are on the front"


def test_hypervolume_history_is_stored_and_shown(quick_spec):
    result = autopeft.search(quick_spec, trials=3)
    history = result.hypervolume_history
    assert [n for n, _ in history] == [t.number for t in result.trials if t.state == "complete"]
    values = [v for _, v in history]
    assert values == sorted(values), "the front only grows"
    stored = StudyStore.open(quick_spec["study_dir"]).study.user_attrs
    assert stored["hypervolume_history"] == [list(entry) for entry in history]
    assert stored["hypervolume_reference"]["accuracy"] == pytest.approx(result.baseline["accuracy"])
    shown = cli.invoke(app, ["show", quick_spec["study_dir"]])
    assert "hypervolume by trial:" in shown.output


def test_first_trial_is_the_space_centre(quick_spec):
    quick_spec["space"] |= {"per_layer_placement": True, "rank": [2, 4, 8, 16], "per_layer_rank": True}
    quick_spec["space"] |= {"learning_rate": {"low": 1e-4, "high": 1e-2, "log": True}}
    result = autopeft.search(quick_spec, trials=2)
    first = result.trials[0]
    (lora,) = first.point["components"]
    assert sorted(lora["settings"]["targets"].values()) == [8] * 6, "q and v in all 3 layers, the upper-middle rank"
    assert first.point["hyperparameters"]["learning_rate"] == pytest.approx(1e-3), "the geometric middle"
    assert result.trials[1].params != first.params

    quick_spec["study_dir"] += "-random-start"
    quick_spec["start_at_center"] = False
    off = autopeft.search(quick_spec, trials=1)
    assert off.trials[0].params != first.params


def test_center_is_skipped_when_the_constraints_forbid_it(quick_spec):
    quick_spec["space"] |= {"per_layer_placement": True}
    center = autopeft.search(quick_spec, trials=1).trials[0]
    assert center.trainable_params > 1_000
    quick_spec["study_dir"] += "-constrained"
    quick_spec["constraints"] = {"max_trainable_params": 1_000}
    result = autopeft.search(quick_spec, trials=1)
    assert result.trials[0].params != center.params, "not queued: it would fail over the budget"


def test_warm_start_tries_the_earlier_front_first(quick_spec, tmp_path, monkeypatch):
    earlier = autopeft.search(quick_spec, trials=3)
    quick_spec["study_dir"] = str(tmp_path / "second")
    result = autopeft.search(quick_spec, trials=len(earlier.pareto) + 1, warm_start=earlier.study_dir)
    first = result.trials[: len(earlier.pareto)]
    assert [t.params for t in first] == [t.params for t in earlier.pareto]

    # the tiny model's fronts are one trial: read every earlier trial as on the front
    monkeypatch.setattr(StudyStore, "pareto", StudyStore.records)
    quick_spec["study_dir"] = str(tmp_path / "third")
    fewer = autopeft.search(quick_spec, trials=1, warm_start=earlier.study_dir)
    assert [t.state for t in fewer.trials] == ["complete"], "no more of the front queued than the study runs"


def test_a_warm_start_keeps_only_the_values_the_new_space_can_take(quick_spec, tmp_path, caplog):
    """A rank the new space does not list (optuna would raise on it) or a learning rate outside
    its range (it would train outside the declared space) is drawn anew, and said."""
    quick_spec["space"] = {"modules": ["q"], "rank": [4, 16], "learning_rate": {"low": 1e-3, "high": 2e-3, "log": True}}
    earlier = autopeft.search(quick_spec, trials=1)
    quick_spec["study_dir"] = str(tmp_path / "second")
    quick_spec["space"] = {"modules": ["q"], "rank": [2, 8], "learning_rate": {"low": 5e-2, "high": 1e-1, "log": True}}
    with caplog.at_level("WARNING", logger="autopeft"):
        result = autopeft.search(quick_spec, trials=1, warm_start=earlier.study_dir)
    (trial,) = result.trials
    assert trial.state == "complete", trial.fail_reason
    ranks = [trial.params[f"L{layer}.rank"] for layer in range(3)]
    assert set(ranks) <= {2, 8} and 5e-2 <= trial.params["learning_rate"] <= 1e-1
    assert trial.params["head_learning_rate"] == earlier.trials[0].params["head_learning_rate"], "what fits is kept"
    assert "warm_start: trial 0's L0.rank, L1.rank, L2.rank, learning_rate lie outside this space" in caplog.text


def test_a_warm_start_that_is_no_study_is_refused_before_the_study_folder_is_written(quick_spec, tmp_path):
    with pytest.raises(autopeft.SpecError, match=r"warm_start: .*nowhere is not a readable study .*Fix: give"):
        autopeft.search(quick_spec, trials=1, warm_start=tmp_path / "nowhere")
    assert not Path(quick_spec["study_dir"]).exists()


def test_diverging_trials_are_failed_and_the_study_completes(quick_spec):
    quick_spec["space"]["learning_rate"] = 1000.0
    quick_spec["space"]["head_learning_rate"] = 1000.0
    quick_spec["budget"]["steps"] = 30
    result = autopeft.search(quick_spec, trials=2)
    assert [t.state for t in result.trials] == ["fail", "fail"]
    assert all(t.fail_reason.startswith("training diverged") for t in result.trials)
