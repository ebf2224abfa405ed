"""``autopeft show``, ``report`` and ``export``: read a finished (or running) study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from autopeft.cli.app import app, console, errors, fail, usage
from autopeft.errors import AutopeftError


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
        fail(error)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=1))
    else:
        print_result(console, result, warnings=errors)


@app.command()
def report(
    study: Annotated[Path, typer.Argument(help="Study folder printed after `study:` by autopeft search.")],
    out: Annotated[
        Optional[Path], typer.Option(help="HTML file to write (default: STUDY/report.html); PNGs go beside it.")
    ] = None,
) -> None:
    """Write a study's report: one self-contained HTML page of plots and tables, and PNGs of the
    Pareto front and the placement map."""
    from autopeft.data.writable import writes_to
    from autopeft.results.html import write_report

    try:
        with writes_to(out or study, "--out", "give --out a file in a writable folder"):
            files = write_report(study, out)
    except AutopeftError as error:
        fail(error)
    for path in (files.html, files.front_png, files.placement_png):
        if path is not None:
            console.print(str(path), highlight=False, soft_wrap=True)


@app.command()
def export(
    study: Annotated[Path, typer.Argument(help="Study folder printed after `study:` by autopeft search.")],
    out: Annotated[Path, typer.Option(help="Folder for adapter_config.json and recipe.yaml.")],
    trial: Annotated[Optional[int], typer.Option(help="Trial number to export (see `autopeft show STUDY`).")] = None,
    reference: Annotated[
        Optional[str],
        typer.Option(help="Name of a trained reference to export instead of a trial (a grid's name: its best member)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace the contents of a non-empty --out folder.")] = False,
) -> None:
    """Write a trial's (or a reference's) adapter config and its training recipe.yaml."""
    from autopeft.data.writable import writes_to
    from autopeft.finetune.export import export_reference, export_trial
    from autopeft.finetune.recipe import Recipe

    if (trial is None) == (reference is None):
        usage("export: give --trial N or --reference NAME (one of them). Fix: see `autopeft show`")
    try:
        with writes_to(out, "--out", "give --out a folder in a writable place"):
            if reference is None:
                folder = export_trial(study, trial, out, force=force)
            else:
                folder = export_reference(study, reference, out, force=force)
    except AutopeftError as error:
        fail(error)
    what = f"trial {trial}" if reference is None else f"reference {reference}"
    member = None if reference is None else Recipe.read(folder).reference
    if member is not None and member != reference:
        what += f" at its best learning rates ({member}, as `autopeft show` compares it)"
    console.print(f"exported {what} to {folder}", highlight=False, soft_wrap=True)
