"""A request still queued when the search's hours run out is handed back unrun, and runs first on resume."""

from __future__ import annotations

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
