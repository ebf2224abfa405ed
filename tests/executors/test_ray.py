"""Searches on a simulated two-node Ray cluster: parallel trials, a worker killed mid-trial,
the driver killed mid-study and resumed."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import optuna
import pytest
import yaml

import autopeft
from autopeft.driver.observer import SearchObserver
from autopeft.executors.base import TrialRequest
from autopeft.store.study import StudyStore

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

TRIAL_WORKER_RUNNING = b"ray::TrialWorker.run"  # Ray's process title for a worker inside run()


@pytest.fixture(scope="module")
def cluster():
    """Two nodes of one CPU each: one trial per node at a time."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    yield cluster
    if ray.is_initialized():
        ray.shutdown()
    cluster.shutdown()


@pytest.fixture()
def ray_spec(quick_spec, cluster) -> dict:
    """The quick study with trials of a couple of seconds, on the two-node cluster."""
    quick_spec["budget"]["steps"] = 150
    return quick_spec | {"executor": {"kind": "ray", "address": cluster.address}}


def pids_running_a_trial() -> list[int]:
    """Ray workers inside a trial right now, found by process title like an operator would."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(TRIAL_WORKER_RUNNING):
                    pids.append(int(entry.name))
            except OSError:
                continue  # the process ended meanwhile
    return pids


def kill_first_worker_in_a_trial(killed: list[int], timeout: float = 300.0, into_trial: float = 0.5) -> None:
    """Kill the first worker seen inside a trial for ``into_trial`` seconds: mid-trial, not in the
    first milliseconds of run(), before the trial's start has been counted."""
    deadline = time.monotonic() + timeout
    first_seen: dict[int, float] = {}
    while time.monotonic() < deadline:
        now = time.monotonic()
        running = pids_running_a_trial()
        first_seen = {pid: first_seen.get(pid, now) for pid in running}
        for pid, since in first_seen.items():
            if now - since >= into_trial:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.05)


def priorities_of_workers_in_a_trial(seen: dict[int, int], stop: threading.Event) -> None:
    """Each trial-running worker's niceness, read while it trains (the driver's suggestions stay
    fast beside busy workers because Ray runs them at a lower priority)."""
    while not stop.is_set():
        for pid in pids_running_a_trial():
            try:
                seen[pid] = os.getpriority(os.PRIO_PROCESS, pid)
            except OSError:
                continue
        time.sleep(0.05)


class CurveRecorder(SearchObserver):
    """Keeps the loss curves the driver is told of (no on_step reaches it under Ray)."""

    def __init__(self) -> None:
        self.losses: dict[str, list[float]] = {}

    def on_trial_losses(self, key: str, losses: list[float]) -> None:
        self.losses[key] = list(losses)


def test_trials_run_in_parallel_on_both_nodes_with_successive_halving(ray_spec):
    ray_spec["budget"]["successive_halving"] = {"eta": 2, "min_fraction": 0.5}
    niceness: dict[int, int] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=priorities_of_workers_in_a_trial, args=(niceness, stop))
    watcher.start()
    curves = CurveRecorder()
    try:
        result = autopeft.search(ray_spec, trials=4, observer=curves)
    finally:
        stop.set()
        watcher.join()
    driver = os.getpriority(os.PRIO_PROCESS, 0)
    assert niceness and all(n > driver for n in niceness.values()), (
        f"trial workers run below the driver's priority (Ray's worker niceness; benchmarks/optimizer.py's "
        f"busy-machine timing assumes it): niceness {niceness}, driver {driver}"
    )
    assert len(result.trials) == 4
    assert all(t.attempts == 1 for t in result.trials)
    assert len({t.worker for t in result.trials}) == 2, "both workers (one per node) ran trials"
    study = StudyStore.open(ray_spec["study_dir"]).study
    trials = study.get_trials()
    trained = [t for t in trials if t.state != optuna.trial.TrialState.FAIL]  # a random point may place nothing
    assert trained and all(t.user_attrs.get("rungs") for t in trained), "rung scores reach the driver's storage"
    first, second = sorted(trials, key=lambda t: t.datetime_start)[:2]
    assert second.datetime_start < first.datetime_complete, "two trials were in flight at once"
    # each step's loss came back from the worker with the result (trackers log the curve from it)
    assert {key: len(losses) for key, losses in curves.losses.items()} == {
        f"trial {t.number}": t.steps for t in result.trials if t.steps
    }


def test_worker_killed_mid_trial_is_retried_and_the_study_completes(ray_spec):
    # Long enough trials to kill one well after its start is counted, even on a loaded machine
    # (a kill before the count is a first attempt that never started: nothing to retry).
    ray_spec["budget"]["steps"] = 400
    killed: list[int] = []
    killer = threading.Thread(target=kill_first_worker_in_a_trial, args=(killed,), kwargs={"into_trial": 2.0})
    killer.start()
    result = autopeft.search(ray_spec, trials=3)
    killer.join()
    assert killed, "a worker was killed while it ran a trial"
    assert len(result.trials) == 3
    retried = [t for t in result.trials if t.attempts == 2]
    assert len(retried) == 1 and retried[0].state == "complete", "the killed trial ran again and finished"
    assert not [t for t in result.trials if t.fail_reason and "worker died" in t.fail_reason]


def test_trial_whose_worker_dies_twice_fails_and_the_others_finish(cluster, tmp_path):
    from autopeft.executors.ray import RayExecutor
    from autopeft.space.base import Hyperparameters, Point
    from autopeft.testing.synthetic_trials import SleepingTrials

    setup = SleepingTrials(0.5, crash=frozenset({1}), crash_once=frozenset({2}), marks=str(tmp_path))
    executor = RayExecutor(setup, address=cluster.address)
    point = Point.single("lora", {"rank": 4}, Hyperparameters(1e-3, 1e-3))
    try:
        for number in range(2):
            executor.submit(TrialRequest(number, point, number))
        results = {}
        while len(results) < 3:
            for result in executor.wait():
                results[result.number] = result
                if result.number == 0:
                    executor.submit(TrialRequest(2, point, 2))
    finally:
        executor.close()
    assert results[0].outcome is not None and results[0].attempts == 1
    assert results[1].outcome is None and results[1].fail_reason.startswith("its worker died on each of 2 attempts")
    assert results[2].outcome is not None and results[2].attempts == 2, "died once, then ran to the end"


def test_driver_killed_mid_study_resumes_without_rerunning_finished_trials(ray_spec, tmp_path):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(ray_spec | {"trials": 6}))
    study_dir = Path(ray_spec["study_dir"])
    log = (tmp_path / "driver.log").open("w")
    driver = subprocess.Popen(
        [sys.executable, "-m", "autopeft.cli", "search", str(spec_file)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_trials(study_dir / "study.db", complete=2, running=1, process=driver)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    before = StudyStore.open(study_dir).study.get_trials()
    complete_before = {t.number: t.datetime_complete for t in before if t.state.name == "COMPLETE"}
    running_before = {t.number: t.params for t in before if t.state.name == "RUNNING"}

    result = autopeft.resume(study_dir)
    after = {t.number: t for t in StudyStore.open(study_dir).study.get_trials()}
    for number, finished_at in complete_before.items():
        assert after[number].datetime_complete == finished_at, f"finished trial {number} was not rerun"
    for number, params in running_before.items():
        assert result.trials[number].interrupted, f"trial {number} is marked interrupted"
        if not params:
            continue  # killed before it drew anything: nothing to recognise its rerun by
        # A trial killed while the sampler filled it in reruns with the values it had drawn: it
        # is queued with them (optuna keeps a queued trial's values as its fixed_params).
        reruns = [t for t in after.values() if t.system_attrs.get("fixed_params") == params]
        assert len(reruns) == 1, f"interrupted trial {number} ({params}) ran again once: {reruns}"
        assert reruns[0].state.is_finished() and params.items() <= reruns[0].params.items()
    counted = [t for t in result.trials if t.state in ("complete", "pruned", "fail") and t.number not in running_before]
    assert len(counted) == 6, "the study holds exactly the 6 requested trials"
    assert len({str(sorted(t.params.items())) for t in counted}) == 6, "no point was trained twice"


def wait_for_trials(database: Path, complete: int, running: int, process: subprocess.Popen, timeout: float = 300.0):
    """Wait until the study has ``complete`` finished and ``running`` in-flight trials (read-only
    SQL: opening the study with optuna would race the driver creating its tables)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the driver ended before it could be killed"
        states: list[str] = []
        if database.exists():
            try:
                with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as connection:
                    states = [state for (state,) in connection.execute("SELECT state FROM trials")]
            except sqlite3.OperationalError:
                pass  # the driver is creating the tables
        if states.count("COMPLETE") >= complete and states.count("RUNNING") >= running:
            return
        time.sleep(0.2)
    raise AssertionError(f"the study never had {complete} complete and {running} running trials")


def test_a_worker_that_cannot_restart_gets_no_more_trials(cluster, tmp_path):
    from autopeft.executors.ray import RayExecutor
    from autopeft.space.base import Hyperparameters, Point
    from autopeft.testing.synthetic_trials import SleepingTrials

    setup = SleepingTrials(0.3, crash=frozenset({0}), marks=str(tmp_path), setup_fails_after_a_crash=True)
    executor = RayExecutor(setup, 2, address=cluster.address, queued=0)
    point = Point.single("lora", {"rank": 4}, Hyperparameters(1e-3, 1e-3))
    try:
        assert executor.capacity == 2
        executor.submit(TrialRequest(0, point, 0))
        (first,) = executor.wait()
        assert first.fail_reason.startswith("its worker died and could not restart"), first.fail_reason
        assert executor.capacity == 1, "the dead worker's place is given up"
        results = []
        for number in range(1, 5):  # the least busy worker would have been the dead one each time
            executor.submit(TrialRequest(number, point, number))
            results += executor.wait()
        assert [r.outcome is not None for r in results] == [True] * 4, [r.fail_reason for r in results]
    finally:
        executor.close()


def test_a_request_still_queued_at_its_deadline_is_handed_back_unrun(cluster):
    import time

    from autopeft.executors.ray import RayExecutor
    from autopeft.space.base import Hyperparameters, Point
    from autopeft.testing.synthetic_trials import SleepingTrials

    executor = RayExecutor(SleepingTrials(1.5), 1, address=cluster.address, queued=1)
    point = Point.single("lora", {"rank": 4}, Hyperparameters(1e-3, 1e-3))
    try:
        start_by = time.time() + 0.75  # the first starts at once; the second waits 1.5 s behind it
        for number in range(2):
            executor.submit(TrialRequest(number, point, number, start_by=start_by))
        results = {}
        while len(results) < 2:
            results |= {r.number: r for r in executor.wait()}
    finally:
        executor.close()
    assert results[0].outcome is not None and not results[0].not_started
    assert results[1].not_started and results[1].outcome is None and results[1].fail_reason is None


def test_workers_default_to_what_the_cluster_holds(cluster):
    from autopeft.errors import AutopeftError
    from autopeft.executors.ray import RayExecutor
    from autopeft.testing.synthetic_trials import SleepingTrials

    executor = RayExecutor(SleepingTrials(0.1), address=cluster.address)
    try:
        assert executor.capacity == 4, "two one-CPU workers, each handed its next trial while it runs one"
    finally:
        executor.close()
    with pytest.raises(
        AutopeftError,
        match=r"no room for one trial with 4 CPUs and 0 GPUs \(it has 2 CPUs and 0 GPUs\)\. Fix: lower executor.cpus",
    ):
        RayExecutor(SleepingTrials(0.1), address=cluster.address, cpus_per_trial=4)


def test_steps_of_trials_on_workers_reach_the_drivers_on_step(cluster):
    from autopeft.executors.ray import RayExecutor
    from autopeft.space.base import Hyperparameters, Point
    from autopeft.testing.synthetic_trials import SleepingTrials

    executor = RayExecutor(SleepingTrials(3.0, steps=6), 2, address=cluster.address, queued=0)
    point = Point.single("lora", {"rank": 4}, Hyperparameters(1e-3, 1e-3))
    seen: list[tuple[int, int, float]] = []
    executor.on_step = lambda request, step, loss: seen.append((request.number, step, loss))
    try:
        for number in range(2):
            executor.submit(TrialRequest(number, point, number))
        finished = []
        while len(finished) < 2:
            finished += executor.wait()
    finally:
        executor.close()
    assert {number for number, _, _ in seen} == {0, 1}, f"both trials' steps came back: {seen}"
    for number in (0, 1):
        steps = [(step, loss) for n, step, loss in seen if n == number]
        assert steps == sorted(set(steps)) and all(loss == 1.0 / step for step, loss in steps), steps
        assert len(steps) >= 2 and steps[-1][0] <= 6, "reported while it ran, about once a second"


def test_a_ray_search_shows_each_trials_steps(ray_spec):
    import io

    from rich.console import Console

    from autopeft.driver.observer import ObserverGroup, SearchObserver
    from autopeft.results.console import ConsoleObserver

    class StepHooks(SearchObserver):
        def __init__(self) -> None:
            self.calls: list[str] = []

        def on_step(self, step: int, loss: float) -> None:
            self.calls.append("on_step")  # the local executor's hook: trackers tie it to the one run in flight

        def on_run_step(self, request: TrialRequest, step: int, loss: float) -> None:
            self.calls.append("on_run_step")

    out, hooks = io.StringIO(), StepHooks()
    console = ConsoleObserver(Console(file=out, width=300), status_every=0)
    autopeft.search(ray_spec, trials=2, observer=ObserverGroup([console, hooks]))
    assert hooks.calls and set(hooks.calls) == {"on_run_step"}, "Ray's steps reach on_run_step alone"
    status = [line for line in out.getvalue().splitlines() if line.startswith("status: ")]
    assert any(re.search(r"trial \d \(lora x\d+\) step \d+/150 loss \d\.\d{3}", line) for line in status), status
