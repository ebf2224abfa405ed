"""What a Ray worker loads for a study: the model and tokenized data, once, from the study's
spec; the executor (``autopeft.executors.ray``) only knows it as a setup function."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from autopeft.driver.prepare import load_inputs
from autopeft.executors.base import Judge, execute
from autopeft.executors.ray import RayExecutor, TrialRunner
from autopeft.optim.fidelity import RungBoard
from autopeft.spec import StudySpec, parse_spec


def study_worker(
    spec: dict[str, Any], cache_dir: str, device: str, rungs: list[int] | None, judge: Judge | None
) -> TrialRunner:
    """A worker's setup for a study: load the model and tokenized data once (from the
    study's cache when the worker shares the driver's disk); trials then run on them."""
    cache: Path | None = Path(cache_dir)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        cache = None  # a node that cannot write the driver's path tokenizes without a cache
    _, context = load_inputs(parse_spec(spec, source="worker"), cache, device)
    return partial(execute, context=context, rungs=rungs, judge=judge)


def ray_executor(
    spec: StudySpec,
    cache_dir: Path,
    device: str,
    rungs: list[int] | None,
    board: RungBoard | None,
    max_workers: int,
) -> RayExecutor:
    """The executor a study's ``executor:`` options describe; its workers load the study's
    model and data as ``spec`` says."""
    options = spec.executor
    setup = partial(study_worker, spec.model_dump(mode="json"), str(cache_dir), device, rungs)
    return RayExecutor(
        setup,
        options.workers,
        address=options.address,
        cpus_per_trial=options.cpus_per_trial,
        gpus_per_trial=options.gpus_per_trial,
        max_workers=max_workers,
        board=board,
    )
