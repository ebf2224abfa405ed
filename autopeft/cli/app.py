"""The ``autopeft`` command's app: its consoles, options and one-line errors (the commands live
in the modules beside this one).

Conventions: results go to stdout, progress and errors to stderr; exit code 0 on success, 1
for a runtime failure (a search whose every trial failed, a locked or damaged study), 2 for
usage and spec errors. Heavy libraries load only inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from autopeft.errors import AutopeftError, SpecError, UsageError


class Commands(TyperGroup):
    """typer's group, with flags shown without a type: its rich help writes ``<bool>`` after
    every flag (``--force --no-force <bool>``, ``--help <bool>``), although a flag takes no value."""

    def get_params(self, ctx: typer.Context) -> list:
        return _untyped_flags(super().get_params(ctx))

    def get_command(self, ctx: typer.Context, name: str) -> object:
        command = super().get_command(ctx, name)
        if command is not None:
            _untyped_flags(command.get_params(ctx))
        return command


def _untyped_flags(params: list) -> list:
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""  # the rich help shows a set metavar in place of the type
    return params


app = typer.Typer(
    cls=Commands,
    help="Find the best parameter-efficient fine-tuning configuration for a model, task and budget.",
    context_settings={"help_option_names": ["-h", "--help"]},
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


def fail(error: AutopeftError, code: int | None = None) -> None:
    errors.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)  # [..] is text
    raise typer.Exit(code=code if code is not None else (2 if isinstance(error, (SpecError, UsageError)) else 1))


def usage(message: str) -> None:
    fail(UsageError(message))


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
        usage("options: give -v or -q, not both. Fix: drop one")
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


def main() -> None:
    """The console script. typer's own parse errors (a value that is not a number, an unknown
    command or option, a missing argument) are one line too, as every other error. datasets'
    progress bars stay off (the user's own setting wins): on stderr they would sit among the
    command's status lines and one-line errors."""
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
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
