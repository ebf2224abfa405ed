"""Spec values that failed only after the study folder was written, or wrote where they should
not (issue 39, items 5 and 8): a seed numpy cannot take, a name that is a path or empty."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

import autopeft
from autopeft.cli import app


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "../../x"}, "name: '../../x' is not one folder name"),
        ({"name": ""}, "name: '' is not one folder name"),
        ({"name": "a/b"}, "name: 'a/b' is not one folder name"),
        ({"seed": 2**32}, "seed: Input should be less than or equal to 2147483647"),
        ({"seed": -1}, "seed: Input should be greater than or equal to 0"),
    ],
)
def test_a_bad_name_or_seed_is_one_line_before_anything_is_written(quick_spec, tmp_path, monkeypatch, change, message):
    work = tmp_path / "deep" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    del quick_spec["study_dir"]  # the name decides the folder: autopeft-runs/NAME
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(quick_spec | change))
    result = CliRunner().invoke(app, ["search", str(spec)])
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()  # (a blank line comes first: the console observer closing)
    assert line.startswith(f"error: {spec}: {message}") and "\n" not in line
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["deep", "spec.yaml", "work"]  # nothing written


def test_objectives_that_are_not_names_are_one_line(quick_spec):
    """Found by the hostile suite: `objectives: [[]]` was a TypeError (unhashable type: 'list')."""
    with pytest.raises(autopeft.SpecError, match=r"objectives: \[\[\]\] is not a list of names\. Fix: write e\.g\."):
        autopeft.search(quick_spec | {"objectives": [[]]})
