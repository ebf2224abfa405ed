"""An error is the first and only line on stderr (issue 39: `autopeft search bad.yaml 2>&1 | cat -A`
showed a blank line above it: the progress display, stopped unstarted, ended a line it never began)."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from typer.testing import CliRunner

from autopeft.cli import app


def test_a_spec_error_is_the_only_line_on_stderr(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: [\n")
    ran = CliRunner().invoke(app, ["search", str(bad)])
    assert ran.exit_code == 2
    assert ran.stderr.startswith(f"error: {bad}: line 3: malformed YAML") and ran.stderr.count("\n") == 1, ran.stderr


def test_the_study_line_is_quoted_for_a_shell(finished_study, tmp_path):
    """The last line of a search or show names the study so a shell can take it as it is."""
    spaced = Path(shutil.copytree(finished_study, tmp_path / "my study $x"))
    shown = CliRunner().invoke(app, ["show", str(spaced)])
    assert shown.exit_code == 0, shown.output
    last = shown.stdout.strip().splitlines()[-1]
    assert last == f"study: {shlex.quote(str(spaced))}" and shlex.split(last.removeprefix("study: ")) == [str(spaced)]
