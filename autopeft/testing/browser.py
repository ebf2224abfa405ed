"""The system's Chromium, headless, for looking at reports the way a reader will."""

from __future__ import annotations

import shutil

# Chromium as root in a sandboxed machine with a closed network: no sandbox, no GPU, and none
# of the background connections that would be refused (and logged) at every start.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Every plot of the page drew: each plotly div holds its SVG.
ALL_PLOTS_DRAWN = "[...document.querySelectorAll('.js-plotly-plot')].every(p => p.querySelector('.main-svg'))"


def find_chromium() -> str | None:
    """The path of an installed Chromium (Debian's ``chromium``) or Chrome, if any."""
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
