"""The README's pictures come from headless Chromium: `scripts/front-screenshot` draws a committed
study's `plot_front()` into a PNG of the plot alone, reading the study without changing it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autopeft.testing.browser import find_chromium

REPO = Path(__file__).resolve().parents[2]
STUDY = REPO / "studies" / "sst2-lora" / "confirmation"


def test_front_screenshot_draws_plot_front_of_a_committed_study(tmp_path):
    if find_chromium() is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    import matplotlib.image
    import numpy as np

    before = hashlib.sha256((STUDY / "study.db").read_bytes()).hexdigest()
    picture = tmp_path / "front.png"
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "front-screenshot"), str(STUDY), str(picture)],
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    pixels = matplotlib.image.imread(picture)[:, :, :3]
    assert pixels.shape[:2] == (500, 860), "the plot alone, at the script's size"
    red = (pixels[:, :, 0] > 0.7) & (pixels[:, :, 1] < 0.3) & (pixels[:, :, 2] < 0.3)
    blue = (pixels[:, :, 2] > 0.8) & (pixels[:, :, 0] < 0.3)
    assert red.sum() > 200 and blue.sum() > 200, "the references' crosses and the Pareto set's staircase drew"
    assert np.mean(pixels) > 0.8, "a white plot, not a blank or black page"
    assert hashlib.sha256((STUDY / "study.db").read_bytes()).hexdigest() == before, "the study is only read"
