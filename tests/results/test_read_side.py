"""The read side (show, report, export) loads no training stack: neither torch nor botorch (nor
gpytorch, transformers or PEFT), and reads what the search kept instead of recomputing it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import optuna
import pytest
from conftest import REPO

import autopeft
from autopeft.methods import peft_config_dict, peft_config_for, write_adapter_config
from autopeft.results.result import SearchResult
from autopeft.space import Hyperparameters, Point
from autopeft.store.hypervolume import HV_HISTORY
from autopeft.store.study import StudyStore
from autopeft.tasks import TASK_KINDS, TASKS

HEAVY = ("torch", "botorch", "gpytorch", "transformers", "peft")
STORAGE = ("optuna", "sqlalchemy", "alembic", "numpy")  # what opening the study through optuna loads
REFERENCE = {"modules": ["q", "v"], "rank": 4, "learning_rate": 2e-3, "head_learning_rate": 1e-2}

# Runs the commands in one fresh interpreter, then prints which heavy modules it imported.
COMMANDS = """
import json, sys
from autopeft.cli import app
for args in json.loads(sys.argv[1]):
    app(args, prog_name="autopeft", standalone_mode=False)
print(json.dumps([name for name in {heavy!r} if name in sys.modules]))
"""


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory, tiny_bert):
    """A finished two-trial study with a trained reference."""
    folder = tmp_path_factory.mktemp("read-side")
    spec = {
        "name": "tiny",
        "model": str(tiny_bert),
        "data": {"train": str(REPO / "examples/data/demo-sentiment/train.jsonl"), "validation_fraction": 0.25},
        "space": {"modules": ["q", "v"], "rank": [2, 4]},
        "budget": {"steps": 4, "batch_size": 8, "max_length": 32, "eval_examples": 32},
        "sampler": "random",
        "study_dir": str(folder / "study"),
        "references": {"lora-r4-qv": REFERENCE},
    }
    spec["data"] |= {"text": "sentence", "label": "label"}
    return autopeft.search(spec, trials=2)


def run_commands(*commands: list[str], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """The ``heavy`` modules a fresh interpreter imported while running ``commands``."""
    env = os.environ | {"PYTHONPATH": str(REPO)}
    script = COMMANDS.format(heavy=heavy)
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(commands)], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_show_report_and_export_load_no_training_stack(finished_study, tmp_path):
    study = str(finished_study.study_dir)
    imported = run_commands(
        ["show", study],
        ["show", "--json", study],
        ["report", study, "--out", str(tmp_path / "report" / "report.html")],
        ["export", study, "--out", str(tmp_path / "trial"), "--trial", "0"],
        ["export", study, "--out", str(tmp_path / "reference"), "--reference", "lora-r4-qv"],
    )
    assert imported == []
    assert (tmp_path / "trial" / "adapter_config.json").is_file()
    assert (tmp_path / "reference" / "adapter_config.json").is_file()


def test_show_opens_the_study_without_optuna(finished_study):
    """Loading optuna, SQLAlchemy and alembic to open the file took more than half of show's second."""
    study = str(finished_study.study_dir)
    assert run_commands(["show", study], ["show", "--json", study], heavy=STORAGE) == []


def test_the_kept_adapter_config_is_what_peft_writes(tmp_path):
    targets = {
        f"bert.encoder.layer.{i}.attention.self.{m}": 2 + 2 * (i % 2) for i in range(3) for m in ("query", "value")
    }
    settings = {"targets": targets, "variant": "lora", "alpha_ratio": 2.0, "dropout": 0.1}
    point = Point.single("lora", settings, Hyperparameters(1e-3, 1e-2))
    peft_config_for(point, ["classifier"], "some/model", "SEQ_CLS").save_pretrained(str(tmp_path / "peft"))
    kept = json.loads(json.dumps(peft_config_dict(point, ["classifier"], "SEQ_CLS")))  # as the study keeps it
    written = write_adapter_config(point, ["classifier"], tmp_path / "ours", "some/model", "SEQ_CLS", kept)
    assert written.read_bytes() == (tmp_path / "peft" / "adapter_config.json").read_bytes()


def test_export_builds_the_config_for_a_study_that_kept_none(finished_study, tmp_path, monkeypatch):
    """Studies from before the configs were kept export the same file, built with PEFT."""
    autopeft.export_reference(finished_study.study_dir, "lora-r4-qv", tmp_path / "kept")
    monkeypatch.setattr(StudyStore, "adapter_config", lambda self, trial=None, reference=None: None)
    autopeft.export_reference(finished_study.study_dir, "lora-r4-qv", tmp_path / "built")
    assert json.loads((tmp_path / "built" / "adapter_config.json").read_text()) == json.loads(
        (tmp_path / "kept" / "adapter_config.json").read_text()
    )


def test_the_stored_hypervolume_history_is_the_computed_one(finished_study):
    """The read side returns the history the search stored; without it, the same is computed."""
    stored = SearchResult.load(finished_study.study_dir).hypervolume_history
    storage = optuna.storages.RDBStorage(f"sqlite:///{finished_study.study_dir / 'study.db'}")
    study_id = storage.get_study_id_from_name("tiny")
    storage.set_study_user_attr(study_id, HV_HISTORY, [])
    try:
        computed = SearchResult.load(finished_study.study_dir).hypervolume_history
    finally:
        storage.set_study_user_attr(study_id, HV_HISTORY, [list(entry) for entry in stored])
    assert [number for number, _ in stored] == [t.number for t in finished_study.trials if t.state == "complete"]
    assert computed == stored


def test_the_task_kinds_describe_the_task_classes():
    assert list(TASK_KINDS) == list(TASKS)
    for name, kind in TASK_KINDS.items():
        task = TASKS[name]
        assert (task.name, task.metrics, task.default_metric, task.peft_task_type) == (
            kind.name,
            kind.metrics,
            kind.default_metric,
            kind.peft_task_type,
        )
