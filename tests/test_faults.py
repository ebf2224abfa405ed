"""Faults a real user runs into: two searches on one study, locks left by dead searches.

Each test asserts that no finished trial is lost and no point is trained twice where it can.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import autopeft
from autopeft.store.lock import LOCK_FILE, StudyLocked

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "autopeft.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _write_spec(quick_spec: dict, folder: Path) -> Path:
    spec_file = folder / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(quick_spec))
    return spec_file


def test_a_second_search_on_a_live_study_refuses_and_the_first_finishes(quick_spec, tmp_path):
    quick_spec |= {"trials": 12, "sampler": "random", "budget": quick_spec["budget"] | {"steps": 100}}
    spec_file = _write_spec(quick_spec, tmp_path)
    lock = Path(quick_spec["study_dir"]) / LOCK_FILE
    first = _cli("search", str(spec_file), cwd=tmp_path)
    deadline = time.monotonic() + 300
    while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lock.exists(), "the first search holds the study while it runs"
    holder = json.loads(lock.read_text())
    assert holder["pid"] == first.pid and holder["host"] == socket.gethostname()

    second = _cli("search", str(spec_file), cwd=tmp_path)
    resumed = _cli("search", "--resume", quick_spec["study_dir"], cwd=tmp_path)
    for other in (second, resumed):
        output = other.communicate(timeout=120)[0]
        assert other.returncode != 0
        assert f"is in use by another search (pid {first.pid} on {holder['host']}" in output, output
        assert "Traceback" not in output
    assert first.poll() is None, "the refusals came while the first search ran"

    assert first.wait(timeout=600) == 0, first.stdout.read()
    result = autopeft.load_study(quick_spec["study_dir"])
    assert len(result.trials) == 12, "the first search ran all its trials"
    assert not any(t.interrupted for t in result.trials)
    assert sum(t.state == "complete" for t in result.trials) >= 6, "and lost none of them"
    assert not lock.exists(), "a finished search releases the study"


def test_a_lock_left_by_a_dead_search_is_taken_over(quick_spec, caplog):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    folder = Path(quick_spec["study_dir"])
    folder.mkdir(parents=True)
    (folder / LOCK_FILE).write_text(json.dumps({"host": socket.gethostname(), "pid": gone.pid, "since": "then"}))
    result = autopeft.search(quick_spec, trials=1)
    assert [t.state for t in result.trials] == ["complete"]
    assert f"taking over the lock of {folder} from pid {gone.pid}" in caplog.text
    assert not (folder / LOCK_FILE).exists()


def test_of_two_searches_taking_over_one_dead_lock_only_one_gets_it(tmp_path, monkeypatch):
    """B judged the dead holder stale, but A took the lock over first: B must not remove A's lock."""
    from autopeft.store.lock import StudyLock

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = {"host": socket.gethostname(), "pid": gone.pid, "since": "then"}
    alive = {"host": socket.gethostname(), "pid": os.getpid(), "since": "now"}  # A, which took it over
    (tmp_path / LOCK_FILE).write_text(json.dumps(alive))
    b = StudyLock(tmp_path)
    reads = iter([dead])  # what B read before A's takeover landed
    real_holder = StudyLock.holder
    monkeypatch.setattr(StudyLock, "holder", lambda self: next(reads, None) or real_holder(self))
    with pytest.raises(StudyLocked, match=f"pid {os.getpid()}"):
        b.acquire()
    assert json.loads((tmp_path / LOCK_FILE).read_text()) == alive, "A's lock is left in place"
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_FILE]


def test_a_lock_held_from_another_host_is_never_taken_over(quick_spec):
    folder = Path(quick_spec["study_dir"])
    folder.mkdir(parents=True)
    (folder / LOCK_FILE).write_text(json.dumps({"host": "other-node", "pid": 1, "since": "then"}))
    with pytest.raises(StudyLocked, match=r"in use by another search \(pid 1 on other-node.*delete .*study.lock"):
        autopeft.search(quick_spec, trials=1)
    assert not (folder / "study.db").exists(), "refused before anything was written"


@pytest.fixture()
def finished_study(quick_spec) -> Path:
    autopeft.search(quick_spec, trials=1)
    return Path(quick_spec["study_dir"])


def _show(folder: Path):
    from typer.testing import CliRunner

    from autopeft.cli import app

    return CliRunner().invoke(app, ["show", str(folder)])


def test_show_and_export_never_write_the_study(finished_study, tmp_path):
    from autopeft.finetune.export import export_trial

    db = finished_study / "study.db"
    before = db.read_bytes()
    assert _show(finished_study).exit_code == 0
    export_trial(finished_study, 0, tmp_path / "out")
    assert db.read_bytes() == before
    from autopeft.finetune.export import export_reference

    with pytest.raises(autopeft.AutopeftError, match=r"no trained reference 'lora'.*Fix: export a trial \(--trial N\)"):
        export_reference(finished_study, "lora", tmp_path / "ref")  # a study without references


def test_an_empty_database_is_one_line_and_stays_empty(finished_study):
    db = finished_study / "study.db"
    db.write_bytes(b"")
    shown = _show(finished_study)
    assert shown.exit_code == 1 and "study.db is empty (no study was ever written to it). Fix:" in shown.stderr
    assert db.stat().st_size == 0, "a read-only command wrote nothing"


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_database_is_one_line(finished_study, damage):
    db = finished_study / "study.db"
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not a database" * 100)
    shown = _show(finished_study)
    assert shown.exit_code == 1, shown.output
    assert "is not a readable study database" in shown.output and "Fix: restore it from a copy" in shown.output
    assert "Traceback" not in shown.output and len(shown.output.strip().splitlines()) <= 3
    with pytest.raises(autopeft.AutopeftError, match="is not a readable study database"):
        autopeft.resume(finished_study)


def test_resume_of_a_study_in_use_says_so_before_it_opens_the_database(finished_study):
    """A database another search is writing may not open cleanly: that is not damage to restore."""
    (finished_study / LOCK_FILE).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
    (finished_study / "study.db").write_bytes(b"mid-write" * 100)
    with pytest.raises(StudyLocked, match="is in use by another search"):
        autopeft.resume(finished_study / "study.db")


def test_search_and_resume_hold_the_study_while_trials_run(quick_spec):
    from autopeft.driver.observer import SearchObserver

    lock, holders = Path(quick_spec["study_dir"]) / LOCK_FILE, []

    class LockWatcher(SearchObserver):
        def on_trial_start(self, number: int) -> None:
            holders.append(json.loads(lock.read_text())["pid"] if lock.exists() else None)

    class StoppedAtTheSecondTrial(LockWatcher):
        def on_trial_start(self, number: int) -> None:
            super().on_trial_start(number)
            if number == 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        autopeft.search(quick_spec, observer=StoppedAtTheSecondTrial())  # 3 trials
    assert not lock.exists(), "an interrupted search releases the study"
    autopeft.resume(quick_spec["study_dir"], observer=LockWatcher())  # the second again, then the third
    assert holders == [os.getpid()] * 4 and not lock.exists(), "held while each trial ran, released after"


def test_a_trial_queued_past_the_deadline_is_handed_back_and_runs_first_on_resume(quick_spec, monkeypatch):
    from autopeft.driver.loop import SearchLoop
    from autopeft.executors.base import TrialResult
    from autopeft.executors.local import LocalExecutor

    class QueueingExecutor(LocalExecutor):
        capacity = 2  # one trial runs while the next waits in the worker's queue, as under Ray

        def wait(self) -> list[TrialResult]:
            running, waited = self._run(self._queue.pop(0)), self._queue.pop(0)
            assert waited.start_by is not None, "a run with hours gives each request its deadline"
            return [running, TrialResult(waited.number, not_started=True)]  # its turn came too late

    with monkeypatch.context() as patched:
        patched.setattr(SearchLoop, "_executor", lambda self, trials: QueueingExecutor(self._run_locally))
        stopped = autopeft.search(quick_spec, trials=2, hours=1.0)
    assert [t.state for t in stopped.trials] == ["complete", "fail", "waiting"] and stopped.trials[1].interrupted
    resumed = autopeft.resume(quick_spec["study_dir"])
    assert resumed.trials[2].params == stopped.trials[1].params, "the handed-back point runs first"
    assert sum(t.counts for t in resumed.trials) == 2


def test_a_model_name_that_loads_nothing_is_one_line_naming_the_field(quick_spec, tmp_path):
    quick_spec["model"] = "no-such-org/minlm"  # a typo: a Hub id that is not there (offline here)
    spec_file = _write_spec(quick_spec, tmp_path)
    env = os.environ | {"PYTHONPATH": str(REPO), "COLUMNS": "200", "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "autopeft.cli", "-q", "search", str(spec_file)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "model: cannot load 'no-such-org/minlm'" in errors[0], run.stderr
    assert "Fix: check the name" in errors[0] and not (tmp_path / "study").exists()


def test_a_damaged_spec_file_is_one_line_naming_it(finished_study):
    spec_file = finished_study / "spec.yaml"
    spec_file.write_text(spec_file.read_text() + "name: [cut off mid-write\n")
    shown = _show(finished_study)
    assert shown.exit_code == 2 and "Traceback" not in shown.output  # 2: a spec error, as for a spec the user wrote
    assert f"{spec_file}: line" in shown.output and "malformed YAML" in shown.output, shown.output


def test_resume_in_a_read_only_folder_says_so(finished_study, monkeypatch):
    real_access = os.access
    # Tests run as root, which writes through file modes: pretend the folder is on a read-only mount.
    monkeypatch.setattr(os, "access", lambda path, mode: False if mode == os.W_OK else real_access(path, mode))
    with pytest.raises(
        autopeft.AutopeftError, match=r"study\.db cannot be written \(the file or its folder is read-only\)"
    ):
        autopeft.resume(finished_study)


def test_an_export_never_mixes_with_an_earlier_one(quick_spec, tmp_path):
    from autopeft.finetune.export import export_trial
    from autopeft.finetune.train import train_exported
    from autopeft.methods import load_adapter

    quick_spec["space"] = {
        "combine": "choice",
        "components": [{"method": "bias"}, {"method": "lora", "modules": ["q"], "rank": [2]}],
        "learning_rate": 1e-3,
        "head_learning_rate": 1e-2,
    }
    quick_spec["sampler"] = "random"
    result = autopeft.search(quick_spec, trials=6)
    by_method = {t.point["method"]: t for t in result.trials if t.state == "complete"}
    bias, lora = by_method["bias"], by_method["lora"]
    out = tmp_path / "exp"
    export_trial(result.study_dir, bias.number, out)
    with pytest.raises(autopeft.AutopeftError, match=r"--out: .*exp is not empty\. Fix: .*--force"):
        export_trial(result.study_dir, lora.number, out)
    export_trial(result.study_dir, lora.number, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["adapter_config.json", "recipe.yaml"], "nothing stale left"
    metrics = train_exported(out, tmp_path / "trained", max_steps=1, batch_size=8, max_length=32)
    assert metrics["trainable_params"] == lora.trainable_params, "trains the LoRA trial, not the old BitFit one"

    (out / "autopeft_adapter.json").write_text("{}")  # a second configuration, by hand
    from autopeft.models import load_base_model
    from autopeft.tasks import task_for

    base = load_base_model(quick_spec["model"], task_for("classification"), ["negative", "positive"])
    with pytest.raises(autopeft.AutopeftError, match="holds both autopeft_adapter.json and adapter_config.json"):
        load_adapter(base, out)
    again = train_exported(out, tmp_path / "trained-again", max_steps=1, batch_size=8, max_length=32)
    assert again["trainable_params"] == lora.trainable_params, "train uses exactly the adapter the recipe names"
    (tmp_path / "file").write_text("x")
    with pytest.raises(autopeft.AutopeftError, match="--out: .*file is a file"):
        export_trial(result.study_dir, lora.number, tmp_path / "file")
    for holding_the_study in (Path(result.study_dir), Path(result.study_dir).parent):
        with pytest.raises(autopeft.AutopeftError, match="--out: .* holds the study .*Fix: give a folder outside"):
            export_trial(result.study_dir, lora.number, holding_the_study, force=True)
    assert (Path(result.study_dir) / "study.db").is_file(), "--force never empties the study's own folder"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"trials": True}, "trials: true/false is not a value here. Fix: write a number"),
        ({"budget": {"steps": True}}, "budget.steps: true/false is not a value here"),
        ({"space": {"rank": [True, 4]}}, r"space.lora.rank.0: true/false is not a value here"),
        ({"space": {"learning_rate": -0.001}}, r"space.learning_rate: learning rates are above 0"),
        ({"space": {"head_learning_rate": {"low": 0, "high": 1e-2}}}, r"space.head_learning_rate: learning rates"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(quick_spec, change, expected):
    from autopeft.spec import parse_spec

    spec = quick_spec | {
        key: (quick_spec[key] | value if isinstance(value, dict) else value) for key, value in change.items()
    }
    with pytest.raises(autopeft.SpecError, match=expected):
        parse_spec(spec)


def test_data_paths_expand_the_home_folder(quick_spec, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copy(quick_spec["data"]["train"], tmp_path / "train.jsonl")
    quick_spec["data"]["train"] = "~/train.jsonl"
    result = autopeft.search(quick_spec, trials=1)
    assert result.trials[0].state == "complete", result.trials[0].fail_reason


def _rows(count: int = 40, label=lambda i: i % 2) -> list[dict]:
    return [{"sentence": f"review number {i} is {'good' if i % 2 else 'bad'}", "label": label(i)} for i in range(count)]


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda p: p.write_text(""), r"data.train: .*train.jsonl is empty\. Fix: give a file with examples"),
        (
            lambda p: _write_jsonl(p, _rows()[:5] + [{"sentence": None, "label": 1}]),
            r"row 6: no value in column 'sentence'",
        ),
        (
            lambda p: _write_jsonl(p, _rows()[:3] + [{"sentence": "  ", "label": 1}]),
            r"row 4: empty text in column 'sentence'",
        ),
        (
            lambda p: _write_jsonl(p, _rows()[:7] + [{"sentence": "fine", "label": None}]),
            r"row 8: no value in column 'label'",
        ),
        (
            lambda p: p.write_bytes(b'{"sentence": "ok", "label": 1}\n{"sentence": "caf\xe9", "label": 0}\n'),
            r"line 2: bytes that are not UTF-8 text\. Fix: save the file as UTF-8",
        ),
        (
            lambda p: p.write_text('{"sentence": "ok", "label": 1}\n{"sentence": "broken", \n'),
            r"line 2: not valid JSON .*Fix: fix or remove that line",
        ),
    ],
)
def test_bad_data_files_are_one_line_naming_file_and_row(quick_spec, tmp_path, damage, expected):
    train = tmp_path / "train.jsonl"
    damage(train)
    quick_spec["data"]["train"] = str(train)
    with pytest.raises(autopeft.SpecError, match=expected):
        autopeft.search(quick_spec, trials=1)
    assert not Path(quick_spec["study_dir"]).exists(), "refused before any study exists"


def test_labels_equal_as_numbers_are_one_class(quick_spec, tmp_path):
    quick_spec["data"]["train"] = str(_write_jsonl(tmp_path / "train.jsonl", _rows(label=lambda i: float(i % 2))))
    quick_spec["data"]["validation"] = str(_write_jsonl(tmp_path / "validation.jsonl", _rows(10)))
    result = autopeft.search(quick_spec, trials=1)
    assert result.trials[0].state == "complete"
    quick_spec["data"]["validation"] = str(_write_jsonl(tmp_path / "other.jsonl", _rows(10, label=lambda i: 2 + i % 2)))
    quick_spec["study_dir"] += "-2"
    with pytest.raises(
        autopeft.SpecError, match=r"labels \['2', '3'\] do not occur in train \(train's labels: \['0', '1'\]\)"
    ):
        autopeft.search(quick_spec, trials=1)
