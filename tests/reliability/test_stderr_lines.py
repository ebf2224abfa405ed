"""An error is the first and only line on stderr (issue 39: `autopeft search bad.yaml 2>&1 | cat -A`
showed a blank line above it: the progress display, stopped unstarted, ended a line it never began)."""

from __future__ import annotations

from typer.testing import CliRunner

from autopeft.cli import app


def test_a_spec_error_is_the_only_line_on_stderr(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: [\n")
    ran = CliRunner().invoke(app, ["search", str(bad)])
    assert ran.exit_code == 2
    assert ran.stderr.startswith(f"error: {bad}: line 3: malformed YAML") and ran.stderr.count("\n") == 1, ran.stderr
