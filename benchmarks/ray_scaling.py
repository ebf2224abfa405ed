"""Ray scaling: how busy the driver keeps 1, 4 and 16 Ray workers, with the mobo sampler.

Trials are stand-ins of a fixed duration (``--seconds``, 20 by default) that train nothing
(autopeft.testing.synthetic_trials), so the figure measures the driver (asking the sampler,
recording, scheduling) and Ray, not training. Each case runs ``--rounds`` trials per worker
on a local Ray with virtual CPUs, through the real study loop (SearchLoop: optuna storage in
SQLite, mobo over the hybrid space of MiniLM's 6 layers). Utilization is the ideal time
(trials x seconds / workers) over the wall time of the loop; starting the workers (each
imports torch and autopeft) is reported apart, as ``startup_seconds``.

It also times the driver's suggestions: with ``--observations`` finished trials in a study,
the median seconds per suggestion when asking batches of 1, 4 and 16 trials at once (the
trials of a batch stay pending while the next is asked, as when workers free up together).

Ends with one JSON line: {"utilization": {"1": x, "4": x, "16": x}, "suggest_seconds":
{"1": x, "4": x, "16": x}, ...}.

    python benchmarks/ray_scaling.py [--seconds 20] [--rounds 4] [--workers 1 4 16]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import optuna
import ray
from _common import REPO

from autopeft.driver.loop import SearchLoop
from autopeft.driver.prepare import prepare_study
from autopeft.executors.base import TrialRequest
from autopeft.executors.ray import RayExecutor
from autopeft.results.result import SearchResult
from autopeft.spec import parse_spec
from autopeft.store.study import StudyStore
from autopeft.testing.synthetic_trials import SleepingTrials, synthetic_outcome

DEMO = REPO / "examples" / "data" / "demo-sentiment"


def study_spec(name: str, trials: int, folder: Path):
    return parse_spec(
        {
            "name": name,
            "data": {"train": str(DEMO / "train.jsonl"), "validation": str(DEMO / "validation.jsonl")},
            "space": "hybrid",
            "trials": trials,
            "sampler": "mobo",
            "confirm": False,  # it measures the search's worker use
            "study_dir": str(folder / name),
        }
    )


def utilization(workers: int, rounds: int, seconds: float, folder: Path, prepared) -> dict[str, float]:
    trials = rounds * workers
    store = StudyStore.create(folder / f"workers-{workers}", study_spec(f"workers-{workers}", trials, folder))
    started = time.perf_counter()
    executor = RayExecutor(SleepingTrials(seconds), workers)
    startup = time.perf_counter() - started
    loop = SearchLoop(store, prepared)
    started = time.perf_counter()
    loop.run(executor)
    result = SearchResult.from_store(store)
    wall = time.perf_counter() - started
    assert len(result.trials) == trials and all(t.state == "complete" for t in result.trials), "every trial finished"
    ideal = trials * seconds / workers
    print(
        f"{workers:2d} workers, {trials:3d} trials of {seconds:g}s: wall {wall:6.1f}s, ideal {ideal:6.1f}s, "
        f"utilization {ideal / wall:.3f} (workers started in {startup:.1f}s)"
    )
    return {"utilization": ideal / wall, "wall_seconds": wall, "startup_seconds": startup}


def suggest_seconds(observations: int, batch: int, repeats: int, folder: Path, prepared) -> float:
    """Median seconds per suggestion when ``batch`` trials are asked in a row (kept pending)."""
    store = StudyStore.create(folder / f"suggest-{batch}", study_spec(f"suggest-{batch}", observations, folder))
    loop = SearchLoop(store, prepared)
    study, space = store.study, loop.space
    metric = store.objectives[0].name
    mobo, study.sampler = study.sampler, optuna.samplers.RandomSampler(seed=0)
    for _ in range(observations):  # finished trials at random points, with synthetic outcomes
        trial = study.ask()
        point = space.sample(trial)
        outcome = synthetic_outcome(TrialRequest(trial.number, point, 0), metric, 0.0)
        study.tell(trial, [outcome.measurements[metric], float(space.trainable_parameters(trial.params))])
    study.sampler = mobo
    times = []
    for _ in range(repeats):
        asked = []
        started = time.perf_counter()
        for _ in range(batch):
            trial = study.ask()
            store.start(trial, space.sample(trial))  # as the loop keeps a trial's point before it trains
            asked.append(trial)
        times.append((time.perf_counter() - started) / batch)
        for trial in asked:  # withdraw the batch so that each repeat sees the same study
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
    seconds = statistics.median(times)
    print(f"suggestions with {observations} observations, batches of {batch:2d}: {seconds:.3f}s each (median)")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each stand-in trial")
    parser.add_argument("--rounds", type=int, default=4, help="trials per worker")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--observations", type=int, default=50, help="finished trials when timing suggestions")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    spec = study_spec("prepare", 1, folder)
    prepared = prepare_study(spec, None, "cpu")
    suggest = {str(b): suggest_seconds(args.observations, b, args.repeats, folder, prepared) for b in (1, 4, 16)}

    ray.init(num_cpus=max(args.workers), include_dashboard=False, log_to_driver=False)  # virtual CPUs
    runs = {str(w): utilization(w, args.rounds, args.seconds, folder, prepared) for w in args.workers}
    ray.shutdown()
    figures = {
        "utilization": {w: round(r["utilization"], 4) for w, r in runs.items()},
        "suggest_seconds": {b: round(s, 4) for b, s in suggest.items()},
        "startup_seconds": {w: round(r["startup_seconds"], 1) for w, r in runs.items()},
        "trial_seconds": args.seconds,
        "rounds": args.rounds,
        "observations": args.observations,
        "sampler": "mobo",
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
