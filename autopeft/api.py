"""The public entry points: ``search``, ``resume`` and ``load_study``, and what they return.

Each one is the data flow in a few lines: spec (validated once) -> prepared study ->
study store -> search loop -> result read back from the store.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from autopeft.data.writable import refuse_unwritable, writes_to
from autopeft.driver.loop import SearchLoop
from autopeft.driver.observer import ObserverGroup, SearchObserver
from autopeft.driver.prepare import PreparedStudy, narrow_by_importance, prepare_study
from autopeft.errors import AutopeftError, SearchInterrupted, SpecError, UsageError
from autopeft.executors.address import check_cluster
from autopeft.proxy.devices import named_device, resolve_device
from autopeft.results.console import ConsoleObserver
from autopeft.results.result import SearchResult, load_study  # noqa: F401  (autopeft.api.load_study reads on)
from autopeft.spec import StudySpec, build_spec, resolve_paths, with_executor
from autopeft.store.lock import StudyLock
from autopeft.store.study import CACHE_DIR, StudyStore, study_folder

DEFAULT_RUNS_DIR = "autopeft-runs"
ANOTHER_FOLDER = "pass --study-dir (or set study_dir in the spec) naming a writable folder"


def study_dir_for(spec: StudySpec) -> Path:
    """Where a spec's study lives: its ``study_dir`` or ``autopeft-runs/NAME``."""
    return Path(spec.study_dir) if spec.study_dir else Path(DEFAULT_RUNS_DIR) / spec.name


def search(
    spec: StudySpec | Mapping[str, Any] | str | Path,
    *,
    trials: int | None = None,
    study_dir: str | Path | None = None,
    sampler: str | None = None,
    warm_start: str | Path | None = None,
    observer: SearchObserver | None = None,
    progress: bool = True,
    device: str = "auto",
    executor: str | Mapping[str, Any] | None = None,
    hours: float | None = None,
    accept_changed_data: bool = False,
) -> SearchResult:
    """Search PEFT configurations as ``spec`` says; returns every trial and the Pareto set.

    ``spec`` is a StudySpec, a mapping of its keys, or the path of a YAML spec. Keyword
    arguments override the spec's values. Running it again on the same folder continues
    the study. ``progress`` prints a progress bar and a line per trial on stderr (the CLI's,
    in a terminal or a notebook); ``observer`` gets every hook as well (a tracker, your own
    display: see ``SearchObserver``). ``device`` is auto (a visible GPU, else the CPU), cpu,
    cuda or cuda:N.
    ``executor`` is "local", "ray" or a mapping of ExecutorSpec keys (address, workers, ...)
    merged into the spec's ``executor``. ``hours``, this run's wall-clock budget, overrides ``budget.hours``.
    A study continued on train or validation rows that changed since it began is refused unless
    ``accept_changed_data`` (then the front mixes trials scored on both).
    """
    started = time.monotonic()  # the wall-clock budget counts loading the model and data too
    _check_hours(hours)
    if not isinstance(spec, (str, Path, Mapping, StudySpec)):
        raise UsageError(f"search(): spec is a {type(spec).__name__}. Fix: give a YAML path, a mapping or a StudySpec")
    overrides: dict[str, Any] = {k: v for k, v in {"trials": trials, "sampler": sampler}.items() if v is not None}
    if study_dir is not None:
        overrides["study_dir"] = str(study_dir)
    if warm_start is not None:
        overrides["warm_start"] = str(Path(warm_start).resolve())
    spec_file = str(spec) if isinstance(spec, (str, Path)) else None
    spec = build_spec(spec, overrides, executor, source=None if spec_file else "search()")
    spec = resolve_paths(spec, Path.cwd())  # remote workers and later resumes may start elsewhere
    folder = study_dir_for(spec)
    lock = StudyLock(folder)
    lock.check()  # a study another search runs is refused before anything loads
    StudyStore.refuse_another_spec(folder, spec)  # so is a changed spec
    refuse_unwritable(folder, "study_dir", ANOTHER_FOLDER)  # and a place it cannot write to
    _check_warm_start(spec)
    driver = _driver_device(spec, device)
    _check_cluster(spec)
    with _named_in(spec_file), writes_to(folder, "study_dir", ANOTHER_FOLDER):
        prepared = prepare_study(spec, folder / CACHE_DIR, driver)  # input errors surface here
        folder.mkdir(parents=True, exist_ok=True)
    with lock:
        with writes_to(folder, "study_dir", ANOTHER_FOLDER):
            store = StudyStore.create(folder, spec)
        return _run(store, prepared, observer, progress, device, hours, accept_changed_data, started)


@contextmanager
def _named_in(spec_file: str | None) -> Iterator[None]:
    """A spec error found once the data and model are read (a column the data lacks, a layer
    out of range) names the spec file too, as the errors found while parsing it do."""
    try:
        yield
    except SpecError as error:
        if spec_file is None or error.source is not None:
            raise
        raise error.with_source(spec_file) from None


def _check_warm_start(spec: StudySpec) -> None:
    """The earlier study a warm start names, read before the new study's folder is written (a
    bad path would otherwise leave a folder whose stored spec no later run could match)."""
    if spec.warm_start is None:
        return
    try:
        StudyStore.open(spec.warm_start, read_only=True).pareto()
    except AutopeftError as error:
        raise SpecError(
            "warm_start",
            f"{spec.warm_start} is not a readable study ({error})",
            "give the folder of an earlier study: the path printed after 'study:' by autopeft search",
        ) from None


def resume(
    study_dir: str | Path,
    *,
    observer: SearchObserver | None = None,
    progress: bool = True,
    device: str = "auto",
    executor: str | Mapping[str, Any] | None = None,
    hours: float | None = None,
    accept_changed_data: bool = False,
) -> SearchResult:
    """Continue a stopped study: finished trials are kept, interrupted ones run again
    (on ``executor`` if given, else on the executor it ran on; within ``hours`` if given).
    ``progress`` and ``observer`` as for ``search``."""
    started = time.monotonic()
    _check_hours(hours)
    lock = StudyLock(study_folder(study_dir))
    lock.check()  # first: a study another search is writing may not open cleanly, and that is not damage
    store = StudyStore.open(study_dir)
    if executor is not None:
        store.spec = with_executor(store.spec, executor, source="resume()")
    driver = _driver_device(store.spec, device)
    _check_cluster(store.spec)
    # Not named in the study's spec.yaml: what fails now changed outside it (moved data, a model).
    prepared = prepare_study(store.spec, store.path / CACHE_DIR, driver)
    with lock:
        return _run(store, prepared, observer, progress, device, hours, accept_changed_data, started)


def _check_hours(hours: float | None) -> None:
    """As ``budget.hours`` and ``--timeout`` are checked: a budget of no time runs nothing."""
    if hours is not None and not (isinstance(hours, (int, float)) and hours > 0):
        raise SpecError(
            "hours", f"must be a number above 0, got {hours!r}", "give the hours this run may take, or None"
        )


def _run(
    store: StudyStore,
    prepared: PreparedStudy,
    observer: SearchObserver | None,
    progress: bool,
    device: str,
    hours: float | None,
    accept_changed_data: bool = False,
    started: float | None = None,
) -> SearchResult:
    store.check_data(prepared.data_digests(), accept_changed_data)  # trials scored on other rows share no front
    console = ConsoleObserver(Console(stderr=True)) if progress else None  # the CLI's progress, on stderr
    if console is not None:
        observer = ObserverGroup([console] if observer is None else [console, observer])
    try:
        SearchLoop(store, narrow_by_importance(prepared, store), observer, device, hours, started).run()
    except KeyboardInterrupt:
        raise SearchInterrupted(str(store.path)) from None
    finally:
        if console is not None:
            console.close()  # the progress display ends with the run; the caller's observer is the caller's
    return SearchResult.from_store(store)


def _check_cluster(spec: StudySpec) -> None:
    """A Ray cluster that does not answer, found in seconds: before the model loads (minutes
    for a large one) and before the study folder is written."""
    if spec.executor.kind == "ray":
        check_cluster(spec.executor.address)


def _driver_device(spec: StudySpec, device: str) -> str:
    """Where the driver keeps its copy of the model: with Ray it trains nothing, so the CPU.
    Checked here: a bad ``device`` is the argument's error, not the spec file's."""
    if spec.executor.kind == "ray":
        named_device(device)  # the workers have the GPUs: here only the name is checked
        return "cpu"
    resolve_device(device)
    return device
