"""The system's Chromium, headless, for looking at reports the way a reader will."""

from __future__ import annotations

import shutil
from pathlib import Path

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


def screenshot(page_file: Path, picture: Path, width: int, height: int, selector: str | None = None) -> list[str]:
    """Open ``page_file`` in headless Chromium (through Playwright), wait for every plot to draw
    and save ``picture``: the element ``selector`` matches, else the whole page. Returns the
    page's console errors, which a picture for the README must not hide."""
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("no Chromium found (apt-get install chromium)")
    errors: list[str] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(Path(page_file).resolve().as_uri())
        page.wait_for_function(ALL_PLOTS_DRAWN)
        if selector is None:
            page.screenshot(path=str(picture), full_page=True)
        else:
            page.locator(selector).screenshot(path=str(picture))
        browser.close()
    return errors
