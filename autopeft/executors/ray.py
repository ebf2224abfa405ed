"""The Ray executor: trials run in parallel on Ray actors; the driver keeps sampler and storage.

Each actor builds its trial runner once (loads the base model and the tokenized data) and
then runs one trial at a time, so a worker pays for loading once, not once per trial. Ray
restarts an actor whose process died; the trial it was running is run once more, and a
second death records it as failed, so one bad node cannot stall or end the study.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError

from autopeft.errors import AutopeftError
from autopeft.executors.address import check_cluster
from autopeft.executors.base import Executor, Judge, TrialRequest, TrialResult
from autopeft.optim.fidelity import RungBoard

TrialRunner = Callable[..., TrialResult]  # (request, on_step=(step, loss) -> None) -> result
# Runs once in each worker and loads what its trials share; gets the study's rung judge
# (successive halving) or None.
WorkerSetup = Callable[[Judge | None], TrialRunner]

START_TIMEOUT_S = 900.0  # loading a large model on a busy node can take minutes
RESTART_TIMEOUT_S = 60.0  # how long a dead worker's restart is waited for before it is given trials again
STEP_REPORT_S = 1.0  # a worker reports a trial's latest step at most this often; the driver polls as often


class StudyHost:
    """A Ray actor's body that workers share: it counts each trial's starts (a trial started
    twice was rerun after its worker died), holds the study's rung board, so that every
    worker's trials are ranked against each other at each rung, and keeps each trial's latest
    step until the driver collects it for its progress display."""

    def __init__(self, board: RungBoard | None) -> None:
        self._board = board
        self._starts: Counter[int] = Counter()
        self._steps: dict[int, tuple[int, float]] = {}

    def report(self, number: int, step: int, loss: float) -> None:
        self._steps[number] = (step, loss)

    def steps(self) -> dict[int, tuple[int, float]]:
        """Each trial's latest (step, loss) reported since the last call."""
        steps, self._steps = self._steps, {}
        return steps

    def start(self, number: int) -> int:
        """Note that trial ``number`` starts; how many times it has."""
        self._starts[number] += 1
        return self._starts[number]

    def judge(self, step: int, measurements: dict[str, float]) -> bool:
        assert self._board is not None, "judge is only handed out with a board"
        return self._board.judge(step, measurements)


@dataclass(frozen=True)
class RemoteJudge:
    """A worker's side of the board: asks the host actor (blocking; one call per rung)."""

    host: str  # the StudyHost actor's name (a handle as an actor argument would defeat restarts)

    def __call__(self, step: int, measurements: Mapping[str, float]) -> bool:
        return ray.get(ray.get_actor(self.host).judge.remote(step, dict(measurements)))


@dataclass
class StepReporter:
    """A worker's ``on_step`` for one trial: its latest step and loss to the host actor, at most
    every ``STEP_REPORT_S`` (a call that does not wait for an answer)."""

    host: Any
    number: int
    last: float = -math.inf

    def __call__(self, step: int, loss: float) -> None:
        now = time.monotonic()
        if now - self.last >= STEP_REPORT_S:
            self.last = now
            self.host.report.remote(self.number, step, loss)


class TrialWorker:
    """A Ray actor's body: sets up once, then runs trials."""

    def __init__(self, setup: WorkerSetup, host: str, judge: Judge | None) -> None:
        self._run = setup(judge)
        self._host = ray.get_actor(host)

    def run(self, request: TrialRequest) -> TrialResult:
        if request.start_by is not None and time.time() > request.start_by:
            return TrialResult(request.number, not_started=True)  # queued here past the search's deadline
        attempts = ray.get(self._host.start.remote(request.number))
        result = self._run(request, on_step=StepReporter(self._host, request.number))
        return replace(result, attempts=attempts, worker=f"{ray.util.get_node_ip_address()}:{os.getpid()}")

    def pid(self) -> int:
        """The worker's process id; answering it shows the worker has set up."""
        return os.getpid()


def connect(address: str | None) -> bool:
    """Connect to the Ray cluster at ``address``, or start a local Ray when it is None (Ray's
    own ``RAY_ADDRESS``, when set, names the cluster instead); True if this call started or
    joined it (and so should shut it down). Unset means a Ray of its own: Ray's default would
    join whatever instance already runs on the machine (another user's, another search's)."""
    if ray.is_initialized():
        return False
    check_cluster(address)
    try:
        ray.init(
            address=address if address is not None or os.environ.get("RAY_ADDRESS") else "local",
            include_dashboard=False,
            log_to_driver=False,  # trial errors come back as fail reasons; worker logs stay in Ray's log folder
            logging_level=logging.WARNING,
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise AutopeftError(
            f"executor.address: cannot reach a Ray cluster at {address or os.environ.get('RAY_ADDRESS')!r} ({error}). "
            "Fix: start one with `ray start --head`, pass its address (auto, ray://HOST:10001), "
            "or leave the address unset for a local Ray"
        ) from error
    return True


def fitting_workers(resources: Mapping[str, float], cpus_per_trial: float, gpus_per_trial: float) -> int:
    """How many trials the cluster's ``resources`` run at once."""
    fits = int(resources.get("CPU", 0) // cpus_per_trial)
    if gpus_per_trial > 0:
        fits = min(fits, int(resources.get("GPU", 0) // gpus_per_trial))
    return fits


class RayExecutor(Executor):
    """Runs trials on ``workers`` Ray actors, each reserving ``cpus_per_trial`` CPUs and
    ``gpus_per_trial`` of a GPU (a fraction lets several trials share one GPU).

    Each worker is handed its next trial (``queued`` of them) while it trains, so a worker
    that finishes starts at once instead of waiting for the driver's sampler, which is
    busiest exactly when many workers finish together.
    """

    def __init__(
        self,
        setup: WorkerSetup,
        workers: int | None = None,
        *,
        address: str | None = None,
        cpus_per_trial: float = 1.0,
        gpus_per_trial: float | None = None,
        max_workers: int | None = None,
        retries: int = 1,
        board: RungBoard | None = None,
        queued: int = 1,
    ) -> None:
        self._owns_ray = connect(address)
        total = ray.cluster_resources()
        if gpus_per_trial is None:
            gpus_per_trial = 1.0 if total.get("GPU", 0) > 0 else 0.0
        fits = fitting_workers(total, cpus_per_trial, gpus_per_trial)
        if workers is None:
            if fits < 1:
                message = (
                    f"executor: the Ray cluster has no room for one trial with {cpus_per_trial:g} CPUs and "
                    f"{gpus_per_trial:g} GPUs (it has {total.get('CPU', 0):g} CPUs and {total.get('GPU', 0):g} GPUs). "
                    "Fix: lower executor.cpus_per_trial or executor.gpus_per_trial, or add nodes"
                )
                self.close()
                raise AutopeftError(message)
            workers = fits
        elif workers > fits:
            logging.getLogger("autopeft").warning(
                "executor.workers=%d but the cluster holds %d trials at once: the rest wait for resources",
                workers,
                fits,
            )
        workers = max(1, min(workers, max_workers or workers))
        self._per_worker = 1 + queued
        self.capacity = workers * self._per_worker
        actor = ray.remote(
            num_cpus=cpus_per_trial,
            num_gpus=gpus_per_trial,
            max_restarts=-1,  # a lost worker comes back ...
            max_task_retries=retries,  # ... and runs its trial again, ``retries`` times at most
        )(TrialWorker)
        # Workers find the host by name: Ray cannot restart an actor given another's handle.
        host = f"autopeft-study-host-{uuid.uuid4().hex[:12]}"
        self._host = ray.remote(num_cpus=0, max_restarts=-1)(StudyHost).options(name=host).remote(board)
        judge = None if board is None else RemoteJudge(host)
        self._workers = [actor.remote(setup, host, judge) for _ in range(workers)]
        self._load = [0] * workers  # trials handed to each worker, running or queued
        self._gone: set[int] = set()  # workers that died and could not restart
        self.retries = retries
        self._running: dict[Any, tuple[TrialRequest, int]] = {}  # object ref -> request, worker index
        self._wait_until_started()

    def _wait_until_started(self) -> None:
        """Block until every worker has set up; a setup error ends the search before any trial."""
        try:
            ray.get([worker.pid.remote() for worker in self._workers], timeout=START_TIMEOUT_S)
        except GetTimeoutError:
            self.close()
            raise AutopeftError(
                f"executor: {len(self._workers)} Ray workers did not start within {START_TIMEOUT_S:.0f}s. "
                "Fix: lower executor.workers to what the cluster holds, or add nodes"
            ) from None
        except RayError as error:
            self.close()
            raise AutopeftError(
                f"executor: a Ray worker could not load the study: {last_line(error)}. Fix: install autopeft on "
                "every node and make the model and data paths reachable from them"
            ) from None

    def submit(self, request: TrialRequest) -> None:
        live = [i for i in range(len(self._workers)) if i not in self._gone]
        if not live:
            raise AutopeftError(
                "executor: every Ray worker died and could not restart (see the failed trials' reasons). "
                "Fix: make the model and data loadable on every node, then resume the study"
            )
        index = min(live, key=self._load.__getitem__)  # the least busy live worker
        self._load[index] += 1
        self._running[self._workers[index].run.remote(request)] = (request, index)

    def wait(self) -> list[TrialResult]:
        refs = list(self._running)
        if not refs:
            return []
        poll = None if self.on_step is None else STEP_REPORT_S  # with a listener, its steps meanwhile
        while not ray.wait(refs, num_returns=1, timeout=poll)[0]:  # until one trial is done
            self._relay_steps()
        self._relay_steps()
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)  # then every one that is
        return [self._collect(ref) for ref in ready]

    def _relay_steps(self) -> None:
        """The workers' latest steps to ``on_step``; none this time while the host restarts."""
        if self.on_step is None:
            return
        try:
            steps = ray.get(self._host.steps.remote(), timeout=10 * STEP_REPORT_S)
        except RayError:
            return
        running = {request.number: request for request, _ in self._running.values()}
        for number, (step, loss) in sorted(steps.items()):
            if number in running:
                self.on_step(running[number], step, loss)

    def _collect(self, ref: Any) -> TrialResult:
        """The result behind ``ref``, or a failure when its worker died on every attempt."""
        request, index = self._running.pop(ref)
        self._load[index] -= 1
        try:
            return ray.get(ref)
        except RayActorError as error:
            if not self._restarted(index):
                return TrialResult(
                    request.number, fail_reason=f"its worker died and could not restart: {last_line(error)}"
                )
            reason = f"its worker died on each of {self.retries + 1} attempts: {last_line(error)}"
            return TrialResult(request.number, fail_reason=reason, attempts=self.retries + 1)
        except RayError as error:
            return TrialResult(request.number, fail_reason=f"ray: {last_line(error)}")

    def _restarted(self, index: int) -> bool:
        """Whether worker ``index`` came back after dying. One whose setup failed on restart is
        dead for good: it gets no more trials (they would fail at once, one after another)."""
        try:
            ray.get(self._workers[index].pid.remote(), timeout=RESTART_TIMEOUT_S)
        except RayActorError:
            self._gone.add(index)
            self.capacity -= self._per_worker
            return False
        except GetTimeoutError:
            pass  # still restarting: it may yet come back
        return True

    def close(self) -> None:
        for actor in [*getattr(self, "_workers", []), *filter(None, [getattr(self, "_host", None)])]:
            ray.kill(actor)
        self._workers, self._host = [], None
        if self._owns_ray:
            ray.shutdown()


def last_line(error: BaseException) -> str:
    """The telling part of a Ray error: its last non-empty line (Ray prepends tracebacks)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
