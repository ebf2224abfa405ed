"""Confirmation runs reach the trackers, read back from a real MLflow SQLite store and W&B's
offline files: each run of the confirmation stage is a run of its own in the study's run (MLflow:
nested; W&B: its group), tagged with the configuration it confirms and its seed, with its loss
curve and its metric; a search stopped mid-run and resumed logs each finished run once."""

from __future__ import annotations

import pytest
from wandb_records import wandb_records

import autopeft
from autopeft.driver.observer import ObserverGroup, SearchObserver
from autopeft.errors import SearchInterrupted
from autopeft.store.confirmations import confirmation_run_key
from autopeft.store.study import StudyStore

STEPS = 6  # the loss is logged at every step (about 20 points a run at most)


class StopInSecondConfirmation(SearchObserver):
    """Ctrl-C at step 2 of the second confirmation run, from inside its training loop."""

    def __init__(self) -> None:
        self.started: list[tuple[str, int]] = []

    def on_confirmation_run_start(self, key: str, seed: int) -> None:
        self.started.append((key, seed))

    def on_step(self, step: int, loss: float) -> None:
        if len(self.started) == 2 and step == 2:
            raise KeyboardInterrupt


def _confirmed_stopped_then_resumed(spec: dict, make_tracker) -> tuple[str, dict[int, dict], tuple[str, int]]:
    """A 2-trial search whose one candidate is confirmed with 2 seeds, stopped in the second
    run, then resumed to the end: the confirmed key, its kept runs by seed, the stopped run."""
    spec |= {"trials": 2, "confirm": {"candidates": 1, "seeds": 2}}
    spec["budget"]["steps"] = STEPS
    spec["space"] = {"method": "lora", "modules": ["q", "v"], "rank": [2, 4]}
    first, stopper = make_tracker(), StopInSecondConfirmation()
    with pytest.raises(SearchInterrupted):
        autopeft.search(spec, observer=ObserverGroup([first, stopper]))
    first.close()  # as the CLI does on any end but success
    store = StudyStore.open(spec["study_dir"], read_only=True)
    (key,) = store.chosen_for_confirmation()
    assert len(store.confirmation_runs(key)) == 1, "the first run was kept, the second stopped"
    second = make_tracker()
    result = autopeft.resume(spec["study_dir"], observer=second)
    second.finish(result)
    runs = StudyStore.open(spec["study_dir"], read_only=True).confirmation_runs(key)
    assert len(runs) == 2
    return key, runs, stopper.started[1]


def test_mlflow_logs_each_confirmation_run_once_in_the_study_run(quick_spec, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    from autopeft.results.tracking import MLflowTracker

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    key, kept, stopped = _confirmed_stopped_then_resumed(quick_spec, MLflowTracker)

    client = mlflow.MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    (parent,) = [run for run in runs if run.data.tags.get("autopeft.kind") == "study"]
    confirmations = [run for run in runs if run.data.tags.get("autopeft.kind") == "confirmation"]
    finished = {int(run.data.tags["autopeft.seed"]): run for run in confirmations if run.info.status == "FINISHED"}
    killed = [run for run in confirmations if run.info.status == "KILLED"]
    assert len(confirmations) == 3 and len(finished) == 2, "each finished run once; the stopped attempt apart"
    assert set(finished) == set(kept)
    for seed, run in finished.items():
        assert run.info.run_name == confirmation_run_key(key, seed) == f"confirmation {key} seed {seed}"
        assert run.data.tags["autopeft.confirms"] == key and run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.metrics["accuracy"] == pytest.approx(kept[seed]["measurements"]["accuracy"])
        assert run.data.params["seed"] == str(seed) and run.data.params["steps"] == str(STEPS)
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == list(range(1, STEPS + 1))
    (killed,) = killed
    assert killed.info.run_name == confirmation_run_key(*stopped) and killed.data.tags["autopeft.seed"] == str(
        stopped[1]
    )
    assert [m.step for m in client.get_metric_history(killed.info.run_id, "loss")] == [1, 2]
    assert parent.info.status == "FINISHED"


def test_wandb_logs_each_confirmation_run_once_in_the_study_group(quick_spec, tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
    from autopeft.results.tracking import WandbTracker

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    key, kept, stopped = _confirmed_stopped_then_resumed(quick_spec, WandbTracker)
    wandb.teardown()  # W&B's service writes the offline files after finish() returns: wait for it

    runs: dict[str, list] = {}
    for run_file in sorted((tmp_path / "wandb").glob("offline-run-*/*.wandb")):
        records = wandb_records(run_file)
        (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        (exit_code,) = [r.exit.exit_code for r in records if r.WhichOneof("record_type") == "exit"]
        history = [
            (
                int(r.history.step.num),
                {(item.key or ".".join(item.nested_key)): item.value_json for item in r.history.item},
            )
            for r in records
            if r.WhichOneof("record_type") == "history"
        ]
        runs.setdefault(run.display_name, []).append((run, exit_code, history))

    confirmations = {name: found for name, found in runs.items() if name.startswith("confirmation ")}
    assert set(confirmations) == {confirmation_run_key(key, seed) for seed in kept}
    for seed, stored in kept.items():
        attempts = confirmations[confirmation_run_key(key, seed)]
        finished = [(run, history) for run, exit_code, history in attempts if exit_code == 0]
        assert len(finished) == 1, "logged once, though the search was resumed"
        ((run, history),) = finished
        assert run.run_group == "tiny" and run.job_type == "confirmation"
        assert [step for step, row in history if "loss" in row] == list(range(1, STEPS + 1))
        (accuracy,) = [float(row["accuracy"]) for _, row in history if "accuracy" in row]
        assert accuracy == pytest.approx(stored["measurements"]["accuracy"])
        stopped_attempts = [exit_code for _, exit_code, _ in attempts if exit_code != 0]
        assert stopped_attempts == ([1] if (key, seed) == stopped else [])


def test_a_confirmation_runs_losses_are_told_before_its_end(quick_spec):
    """What a tracker gets under Ray, where no step reaches the driver: each confirmation run's
    curve with its result, under the run's own key, before its end."""
    seen: list[tuple] = []

    class Recorder(SearchObserver):
        def on_trial_losses(self, key: str, losses: list[float]) -> None:
            seen.append(("losses", key, len(losses)))

        def on_confirmation_end(self, key: str, confirmation, seed: int) -> None:
            seen.append(("end", confirmation_run_key(key, seed), confirmation.run_of(seed)[1]))

    quick_spec |= {"trials": 1, "confirm": {"candidates": 1, "seeds": 1}}
    quick_spec["space"] = {"method": "lora", "modules": ["q"], "rank": [2]}
    autopeft.search(quick_spec, observer=Recorder())
    store = StudyStore.open(quick_spec["study_dir"], read_only=True)
    (seed,) = store.confirmation_runs("trial 0")
    run = confirmation_run_key("trial 0", seed)
    assert seen == [("losses", "trial 0", 4), ("losses", run, 4), ("end", run, None)]
