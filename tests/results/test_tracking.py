"""Experiment tracking: `--report-to mlflow` against a real local MLflow store (SQLite),
`--report-to wandb` in W&B's offline mode, `train --report-to` through transformers' Trainer,
and `train --push-to-hub`, which fails offline with one line and keeps the trained adapter."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner
from wandb_records import wandb_records

from autopeft.cli import app

cli = CliRunner()
RUNS = ["trial 0", "trial 1", "trial 2", "trial 3", "reference lora-r2-q", "reference diverges"]  # what _search logs


def _search(quick_spec: dict, folder: Path, tracker: str) -> None:
    quick_spec["space"] = {"modules": ["q", "v"], "rank": [2, 4], "per_layer_rank": True}
    lora = {"method": "lora", "modules": ["q"], "rank": 2, "learning_rate": 1e-3, "head_learning_rate": 1e-2}
    quick_spec["references"] = {"lora-r2-q": lora, "diverges": lora | {"learning_rate": 1e3, "head_learning_rate": 1e3}}
    quick_spec["budget"]["steps"] = 30  # long enough for the diverging reference to be caught
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump(quick_spec))
    ran = cli.invoke(app, ["search", str(spec), "--trials", "4", "--report-to", tracker])
    assert ran.exit_code == 0, ran.output


def test_search_logs_each_trial_under_one_mlflow_parent_run(quick_spec, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)  # MLflow puts artifacts in ./mlruns
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    _search(quick_spec, tmp_path, "mlflow")
    from autopeft.api import load_study

    study = load_study(quick_spec["study_dir"])
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("tiny")
    runs = {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"tiny", *RUNS}
    parent = runs["tiny"]
    assert parent.info.status == "FINISHED" and parent.data.params["model"] == quick_spec["model"]
    for trial in study.trials:
        run = runs[f"trial {trial.number}"]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.metrics["accuracy"] == pytest.approx(trial.values["accuracy"])
        assert run.data.metrics["trainable_params"] == trial.trainable_params
        assert run.data.tags["autopeft.state"] == trial.state
        logged = set(run.data.params) - {"learning_rate", "head_learning_rate"}
        assert logged == set(trial.used_params) - {"learning_rate", "head_learning_rate"}, "placeholders left out"
    assert any(trial.unused_params for trial in study.trials), "some trial had placeholders to leave out"
    assert runs["reference lora-r2-q"].data.tags["autopeft.kind"] == "reference"
    diverged = runs["reference diverges"]
    assert diverged.info.status == "FAILED" and diverged.data.tags["autopeft.fail_reason"].startswith(
        "training diverged"
    )
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"pareto.json", "spec.json", "report"} <= artifacts
    reports = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert "report/report.html" in reports and "report/pareto-front.png" in reports
    pareto = client.download_artifacts(parent.info.run_id, "pareto.json", str(tmp_path))
    assert [row["trial"] for row in yaml.safe_load(Path(pareto).read_text())] == [r.number for r in study.pareto]


def test_search_logs_each_trial_to_wandb_offline(quick_spec, tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    _search(quick_spec, tmp_path, "wandb")
    wandb.teardown()  # W&B's service writes the offline files after finish() returns, and keeps this test's settings
    runs = {}
    for run_file in (tmp_path / "wandb").glob("offline-run-*/*.wandb"):
        records = wandb_records(run_file)
        (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        history = {
            item.key or ".".join(item.nested_key): item.value_json
            for r in records
            if r.WhichOneof("record_type") == "history"
            for item in r.history.item
        }
        runs[run.display_name] = (run, history)
    assert set(runs) == {"tiny (study)", *RUNS}
    assert {run.run_group for run, _ in runs.values()} == {"tiny"}
    from autopeft.api import load_study

    for trial in load_study(quick_spec["study_dir"]).trials:
        run, history = runs[f"trial {trial.number}"]
        assert run.job_type == "trial"
        assert float(history["accuracy"]) == pytest.approx(trial.values["accuracy"])
        assert int(float(history["trainable_params"])) == trial.trainable_params
    logged = {key.split(".")[0] for key in runs["tiny (study)"][1]}  # a table or HTML is logged as a file
    assert {"pareto", "report", "pareto-front", "placement"} <= logged


def test_train_reports_to_mlflow_and_a_failed_upload_keeps_the_adapter(quick_spec, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    import huggingface_hub

    import autopeft

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "full-training")
    quick_spec["space"] = {"method": "lora", "modules": ["q"], "rank": [2]}
    autopeft.search(quick_spec, trials=1)
    exported = autopeft.export_trial(quick_spec["study_dir"], 0, tmp_path / "export")
    out = tmp_path / "trained"
    options = ["--max-steps", "3", "--batch-size", "8", "--max-length", "32", "--save-steps", "3"]
    train = ["train", str(exported), "--out", str(out), *options]

    unreachable = cli.invoke(app, [*train, "--push-to-hub", "me/x"])  # no network here: refused before training
    (line,) = [line for line in unreachable.stderr.splitlines() if line.startswith("error:")]
    assert unreachable.exit_code == 1 and line.startswith("error: --push-to-hub me/x: cannot create or reach the repo")
    assert not (out / "metrics.json").exists(), "nothing trained"

    def lost_network(*args, **kwargs):
        raise ConnectionError("")  # an empty message too is one line

    monkeypatch.setattr("autopeft.finetune.train.hub_repo", lambda repo: None)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lost_network)
    ran = cli.invoke(app, [*train, "--report-to", "mlflow", "--push-to-hub", "me/x"])
    assert ran.exit_code == 1
    (line,) = [line for line in ran.stderr.splitlines() if line.startswith("error:")]  # MLflow logs its own lines
    assert (
        line.startswith("error: --push-to-hub me/x: the upload failed (ConnectionError: )")
        and str(out / "adapter") in line
    )
    assert (out / "adapter" / "adapter_config.json").is_file() and (out / "metrics.json").is_file()
    client = mlflow.MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("full-training").experiment_id])
    assert "train_loss" in run.data.metrics or "loss" in run.data.metrics
    bad = cli.invoke(app, ["train", str(exported), "--out", str(out), "--report-to", "comet"])
    assert bad.exit_code == 2 and "--report-to" in bad.stderr


def test_an_unknown_search_tracker_is_a_usage_error(quick_spec, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(quick_spec))
    ran = cli.invoke(app, ["search", str(spec), "--report-to", "comet"])
    assert ran.exit_code == 2 and "--report-to" in ran.stderr and not Path(quick_spec["study_dir"]).exists()


def test_a_tracking_outage_is_a_warning_and_the_search_completes(quick_spec, tmp_path, monkeypatch, caplog):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")

    def down(*args, **kwargs):
        raise ConnectionError("tracking server down")

    monkeypatch.setattr(mlflow.MlflowClient, "log_batch", down)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(quick_spec))
    ran = cli.invoke(app, ["search", str(spec), "--trials", "2", "--report-to", "mlflow"])
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.strip().splitlines()[-1] == f"study: {quick_spec['study_dir']}"
    assert "mlflow: logging trial 1 failed (ConnectionError: tracking server down); the search goes on" in caplog.text
