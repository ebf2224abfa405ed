"""The CLI's finish: help without flag types and with -h, choices checked as usage errors,
and warnings and Trainer's log lines on stderr (stdout holds only the result)."""

from __future__ import annotations

from conftest import write_spec
from typer.testing import CliRunner

import autopeft
from autopeft.cli import app

cli = CliRunner()


def test_help_shows_no_type_after_flags_and_takes_h():
    for args in (["export", "-h"], ["export", "--help"], ["-h"], ["search", "-h"]):
        shown = cli.invoke(app, args, env={"COLUMNS": "160"})
        assert shown.exit_code == 0, shown.output
        assert "Usage:" in shown.stdout and "<bool>" not in shown.stdout, shown.stdout
    exported = cli.invoke(app, ["export", "-h"], env={"COLUMNS": "160"}).stdout
    assert "--force" in exported and "<path>" in exported, "options that take a value keep their type"


def test_an_unknown_sampler_is_a_one_line_usage_error_naming_the_choices(quick_spec, tmp_path):
    shown = cli.invoke(app, ["search", str(write_spec(quick_spec, tmp_path)), "--sampler", "bogus"])
    assert shown.exit_code == 2
    assert shown.stderr.strip().splitlines() == [
        "error: --sampler: unknown sampler 'bogus'. Fix: use mobo, tpe, random or nsga2"
    ]
    assert shown.stdout == "" and not (tmp_path / "study").exists()


def test_the_noise_warning_goes_to_stderr_and_the_result_to_stdout(quick_spec, tmp_path, monkeypatch):
    monkeypatch.setattr("autopeft.results.console.noise_warning", lambda result: "the Pareto set ranks noise")
    quick_spec["trials"] = 1
    searched = cli.invoke(app, ["search", str(write_spec(quick_spec, tmp_path))])
    assert searched.exit_code == 0, searched.output
    shown = cli.invoke(app, ["show", quick_spec["study_dir"]])
    for result in (searched, shown):
        assert "warning: the Pareto set ranks noise" in result.stderr
        assert "ranks noise" not in result.stdout and result.stdout.rstrip().endswith(
            f"study: {quick_spec['study_dir']}"
        )


def test_train_writes_trainers_log_lines_to_stderr(quick_spec, tmp_path):
    quick_spec["space"] = {"method": "lora", "modules": ["q"], "rank": [2]}
    result = autopeft.search(quick_spec, trials=1)
    exported = autopeft.export_trial(quick_spec["study_dir"], result.trials[0].number, tmp_path / "export")
    args = ["train", str(exported), "--out", str(tmp_path / "out"), "--max-steps", "2", "--save-steps", "1"]
    trained = cli.invoke(app, [*args, "--batch-size", "8", "--max-length", "32"])
    assert trained.exit_code == 0, trained.output
    assert "'loss'" in trained.stderr and "'learning_rate'" in trained.stderr, trained.stderr
    assert "'loss'" not in trained.stdout and trained.stdout.startswith("trained 2 steps"), trained.stdout
