"""A request still queued when the search's hours run out is handed back unrun, and runs first on resume."""

from __future__ import annotations

import time

import autopeft


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


def test_the_clock_starts_with_the_command_so_nothing_trains_past_a_short_budget(quick_spec, tmp_path, monkeypatch):
    """Issue 39: `--timeout 1s` still trained the reference (162 s) after the model had loaded,
    then printed `--resume STUDY`; loading counts now, and the line names the real folder, quoted."""
    from conftest import write_spec
    from typer.testing import CliRunner

    import autopeft.api
    from autopeft.cli import app
    from autopeft.store.study import StudyStore

    prepare = autopeft.api.prepare_study

    def slow_to_load(*args, **kwargs):  # a model that takes longer to load than the budget
        prepared = prepare(*args, **kwargs)
        time.sleep(1.5)
        return prepared

    monkeypatch.setattr(autopeft.api, "prepare_study", slow_to_load)
    folder = tmp_path / "my study"
    lora = {"method": "lora", "modules": ["q", "v"], "rank": 4, "learning_rate": 1e-3, "head_learning_rate": 1e-2}
    spec = quick_spec | {"study_dir": str(folder), "references": {"lora-r4": lora}}
    ran = CliRunner().invoke(app, ["search", str(write_spec(spec, tmp_path)), "--timeout", "1s"])
    assert ran.exit_code == 0, ran.output
    assert f"4 trials not started; `autopeft search --resume '{folder}'` runs them" in ran.stderr
    store = StudyStore.open(folder, read_only=True)
    assert store.references() == [] and [r.state for r in store.records()] == ["waiting"]  # queued, never run


def test_reference_requests_carry_the_deadline_too(quick_spec, monkeypatch):
    """Under Ray a reference waiting in a worker's queue past the deadline is handed back unrun."""
    from autopeft.driver.loop import SearchLoop
    from autopeft.executors.local import LocalExecutor

    submitted = []

    class Recording(LocalExecutor):
        def submit(self, request) -> None:
            submitted.append(request)
            super().submit(request)

    lora = {"method": "lora", "modules": ["q", "v"], "rank": 4, "learning_rate": 1e-3, "head_learning_rate": 1e-2}
    monkeypatch.setattr(SearchLoop, "_executor", lambda self, trials: Recording(self._run_locally))
    autopeft.search(quick_spec | {"references": {"lora-r4": lora}}, trials=1, hours=1.0)
    assert [r.reference for r in submitted] == ["lora-r4", None]
    assert all(r.start_by is not None for r in submitted)
