"""The hostile-input suite (issue 39): generated specs and CLI arguments run through the CLI's
parse and validation path, and every run must end in exit 0, or one line `error: ...` with exit
1 or 2, never a traceback, never past a time bound, never a change to another study's folder.

The runs stop before anything trains: the search is pointed at a Ray address where nothing
listens, which the search checks after the spec and before loading anything, so a spec that
passes validation ends in that check's one line (exit 1). Examples are capped; a failure prints
the falsifying example and the blob that replays it (``print_blob``)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import socket
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autopeft.cli import main

BOUND_S = 20.0  # no run may take longer (a validation path takes well under a second)
SETTINGS = settings(
    max_examples=40,
    deadline=None,  # the bound is asserted per run instead: the first run pays for imports
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ODD_STRINGS = st.sampled_from(
    ["", " ", "..", "../../x", "a/b", "~", "%41", "run?mode=ro", "x\u202eevil", "ünïcödé", "$(touch pwned)", "*", "-1"]
)
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | ODD_STRINGS
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
KEYS = st.sampled_from(
    [
        ("name",),
        ("seed",),
        ("trials",),
        ("sampler",),
        ("objectives",),
        ("study_dir",),
        ("warm_start",),
        ("confirm",),
        ("references",),
        ("budget", "steps"),
        ("budget", "batch_size"),
        ("budget", "max_length"),
        ("budget", "eval_examples"),
        ("budget", "hours"),
        ("space", "rank"),
        ("space", "modules"),
        ("space", "method"),
        ("data", "text"),
        ("data", "validation_fraction"),
        ("executor", "workers"),
        ("unknown_key",),
        ("budget", "unknown_key"),
    ]
)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed once the probe is: nothing listens there


def _snapshot(folder: Path) -> dict[str, str]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _victim(root: Path) -> Path:
    """Another study's folder, which no run here may touch."""
    victim = root / "victim"
    victim.mkdir()
    (victim / "spec.yaml").write_text("name: victim\n")
    (victim / "study.db").write_bytes(b"SQLite format 3\x00" + bytes(100))
    return victim


def _run(arguments: list[str], root: Path) -> None:
    victim = _victim(root)
    before = _snapshot(victim)
    started = time.monotonic()
    code, message = _main(arguments)
    took = time.monotonic() - started
    assert took < BOUND_S, f"took {took:.0f} s"
    assert "Traceback" not in message
    assert code in (0, 1, 2), (code, message)
    if code:
        assert message.startswith("error: ") and "\n" not in message, message
    assert _snapshot(victim) == before


def _main(arguments: list[str]) -> tuple[int, str]:
    """The console script as a shell runs it (its own one-line parse errors included): the
    exit code and stderr; an exception escaping it is a traceback, and fails the run."""
    stderr = io.StringIO()
    with mock.patch.object(sys, "argv", ["autopeft", *arguments]), contextlib.redirect_stderr(stderr):
        try:
            main()
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 0
    return code, stderr.getvalue().rstrip()  # a blank line above the error counts against it


def _spec_file(root: Path, spec: dict) -> Path:
    file = root / "spec.yaml"
    file.write_text(yaml.safe_dump(spec, allow_unicode=True))
    return file


@SETTINGS
@given(changes=st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=3))
def test_generated_specs_end_in_one_line_or_exit_0(quick_spec, changes):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        spec = {**quick_spec, "study_dir": str(root / "study"), "budget": dict(quick_spec["budget"])}
        spec["space"], spec["data"] = dict(quick_spec["space"]), dict(quick_spec["data"])
        for path, value in changes:
            target = spec
            for key in path[:-1]:
                target = target[key] if isinstance(target.get(key), dict) else target.setdefault(key, {})
            target[path[-1]] = str(root / "victim" / "study.db?y") if value == "victim" else value
        _run(["search", str(_spec_file(root, spec)), "--ray-address", f"127.0.0.1:{_closed_port()}"], root)


OPTIONS = st.sampled_from(["--trials", "--sampler", "--device", "--timeout", "--workers", "--study-dir", "--executor"])


@SETTINGS
@given(arguments=st.lists(st.tuples(OPTIONS, VALUES.map(str)), max_size=3))
def test_generated_cli_arguments_end_in_one_line_or_exit_0(quick_spec, arguments):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        spec = _spec_file(root, {**quick_spec, "study_dir": str(root / "study")})
        flat = [part for option, value in arguments for part in (option, value)]
        _run(["search", str(spec), *flat, "--ray-address", f"127.0.0.1:{_closed_port()}"], root)


OUT_PARTS = st.sampled_from(["", ".", "..", "out", "spec.yaml", "report.html", "pareto-front.png", "a b", "%41", "x?y"])
REPORT_SETTINGS = settings(SETTINGS, max_examples=12)  # each drawn report takes about a second


@REPORT_SETTINGS
@given(command=st.sampled_from(["report", "export"]), parts=st.lists(OUT_PARTS, min_size=1, max_size=3))
def test_generated_out_paths_end_in_one_line_or_exit_0(tiny_study_searched_once, command, parts):
    """`report --out` and `export --out` anywhere: a folder, a file of the user's, odd names. A
    file autopeft did not write is never replaced, and the study is never changed."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "spec.yaml").write_text("name: mine\n")  # the user's files, which no --out may replace
        (root / "pareto-front.png").write_bytes(b"\x89PNG\r\n\x1a\n a holiday")
        mine = _snapshot(root)
        study = _snapshot(tiny_study_searched_once)
        out = str(root.joinpath(*parts))
        extra = ["--trial", "0"] if command == "export" else []
        _run([command, str(tiny_study_searched_once), *extra, "--out", out], root)
        assert {name: digest for name, digest in _snapshot(root).items() if name in mine} == mine
        assert _snapshot(tiny_study_searched_once) == study
