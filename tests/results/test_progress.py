"""Progress while a search runs: the trial's identity beside its step and loss, trials and
references counted apart, an ETA once one run has finished, and status lines when piped."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

from rich.console import Console

import autopeft
from autopeft.driver.observer import ObserverGroup, SearchObserver
from autopeft.executors.base import TrialRequest
from autopeft.results.console import ConsoleObserver
from autopeft.results.progress import SearchProgress
from autopeft.space.base import Hyperparameters, Point

LORA = {"targets": {"layer.0.query": 8, "layer.0.value": 8}, "alpha_ratio": 2.0, "dropout": 0.0}
POINT = Point.single("lora", LORA, Hyperparameters(1e-3, 1e-2))
LORA_R4_QV = {"method": "lora", "modules": ["q", "v"], "rank": 4, "learning_rate": 1e-3, "head_learning_rate": 1e-2}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fake_store(steps: int = 450) -> SimpleNamespace:
    """What ConsoleObserver.on_start reads of a study."""
    spec = SimpleNamespace(
        name="demo", data=SimpleNamespace(task="classification"), budget=SimpleNamespace(steps=steps)
    )
    return SimpleNamespace(
        spec=spec, path="runs/demo", objectives=[SimpleNamespace(name="accuracy")], importance=lambda: None
    )


def record(number: int) -> SimpleNamespace:
    values = {"accuracy": 0.9}
    return SimpleNamespace(
        number=number,
        state="complete",
        values=values,
        trainable_params=10,
        percent_of_base=0.1,
        train_seconds=1.0,
        attempts=1,
    )


def reference(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, failed=False, **vars(record(-1)))


def test_the_eta_is_the_mean_time_per_finished_run_times_the_runs_left_and_counts_kinds_apart():
    clock = Clock()
    state = SearchProgress(clock)
    state.start(done=0, trials=10, references=1, steps=450)
    assert state.counts() == "0 of 10 trials, 0 of 1 reference"
    state.started("reference lora-r8-qv")
    clock.now += 60
    assert state.timing() == "1:00 elapsed", "no ETA before a run has finished"
    state.ended("reference lora-r8-qv", "reference")
    state.started("trial 0")
    assert state.eta() == 600 and state.timing() == "1:00 elapsed, ETA 10:00", "10 trials left at 60 s each"
    clock.now += 30
    state.stepped(TrialRequest(0, POINT, 0), 120, 0.6914)
    assert state.status() == (
        "trial 0 (lora x2) step 120/450 loss 0.691; 0 of 10 trials, 1 of 1 reference; 1:30 elapsed, ETA 9:30"
    )
    clock.now += 600  # a slow trial: the ETA stops at the trials not yet started
    assert state.eta() == 540
    state.ended("trial 0", "trial")
    state.ended("trial 1", "trial")  # recorded, not started here (a killed search's): counted, not timed
    assert state.counts() == "2 of 10 trials, 1 of 1 reference" and state.finished == 2
    state.confirmations(4)
    assert state.counts().endswith(", 0 of 4 confirmation runs") and state.left() == 12


def test_piped_progress_prints_a_status_line_every_n_seconds_at_a_step():
    clock, out = Clock(), io.StringIO()
    observer = ConsoleObserver(Console(file=out, width=200), status_every=30, clock=clock)
    assert not observer.live, "a file is not a terminal"
    observer.on_start(fake_store(), 0, 2, {"accuracy": 0.5}, references=0)
    observer.on_trial_start(0)
    request = TrialRequest(0, POINT, 0)
    for step in range(1, 8):
        clock.now += 10
        observer.on_run_step(request, step, 1.0 / step)
    observer.on_trial_end(record(0))
    observer.close()
    status = [line for line in out.getvalue().splitlines() if line.startswith("status:")]
    assert status == [
        "status: trial 0 (lora x2) step 3/450 loss 0.333; 0 of 2 trials; 0:30 elapsed",
        "status: trial 0 (lora x2) step 6/450 loss 0.167; 0 of 2 trials; 1:00 elapsed",
    ]
    assert out.getvalue().endswith("trial 0: accuracy 0.9000, 10 trainable params (0.100%), 1.0s\n"), "no blank line"


def test_the_terminal_display_shows_counts_eta_and_a_bar_per_run_in_flight():
    clock = Clock()
    observer = ConsoleObserver(Console(file=io.StringIO(), force_terminal=True, width=200), clock=clock)
    assert observer.live
    observer.on_start(fake_store(), 0, 10, {"accuracy": 0.5}, references=1)
    try:
        observer.on_reference_start("lora-r8-qv")
        clock.now += 60
        observer.on_reference_end(reference("lora-r8-qv"))
        observer.on_trial_start(3)
        clock.now += 30
        observer.on_run_step(TrialRequest(3, POINT, 3), 120, 0.691)
        shown = io.StringIO()
        Console(file=shown, width=200).print(observer.progress.get_renderable())
    finally:
        observer.close()
    lines = [re.sub(r"[━╸╺ ]{5,}", " | ", line).strip() for line in shown.getvalue().splitlines()]
    assert lines == [
        "0 of 10 trials, 1 of 1 reference | 1:30 elapsed, ETA 9:30",
        "trial 3 (lora x2) step 120/450 loss 0.691 |",
    ]


class StepCounter(SearchObserver):
    """Which step hooks a search calls: ``on_step`` (the local executor's, trackers') and ``on_run_step``."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, float]] = []
        self.run_steps: list[tuple[int, float]] = []

    def on_step(self, step: int, loss: float) -> None:
        self.steps.append((step, loss))

    def on_run_step(self, request: TrialRequest, step: int, loss: float) -> None:
        self.run_steps.append((step, loss))


def test_a_search_reports_each_runs_steps_with_its_identity(quick_spec):
    quick_spec["references"] = {"lora-r4-qv": LORA_R4_QV}
    quick_spec["budget"]["steps"] = 6
    out, counter = io.StringIO(), StepCounter()
    console = ConsoleObserver(Console(file=out, width=300), status_every=0)
    autopeft.search(quick_spec, trials=2, observer=ObserverGroup([console, counter]))
    assert counter.steps == counter.run_steps and len(counter.steps) == 3 * 6, "locally both hooks get every step"
    status = [line for line in out.getvalue().splitlines() if line.startswith("status:")]
    assert any(re.match(r"status: reference lora-r4-qv \(lora x\d+\) step 6/6 loss \d\.\d{3}; ", s) for s in status)
    assert any(
        re.match(r"status: trial 1 \(\w+ x\d+\) step 3/6 loss .*; 1 of 2 trials, 1 of 1 reference;", s) for s in status
    )
    assert "ETA" not in status[0] and all("ETA" in s for s in status if s.startswith("status: trial 1 ")), status


def test_a_confirmation_line_shows_the_run_that_just_ended():
    """Runs are kept in seed order, not in the order they end: the line reads the ended seed's."""
    from autopeft.store.records import Confirmation

    out = io.StringIO()
    console = ConsoleObserver(Console(file=out, width=200), status_every=0)
    console.on_start(fake_store(), 0, 1, {"accuracy": 0.5})
    console.on_confirmation_start(2, 2)
    both = Confirmation(seeds=[5, 9], runs=[{"accuracy": 0.61}, {"accuracy": 0.72}], steps=4)
    console.on_confirmation_end("trial 3", both, 5)
    assert "confirm trial 3 (run 2): accuracy 0.6100" in out.getvalue()
