"""Live tracking, read back from a real MLflow SQLite store and W&B's offline files: each trial's
run opens when it starts and gets its loss curve while it trains, a stopped search ends its runs
KILLED, and a resume goes on in the same study run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import DEMO_DATA, DEMO_WITH_TEST
from typer.testing import CliRunner
from wandb_records import wandb_records

import autopeft
from autopeft.cli import app
from autopeft.driver.observer import ObserverGroup, SearchObserver
from autopeft.errors import SearchInterrupted
from autopeft.spec import parse_spec
from autopeft.store.records import TrialRecord
from autopeft.store.study import StudyStore

STEPS = 40  # the loss is logged every 2 steps (about 20 points a run)


class StopAtStep(SearchObserver):
    """Ctrl-C at step ``step`` of trial ``trial``, from inside the training loop."""

    def __init__(self, trial: int, step: int) -> None:
        self.trial, self.step, self.running = trial, step, None

    def on_trial_start(self, number: int) -> None:
        self.running = number

    def on_step(self, step: int, loss: float) -> None:
        if self.running == self.trial and step == self.step:
            raise KeyboardInterrupt


def _stopped_then_resumed(spec: dict, make_tracker) -> tuple:
    """Search 2 trials, stopped at step 10 of trial 1, then resumed to the end; the two trackers."""
    spec["budget"]["steps"] = STEPS
    spec["space"] = {"method": "lora", "modules": ["q", "v"], "rank": [2, 4]}
    first = make_tracker()
    with pytest.raises(SearchInterrupted):
        autopeft.search(spec, trials=2, observer=ObserverGroup([first, StopAtStep(trial=1, step=10)]))
    first.close()  # as the CLI does on any end but success: the runs stay KILLED, not FAILED
    second = make_tracker()
    result = autopeft.resume(spec["study_dir"], observer=second)
    second.finish(result)
    return result


def test_mlflow_runs_live_end_killed_when_stopped_and_resume_in_the_same_parent(quick_spec, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    from autopeft.results.tracking import MLflowTracker

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    result = _stopped_then_resumed(quick_spec, MLflowTracker)

    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("tiny").experiment_id
    runs = client.search_runs([experiment])
    (parent,) = [run for run in runs if run.data.tags.get("autopeft.kind") == "study"]  # one, resumed
    assert parent.info.run_name == "tiny" and parent.info.status == "FINISHED"
    assert StudyStore.open(quick_spec["study_dir"]).tracker_run("mlflow")["run_id"] == parent.info.run_id
    trials = {run.info.run_name: run for run in runs if run.data.tags.get("autopeft.kind") == "trial"}
    assert all(run.data.tags["mlflow.parentRunId"] == parent.info.run_id for run in trials.values())

    killed = trials["trial 1"]  # stopped at step 10: its run ended KILLED with the losses so far
    assert killed.info.status == "KILLED"
    assert [m.step for m in client.get_metric_history(killed.info.run_id, "loss")] == [2, 4, 6, 8, 10]

    finished = [trial for trial in result.trials if trial.state == "complete"]
    assert len(finished) == 2 and {f"trial {t.number}" for t in finished} <= set(trials)
    for trial in finished:
        run = trials[f"trial {trial.number}"]
        assert run.info.status == "FINISHED"
        history = client.get_metric_history(run.info.run_id, "loss")
        assert [m.step for m in history] == list(range(2, STEPS + 1, 2))
        assert all(m.value > 0 for m in history)
        assert run.data.metrics["train_seconds"] == pytest.approx(trial.train_seconds)
        # opened when the trial started: the run lasts at least its training
        assert run.info.end_time - run.info.start_time >= 1000 * trial.train_seconds


def test_wandb_runs_live_end_preempted_when_stopped_and_resume_in_the_same_study_run(quick_spec, tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
    from autopeft.results.tracking import WandbTracker

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    result = _stopped_then_resumed(quick_spec, WandbTracker)
    wandb.teardown()  # W&B's service writes the offline files after finish() returns: wait for it

    runs: dict[str, list] = {}
    for run_file in sorted((tmp_path / "wandb").glob("offline-run-*/*.wandb")):
        records = wandb_records(run_file)
        (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        kinds = {r.WhichOneof("record_type") for r in records}
        (exit_code,) = [r.exit.exit_code for r in records if r.WhichOneof("record_type") == "exit"]
        losses = [
            int(r.history.step.num)
            for r in records
            if r.WhichOneof("record_type") == "history"
            and any((item.key or ".".join(item.nested_key)) == "loss" for item in r.history.item)
        ]
        runs.setdefault(run.display_name, []).append((run, kinds, exit_code, losses))

    studies = runs["tiny (study)"]  # the first search's, stopped; the resume's, in the same run
    assert len(studies) == 2 and studies[0][0].run_id == studies[1][0].run_id
    assert [(exit_code, "preempting" in kinds) for _, kinds, exit_code, _ in studies] == [(1, True), (0, False)]
    assert StudyStore.open(quick_spec["study_dir"]).tracker_run("wandb")["id"] == studies[0][0].run_id

    ((_, kinds, exit_code, losses),) = runs["trial 1"]
    assert exit_code == 1 and "preempting" in kinds and losses == [2, 4, 6, 8, 10]
    for trial in [t for t in result.trials if t.state == "complete"]:
        ((run, _, exit_code, losses),) = runs[f"trial {trial.number}"]
        assert run.run_group == "tiny" and exit_code == 0 and losses == list(range(2, STEPS + 1, 2))


def test_losses_shipped_back_with_a_result_are_logged_at_its_steps(quick_spec, tmp_path, monkeypatch):
    """Under Ray no on_step reaches the driver: the curve comes with the result, logged with its
    step numbers before the trial's end (every 3 steps here, the last window at the last step)."""
    mlflow = pytest.importorskip("mlflow")
    from autopeft.results.tracking import MLflowTracker

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    store = StudyStore.create(tmp_path / "study", parse_spec(quick_spec))
    tracker = MLflowTracker(log_every=3)
    tracker.on_start(store, 0, 1, {})
    tracker.on_trial_start(0)
    tracker.on_trial_losses("trial 0", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    record = TrialRecord(0, "complete", {}, {"accuracy": 0.5}, None, 10, 0.1, 1.5, None, steps=7)
    tracker.on_trial_end(record)
    client = mlflow.MlflowClient()
    (run,) = client.search_runs(
        [client.get_experiment_by_name("tiny").experiment_id], "attributes.run_name = 'trial 0'"
    )
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(3, 2.0), (6, 5.0), (7, 7.0)]
    assert run.info.status == "FINISHED" and run.data.metrics["train_seconds"] == 1.5
    tracker.close()  # the search ended without finish: the parent run FAILED
    assert client.get_run(store.tracker_run("mlflow")["run_id"]).info.status == "FAILED"


def test_every_result_carries_its_step_losses(quick_spec, tmp_path):
    """What the Ray workers ship back: each step's loss in the trial's result (here run in this
    process through the same ``execute``), and the observer told them before the trial's end."""
    seen: list[tuple[str, int]] = []

    class Recorder(SearchObserver):
        def on_trial_losses(self, key: str, losses: list[float]) -> None:
            seen.append((key, len(losses)))

        def on_trial_end(self, record: TrialRecord) -> None:
            seen.append((f"end {record.number}", record.steps))

    quick_spec["space"] = {"method": "lora", "modules": ["q"], "rank": [2]}
    autopeft.search(quick_spec, trials=1, observer=Recorder())
    assert seen == [("trial 0", 4), ("end 0", 4)]


def _search_export_train(spec: dict, tmp_path: Path, tracker: object, report_to: str) -> tuple[Path, dict]:
    """A 1-trial search logged by ``tracker``, its trial exported, then `autopeft train --report-to`
    with a test split; the trained folder's metrics.json."""
    spec["space"] = {"method": "lora", "modules": ["q"], "rank": [2]}
    spec["data"] = dict(DEMO_WITH_TEST)  # validation carved from train: the test rows are held out
    result = autopeft.search(spec, trials=1, observer=tracker)
    tracker.finish(result)
    exported = autopeft.export_trial(spec["study_dir"], 0, tmp_path / "export")
    out = tmp_path / "trained"
    options = ["--max-steps", "6", "--batch-size", "8", "--max-length", "32", "--save-steps", "3"]
    test = ["--test", str(DEMO_DATA / "validation.jsonl"), "--report-to", report_to]
    ran = CliRunner().invoke(app, ["train", str(exported), "--out", str(out), *options, *test])
    assert ran.exit_code == 0, ran.output
    return exported, json.loads((out / "metrics.json").read_text())


def test_train_reports_to_mlflow_in_the_study_experiment_under_the_trial_name(quick_spec, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    from autopeft.results.tracking import MLflowTracker

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    exported, metrics = _search_export_train(quick_spec, tmp_path, MLflowTracker(), "mlflow")
    assert yaml.safe_load((exported / "recipe.yaml").read_text())["study_name"] == "tiny"

    client = mlflow.MlflowClient()
    runs = {run.info.run_name: run for run in client.search_runs([client.get_experiment_by_name("tiny").experiment_id])}
    assert set(runs) == {"tiny", "trial 0", "trial 0 full training"}  # the study's experiment, nothing in Default
    run = runs["trial 0 full training"]
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.parentRunId"] == runs["tiny"].info.run_id
    for split in ("validation", "test"):
        assert run.data.metrics[f"{split}_accuracy"] == pytest.approx(metrics[split]["accuracy"])
    assert run.data.metrics["train_seconds"] == pytest.approx(metrics["train_seconds"], abs=0.01)
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [3, 6]  # Trainer's, logged live


def test_train_reports_to_wandb_in_the_study_group_under_the_trial_name(quick_spec, tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
    from autopeft.results.tracking import WandbTracker

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    _, metrics = _search_export_train(quick_spec, tmp_path, WandbTracker(), "wandb")
    wandb.teardown()  # the offline files are complete once W&B's service is done
    trained = []
    for run_file in (tmp_path / "wandb").glob("offline-run-*/*.wandb"):
        records = wandb_records(run_file)
        (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        if run.display_name == "trial 0 full training":
            history = {
                (item.key or ".".join(item.nested_key)): item.value_json
                for r in records
                if r.WhichOneof("record_type") == "history"
                for item in r.history.item
            }
            trained.append((run, history))
    ((run, history),) = trained
    assert run.run_group == "tiny" and run.job_type == "train"
    assert float(history["test_accuracy"]) == pytest.approx(metrics["test"]["accuracy"])
    assert "train/loss" in history  # Trainer's WandbCallback logged into this run


def test_a_curve_logged_live_is_not_logged_again_from_the_result(quick_spec, tmp_path, monkeypatch):
    """The local executor: on_step logs the curve (here one window: log_every is above the
    run's steps), and the same losses told again before the trial's end add nothing."""
    mlflow = pytest.importorskip("mlflow")
    from autopeft.results.tracking import MLflowTracker

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    store = StudyStore.create(tmp_path / "study", parse_spec(quick_spec))
    tracker = MLflowTracker(log_every=10)
    tracker.on_start(store, 0, 1, {})
    tracker.on_trial_start(0)
    for step, loss in enumerate([1.0, 2.0, 3.0], start=1):
        tracker.on_step(step, loss)
    tracker.on_trial_losses("trial 0", [1.0, 2.0, 3.0])
    tracker.on_trial_end(TrialRecord(0, "complete", {}, {"accuracy": 0.5}, None, 10, 0.1, 1.5, None, steps=3))
    client = mlflow.MlflowClient()
    (run,) = client.search_runs(
        [client.get_experiment_by_name("tiny").experiment_id], "attributes.run_name = 'trial 0'"
    )
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss")] == [(3, 2.0)]


def test_a_tracker_outage_at_the_end_of_train_is_a_warning(caplog):
    """The training is done when its scores are logged: an outage then loses nothing."""
    from autopeft.finetune.tracking import TrainingRun

    def down(metrics: dict) -> None:
        raise ConnectionError("tracking server down")

    TrainingRun(down).log_end({"validation": {"accuracy": 0.75}}, 12.5, 0.3)
    assert "train: logging the final scores failed (ConnectionError: tracking server down)" in caplog.text
