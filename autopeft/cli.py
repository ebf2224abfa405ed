"""The ``autopeft`` command: search, show, export, train.

Conventions: results go to stdout, progress and errors to stderr; exit code 0 on success, 1
for a runtime failure (a search whose every trial failed, a locked or damaged study), 2 for
usage and spec errors. Heavy libraries load only inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional, get_args

import typer
from rich.console import Console
from rich.markup import escape

from autopeft.errors import AutopeftError, SearchInterrupted, SpecError, UsageError

app = typer.Typer(
    help="Find the best parameter-efficient fine-tuning configuration for a model, task and budget.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
PIPED_WIDTH = 200  # rich wraps at 80 columns when output is not a terminal; tables and lines fit in this
console = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else PIPED_WIDTH)


class Verbosity:
    """-q (only the result), default (progress too), -v (failed trials' tracebacks too)."""

    level = 1


def _fail(error: AutopeftError, code: int | None = None) -> None:
    errors.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)  # [..] is text
    raise typer.Exit(code=code if code is not None else (2 if isinstance(error, (SpecError, UsageError)) else 1))


def _usage(message: str) -> None:
    _fail(UsageError(message))


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"autopeft {version('autopeft')}")
        except PackageNotFoundError:
            from autopeft import __version__

            typer.echo(f"autopeft {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show failed trials' tracebacks.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result, no progress.")] = False,
) -> None:
    """Find the best parameter-efficient fine-tuning configuration for a model, task and budget."""
    if verbose and quiet:
        _usage("options: give -v or -q, not both. Fix: drop one")
    Verbosity.level = 0 if quiet else 2 if verbose else 1
    logger = logging.getLogger("autopeft")
    for handler in [h for h in logger.handlers if getattr(h, "autopeft_cli", False)]:
        logger.removeHandler(handler)
    if verbose:  # the failed trials' tracebacks are logged at DEBUG
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.autopeft_cli = True
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


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

    Ray: with --executor ray and no --ray-address, Ray's own RAY_ADDRESS variable is used when
    set (the cluster it names); unset it to start a local Ray.
    """
    from autopeft.api import resume as resume_study
    from autopeft.api import search as run_search
    from autopeft.driver.observer import ObserverGroup, SearchObserver
    from autopeft.results.console import ConsoleObserver, print_result
    from autopeft.results.html import write_report_quietly
    from autopeft.results.tracking import make_tracker
    from autopeft.spec import ExecutorSpec

    if (spec is None) == (resume is None):
        _usage("search: give a SPEC file, or --resume STUDY_DIR (not both). Fix: see 'autopeft search --help'")
    kinds = get_args(ExecutorSpec.model_fields["kind"].annotation)
    if executor is not None and executor not in kinds:
        _usage(f"--executor: unknown executor {executor!r}. Fix: use {' or '.join(kinds)}")
    for flag, value in (("--trials", trials), ("--workers", workers)):
        if value is not None and value < 1:  # here, not typer's min=: one line like every other error
            _usage(f"{flag}: must be at least 1, got {value}. Fix: pass {flag} 1 or more")
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
        _fail(error)
    console_observer = ConsoleObserver(errors) if Verbosity.level else SearchObserver()
    observer = ObserverGroup([console_observer, tracker] if tracker else [console_observer])
    terminated = _stop_on_sigterm()
    try:
        if resume is not None:
            result = resume_study(
                resume,
                observer=observer,
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
                device=device,
                executor=executor_changes,
                hours=hours,
                accept_changed_data=accept_changed_data,
            )
    except BaseException as error:  # the tracker's run is marked failed, whatever ended the search
        _close(observer)
        if isinstance(error, SearchInterrupted):  # one line, the shells' codes for SIGTERM and SIGINT
            _fail(error, code=143 if terminated else 130)
        if isinstance(error, AutopeftError):
            _fail(error)
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
        print_result(console, result)
    if result.trials and all(t.state == "fail" for t in result.trials):
        first = next(t for t in result.trials if t.fail_reason)
        _fail(AutopeftError(f"every trial failed (trial {first.number}: {first.fail_reason})"), code=1)


def _stop_on_sigterm() -> list[int]:
    """SIGTERM (what Slurm, Kubernetes and Ray send first) stops a search as Ctrl-C does: the
    trials in flight are marked interrupted and the resume command printed. The returned list
    gets the signal's number when one came."""
    received: list[int] = []

    def stop(number: int, _frame: object) -> None:
        received.append(number)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    return received


def _hours(duration: str) -> float:
    """``--timeout``: 3600, 3600s, 90m or 2h, in hours."""
    units = {"s": 3600.0, "m": 60.0, "h": 1.0}
    number, unit = (duration[:-1], duration[-1]) if duration[-1:] in units else (duration, "s")
    try:
        value = float(number) / units[unit]
    except ValueError:
        _usage(f"--timeout: {duration!r} is not a duration. Fix: write e.g. 3600, 90m or 2h")
    if not 0 < value < math.inf:  # NaN compares false too: it would mean no limit at all
        _usage(f"--timeout: {duration!r} is not a positive duration. Fix: write e.g. 3600, 90m or 2h")
    return value


def _close(observer: object) -> None:
    close = getattr(observer, "close", None)
    if close is not None:
        close()


@app.command()
def show(
    study: Annotated[Path, typer.Argument(help="Study folder printed after `study:` by autopeft search.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every trial, the Pareto set and the references as JSON instead.")
    ] = False,
) -> None:
    """Print a study's Pareto set."""
    from autopeft.results.console import print_result
    from autopeft.results.result import SearchResult

    try:
        result = SearchResult.load(study)
    except AutopeftError as error:
        _fail(error)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=1))
    else:
        print_result(console, result)


@app.command()
def report(
    study: Annotated[Path, typer.Argument(help="Study folder printed after `study:` by autopeft search.")],
    out: Annotated[
        Optional[Path], typer.Option(help="HTML file to write (default: STUDY/report.html); PNGs go beside it.")
    ] = None,
) -> None:
    """Write a study's report: one self-contained HTML page of plots and tables, and PNGs of the
    Pareto front and the placement map."""
    from autopeft.results.html import write_report

    try:
        files = write_report(study, out)
    except AutopeftError as error:
        _fail(error)
    for path in (files.html, files.front_png, files.placement_png):
        if path is not None:
            console.print(str(path), highlight=False, soft_wrap=True)


@app.command()
def export(
    study: Annotated[Path, typer.Argument(help="Study folder printed after `study:` by autopeft search.")],
    out: Annotated[Path, typer.Option(help="Folder for adapter_config.json and recipe.yaml.")],
    trial: Annotated[Optional[int], typer.Option(help="Trial number to export (see `autopeft show STUDY`).")] = None,
    reference: Annotated[
        Optional[str], typer.Option(help="Name of a trained reference to export instead of a trial.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace the contents of a non-empty --out folder.")] = False,
) -> None:
    """Write a trial's (or a reference's) adapter config and its training recipe.yaml."""
    from autopeft.finetune.export import export_reference, export_trial

    if (trial is None) == (reference is None):
        _usage("export: give --trial N or --reference NAME (one of them). Fix: see `autopeft show`")
    try:
        if reference is None:
            folder = export_trial(study, trial, out, force=force)
        else:
            folder = export_reference(study, reference, out, force=force)
    except AutopeftError as error:
        _fail(error)
    what = f"trial {trial}" if reference is None else f"reference {reference}"
    console.print(f"exported {what} to {folder}", highlight=False, soft_wrap=True)


@app.command()
def train(
    exported: Annotated[Path, typer.Argument(help="Folder written by `autopeft export` (adapter config + recipe).")],
    out: Annotated[Path, typer.Option(help="Folder for the trained adapter, metrics.json and checkpoints.")],
    epochs: Annotated[float, typer.Option(help="Passes over the whole train split.")] = 3.0,
    max_steps: Annotated[Optional[int], typer.Option(help="Optimizer steps in all (overrides --epochs).")] = None,
    batch_size: Annotated[int, typer.Option(help="Training examples per step.")] = 32,
    max_length: Annotated[
        Optional[int], typer.Option(help="Tokens per example (longer cut); default 256, or the model's limit.")
    ] = None,
    device: Annotated[str, typer.Option(help="auto (a visible GPU, else the CPU), cpu, cuda or cuda:N.")] = "auto",
    save_steps: Annotated[int, typer.Option(help="Checkpoint every this many steps.")] = 500,
    seed: Annotated[
        Optional[int], typer.Option(help="Seed of the fresh adapter, head and batch order (default: the recipe's).")
    ] = None,
    test: Annotated[
        Optional[str],
        typer.Option(help="Held-out rows to score after training (a file or split; default: the spec's data.test)."),
    ] = None,
    report_to: Annotated[
        str, typer.Option(help="Where transformers' Trainer logs training: mlflow, wandb, tensorboard or none.")
    ] = "none",
    push_to_hub: Annotated[
        Optional[str],
        typer.Option(help="After training, upload the adapter to this Hugging Face Hub repo (e.g. USER/NAME)."),
    ] = None,
) -> None:
    """Fully train an exported configuration (transformers' Trainer) and score it on validation.

    Running it again with the same --out resumes from the last checkpoint.
    """
    from autopeft.finetune.train import ADAPTER, ALREADY_TRAINED, METRICS_FILE, train_exported

    try:
        metrics = train_exported(
            exported,
            out,
            epochs=epochs,
            max_steps=max_steps,
            batch_size=batch_size,
            max_length=max_length,
            device=device,
            save_steps=save_steps,
            seed=seed,
            test=test,
            report_to=report_to,
            push_to_hub=push_to_hub,
        )
    except AutopeftError as error:
        _fail(error)
    if metrics.pop(ALREADY_TRAINED, False):
        again = "nothing trained again. To train longer, raise --max-steps or --epochs; to start over, a new --out"
        errors.print(f"train: {out} holds this run, trained to the end; {again}", highlight=False, soft_wrap=True)
    splits = [split for split in ("validation", "test") if split in metrics]
    scores = "; ".join(
        f"{split}: " + ", ".join(f"{name} {value:.4f}" for name, value in metrics[split].items()) for split in splits
    )
    console.print(
        f"trained {metrics['steps']} steps ({metrics['epochs']} epochs) in {metrics['train_seconds']:.0f}s; {scores}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"adapter: {out / ADAPTER}\nmetrics: {out / METRICS_FILE}", highlight=False, soft_wrap=True)


def main() -> None:
    """The console script. typer's own parse errors (a value that is not a number, an unknown
    command or option, a missing argument) are one line too, as every other error."""
    if len(sys.argv) < 2:
        app()  # no command: the help (typer exits)
        return
    try:
        code = app(prog_name="autopeft", standalone_mode=False)
    except typer.TyperException as error:  # click's ClickException, which typer carries
        context = getattr(error, "ctx", None)
        where = context.command_path if context is not None else "autopeft"
        message = (error.format_message() if hasattr(error, "format_message") else str(error)).rstrip(".")
        message += "" if message.endswith("?") else "."  # "Did you mean 'search'?"
        errors.print(f"[bold red]error:[/] {message} Fix: see '{where} --help'", highlight=False, soft_wrap=True)
        code = getattr(error, "exit_code", 2)
    except typer.Abort:
        errors.print("aborted", highlight=False)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
