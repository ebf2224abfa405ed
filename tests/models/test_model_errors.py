"""A model name that loads nothing is one line naming the field, before a study exists."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO, write_spec


def test_a_model_name_that_loads_nothing_is_one_line_naming_the_field(quick_spec, tmp_path):
    quick_spec["model"] = "no-such-org/minlm"  # a typo: a Hub id that is not there (offline here)
    spec_file = write_spec(quick_spec, tmp_path)
    env = os.environ | {"PYTHONPATH": str(REPO), "COLUMNS": "200", "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "autopeft.cli", "-q", "search", str(spec_file)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "model: cannot load 'no-such-org/minlm'" in errors[0], run.stderr
    assert "Fix: check the name" in errors[0] and not (tmp_path / "study").exists()
