"""CLI conventions: results on stdout, progress and errors on stderr, exit codes 0/1/2,
--version, -q/-v, --json, no wrapping when piped, and a --help that loads no heavy library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from autopeft.cli import app

REPO = Path(__file__).resolve().parents[2]
cli = CliRunner()


def _spec_file(quick_spec: dict, folder: Path) -> str:
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(quick_spec))
    return str(path)


def test_help_and_version_load_no_heavy_library():
    code = (
        "import sys, autopeft.cli; "
        "heavy = sorted(m for m in ('torch', 'transformers', 'peft', 'botorch', 'optuna') if m in sys.modules); "
        "print(heavy)"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert loaded.stdout.strip() == "[]", "autopeft --help must stay fast: " + loaded.stdout
    shown = cli.invoke(app, ["--version"])
    assert shown.exit_code == 0 and shown.stdout.startswith("autopeft ")


def test_spec_error_goes_to_stderr_with_code_2(quick_spec, tmp_path):
    quick_spec["trials"] = 0
    result = cli.invoke(app, ["search", _spec_file(quick_spec, tmp_path)])
    assert result.exit_code == 2
    assert "error:" in result.stderr and "trials:" in result.stderr and result.stdout == ""


def test_usage_error_is_code_2(tmp_path):
    result = cli.invoke(app, ["show", str(tmp_path)])
    assert result.exit_code == 2 and "is not a study folder" in result.stderr


def test_a_search_whose_every_trial_failed_exits_1_and_verbose_shows_the_traceback(quick_spec, tmp_path):
    quick_spec["space"]["learning_rate"] = 1e4  # every trial diverges
    quick_spec["space"]["head_learning_rate"] = 1e4
    quick_spec["budget"]["steps"] = 30
    result = cli.invoke(app, ["-v", "search", _spec_file(quick_spec, tmp_path), "--trials", "2"])
    assert result.exit_code == 1, result.output
    assert "every trial failed (trial 0: training diverged" in result.stderr
    assert "Traceback" in result.stderr and "TrialFailed" not in result.stdout


def test_quiet_prints_only_the_result_and_json_is_json(quick_spec, tmp_path):
    spec = _spec_file(quick_spec, tmp_path)
    quiet = cli.invoke(app, ["-q", "search", spec, "--trials", "1"])
    assert quiet.exit_code == 0, quiet.output
    # no progress; a warning (the tiny model learns nothing in 4 steps) is no progress, and goes to stderr
    assert all(line.startswith("warning:") for line in quiet.stderr.splitlines()) and "trial 0:" not in quiet.stdout
    assert quiet.stdout.strip().splitlines()[-1] == f"study: {quick_spec['study_dir']}"
    as_json = cli.invoke(app, ["-q", "search", spec, "--trials", "2", "--json"])
    data = json.loads(as_json.stdout)
    assert [t["number"] for t in data["trials"]] == [0, 1] and data["study_dir"] == quick_spec["study_dir"]


def test_piped_output_does_not_wrap_at_80_columns(quick_spec, tmp_path):
    quick_spec["study_dir"] = str(tmp_path / ("a-long-folder-name-" * 5) / "study")
    fresh = tmp_path / "unread-before.jsonl"  # datasets reads it anew (its progress bar would show)
    fresh.write_bytes(Path(quick_spec["data"]["train"]).read_bytes())
    quick_spec["data"]["train"] = str(fresh)
    spec = _spec_file(quick_spec, tmp_path)
    piped = subprocess.run(
        [sys.executable, "-m", "autopeft.cli", "-q", "search", spec, "--trials", "1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert piped.returncode == 0, piped.stderr
    assert f"study: {quick_spec['study_dir']}" in piped.stdout.splitlines(), "the path stays on one line"
    assert "examples/s" not in piped.stderr, "datasets' progress bars stay off the command's stderr"


def test_a_wall_clock_budget_stops_asking_and_resume_runs_the_rest(quick_spec, tmp_path):
    spec = _spec_file(quick_spec | {"trials": 4}, tmp_path)
    stopped = cli.invoke(app, ["search", spec, "--timeout", "0.001s"])  # over while the model loads
    assert stopped.exit_code == 0, stopped.output
    assert "wall-clock budget of 0.001 s used" in stopped.stderr and "4 trials not started" in stopped.stderr
    done = json.loads(cli.invoke(app, ["show", quick_spec["study_dir"], "--json"]).stdout)
    assert [t["state"] for t in done["trials"]] == ["waiting"]  # the space's centre, queued to run first
    resumed = cli.invoke(app, ["-q", "search", "--resume", quick_spec["study_dir"]])
    assert resumed.exit_code == 0, resumed.output
    finished = json.loads(cli.invoke(app, ["show", quick_spec["study_dir"], "--json"]).stdout)
    assert [t["number"] for t in finished["trials"]] == [0, 1, 2, 3], "nothing lost, nothing trained twice"
    bad = cli.invoke(app, ["search", spec, "--timeout", "soon"])
    assert bad.exit_code == 2 and "--timeout: 'soon' is not a duration" in bad.stderr
    bad = cli.invoke(app, ["search", spec, "--executor", "dask"])  # the flag's fault, not the spec file's
    assert (
        bad.exit_code == 2 and bad.stderr.strip() == "error: --executor: unknown executor 'dask'. Fix: use local or ray"
    )
    for flag in ("--trials", "--workers"):
        bad = cli.invoke(app, ["search", spec, flag, "0"])
        assert (
            bad.exit_code == 2
            and bad.stderr.strip() == f"error: {flag}: must be at least 1, got 0. Fix: pass {flag} 1 or more"
        )
    for endless in ("nan", "inf", "-5m"):  # NaN compares false with everything: it would mean no limit
        bad = cli.invoke(app, ["search", spec, "--timeout", endless])
        assert bad.exit_code == 2 and f"--timeout: '{endless}' is not a positive duration" in bad.stderr


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["export", "study", "--out", "x", "--trial", "best"], "error: Invalid value for '--trial': "),
        (["serch"], "error: No such command 'serch'. Did you mean 'search'? Fix: see 'autopeft --help'"),
        (["search", "--bogus"], "error: No such option: --bogus. Fix: see 'autopeft search --help'"),
        (["show"], "error: Missing argument 'study'. Fix: see 'autopeft show --help'"),
    ],
)
def test_the_command_lines_own_parse_errors_are_one_line(arguments, expected):
    """typer's boxed usage errors, as the console script prints them."""
    run = subprocess.run([sys.executable, "-m", "autopeft.cli", *arguments], capture_output=True, text=True)
    assert run.returncode == 2 and run.stdout == ""
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(expected) and "--help'" in line, line


def test_an_unreachable_ray_address_fails_fast_in_one_line(quick_spec, tmp_path, monkeypatch):
    import socket
    import time

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    spec = _spec_file(quick_spec, tmp_path)
    started = time.monotonic()
    given = cli.invoke(app, ["search", spec, "--executor", "ray", "--ray-address", dead])  # the GCS's HOST:PORT
    errors = [line for line in given.stderr.splitlines() if line.startswith("error:")]
    assert given.exit_code == 1 and errors[0].startswith(f"error: executor.address: nothing answers at {dead}")
    assert not Path(quick_spec["study_dir"]).exists(), "checked before the model loads and the folder is written"
    monkeypatch.setenv("RAY_ADDRESS", dead)
    from_environment = cli.invoke(app, ["search", spec, "--executor", "ray", "--trials", "1"])
    (error,) = [line for line in from_environment.stderr.splitlines() if line.startswith("error:")]
    assert from_environment.exit_code == 1 and error.startswith("error: RAY_ADDRESS (set in the environment): nothing")
    assert time.monotonic() - started < 60, "Ray alone retries a dead address for minutes"
