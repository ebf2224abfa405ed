"""``autopeft search``: run or resume a search, print its Pareto set."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Optional, get_args

import typer

from autopeft.cli.app import Verbosity, app, console, errors, fail, usage
from autopeft.cli.signals import stop_on_sigterm
from autopeft.errors import AutopeftError, SearchInterrupted, SpecError, UsageError


@app.command()
def search(
    spec: Annotated[
        Optional[Path], typer.Argument(help="YAML study spec (model, data, space, objectives, budget, trials).")
    ] = None,
    trials: Annotated[Optional[int], typer.Option(help="Number of trials (overrides the spec's `trials`).")] = None,
    study_dir: Annotated[Optional[Path], typer.Option(help="Study folder (default: autopeft-runs/NAME).")] = None,
    sampler: Annotated[
        Optional[str], typer.Option(help="Sampler: mobo, tpe, random or nsga2 (overrides the spec).")
    ] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the study in this folder; no SPEC needed.")] = None,
    warm_start: Annotated[
        Optional[Path], typer.Option(help="Earlier study folder: try its Pareto configurations first.")
    ] = None,
    device: Annotated[
        str, typer.Option(help="Where trials train: auto (a visible GPU, else the CPU), cpu, cuda or cuda:N.")
    ] = "auto",
    executor: Annotated[
        Optional[str], typer.Option(help="local (one trial at a time, here) or ray (parallel on a Ray cluster).")
    ] = None,
    ray_address: Annotated[
        Optional[str],
        typer.Option(help="Ray cluster: auto (the one this machine joined) or ray://HOST:PORT; implies ray."),
    ] = None,
    workers: Annotated[Optional[int], typer.Option(help="Ray: trials at once (default: what fits).")] = None,
    cpus_per_trial: Annotated[Optional[float], typer.Option(help="Ray: CPUs each trial reserves.")] = None,
    gpus_per_trial: Annotated[
        Optional[float], typer.Option(help="Ray: GPU share each trial reserves (0.5: two trials per GPU).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON (as `show --json`) instead of tables.")
    ] = False,
    timeout: Annotated[
        Optional[str],
        typer.Option(help="Wall-clock budget: no trial starts after it (e.g. 90m, 2h, 3600s; sets budget.hours)."),
    ] = None,
    report_to: Annotated[
        str, typer.Option(help="Log every trial to an experiment tracker: mlflow, wandb or none.")
    ] = "none",
    accept_changed_data: Annotated[
        bool, typer.Option(help="Go on although the train or validation rows changed since the study began.")
    ] = False,
) -> None:
    """Run a search and print its Pareto set; the last line is `study: PATH`.

    Ray: without --ray-address, --executor ray joins the cluster RAY_ADDRESS names, else starts a local Ray.
    """
    from autopeft.api import resume as resume_study
    from autopeft.api import search as run_search
    from autopeft.driver.observer import ObserverGroup, SearchObserver
    from autopeft.results.console import ConsoleObserver, print_result
    from autopeft.results.html import write_report_quietly
    from autopeft.results.tracking import make_tracker
    from autopeft.spec import ExecutorSpec, StudySpec

    if (spec is None) == (resume is None):
        usage("search: give a SPEC file, or --resume STUDY_DIR (not both). Fix: see 'autopeft search --help'")
    kinds = get_args(ExecutorSpec.model_fields["kind"].annotation)
    if executor is not None and executor not in kinds:
        usage(f"--executor: unknown executor {executor!r}. Fix: use {' or '.join(kinds)}")
    samplers = get_args(StudySpec.model_fields["sampler"].annotation)
    if sampler is not None and sampler not in samplers:  # not the spec's error: the spec may be fine
        usage(f"--sampler: unknown sampler {sampler!r}. Fix: use {', '.join(samplers[:-1])} or {samplers[-1]}")
    for flag, value in (("--trials", trials), ("--workers", workers)):
        if value is not None and value < 1:  # here, not typer's min=: one line like every other error
            usage(f"{flag}: must be at least 1, got {value}. Fix: pass {flag} 1 or more")
    options = {
        "kind": executor,
        "address": ray_address,
        "workers": workers,
        "cpus_per_trial": cpus_per_trial,
        "gpus_per_trial": gpus_per_trial,
    }
    executor_changes = {key: value for key, value in options.items() if value is not None} or None
    hours = None if timeout is None else _hours(timeout)
    try:
        tracker = make_tracker(report_to)
    except AutopeftError as error:
        fail(error)
    console_observer = ConsoleObserver(errors) if Verbosity.level else SearchObserver()
    observer = ObserverGroup([console_observer, tracker] if tracker else [console_observer])
    terminated = stop_on_sigterm()
    try:
        if resume is not None:
            result = resume_study(
                resume,
                observer=observer,
                progress=False,  # the console observer above is the progress
                device=device,
                executor=executor_changes,
                hours=hours,
                accept_changed_data=accept_changed_data,
            )
        else:
            result = run_search(
                spec,
                trials=trials,
                study_dir=study_dir,
                sampler=sampler,
                warm_start=warm_start,
                observer=observer,
                progress=False,  # the console observer above is the progress
                device=device,
                executor=executor_changes,
                hours=hours,
                accept_changed_data=accept_changed_data,
            )
    except BaseException as error:  # the tracker's run is marked failed, whatever ended the search
        _close(observer)
        if isinstance(error, SearchInterrupted):  # one line, the shells' codes for SIGTERM and SIGINT
            fail(error, code=143 if terminated else 130)
        if isinstance(error, KeyboardInterrupt):  # before the search loop (loading, making the study)
            before = AutopeftError("interrupted before any trial started. Fix: run the same command again")
            fail(before, code=143 if terminated else 130)
        if isinstance(error, AutopeftError):
            fail(_named_by_flag(error, executor_changes))
        raise
    _close(console_observer)
    report = write_report_quietly(result.study_dir)
    if tracker is not None:
        tracker.finish(result, report)
    if report is not None and Verbosity.level:
        errors.print(f"report: {report.html}", highlight=False, soft_wrap=True)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=1))
    else:
        print_result(console, result, warnings=errors)
    if result.trials and all(t.state == "fail" for t in result.trials):
        first = next(t for t in result.trials if t.fail_reason)
        fail(AutopeftError(f"every trial failed (trial {first.number}: {first.fail_reason})"), code=1)


def _named_by_flag(error: AutopeftError, flags: dict | None) -> AutopeftError:
    """An executor value a flag of this command set is the flag's error, not the spec file's."""
    if isinstance(error, SpecError) and error.field.startswith("executor."):
        key = error.field.removeprefix("executor.")
        if key in (flags or {}):
            return UsageError(f"--{key.replace('_', '-')}: {error.problem}. Fix: {error.fix}")
    return error


def _hours(duration: str) -> float:
    """``--timeout``: 3600, 3600s, 90m or 2h, in hours."""
    units = {"s": 3600.0, "m": 60.0, "h": 1.0}
    number, unit = (duration[:-1], duration[-1]) if duration[-1:] in units else (duration, "s")
    try:
        value = float(number) / units[unit]
    except ValueError:
        usage(f"--timeout: {duration!r} is not a duration. Fix: write e.g. 3600, 90m or 2h")
    if not 0 < value < math.inf:  # NaN compares false too: it would mean no limit at all
        usage(f"--timeout: {duration!r} is not a positive duration. Fix: write e.g. 3600, 90m or 2h")
    return value


def _close(observer: object) -> None:
    close = getattr(observer, "close", None)
    if close is not None:
        close()
