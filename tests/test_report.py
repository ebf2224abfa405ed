"""`autopeft report` and the report `autopeft search` writes: one self-contained HTML page whose
plots draw in a real headless Chromium, PNGs of the front and the placement map, and the
failed trials with their reasons."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from autopeft.cli import app
from autopeft.html_report import FRONT_PNG, PLACEMENT_PNG, REPORT_FILE

cli = CliRunner()
LORA_R4_QV = {"method": "lora", "modules": ["q", "v"], "rank": 4, "learning_rate": 1e-3, "head_learning_rate": 1e-2}
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Per figure: its traces, and per trace the points (scatter), cells drawn (heatmap) or bars.
DRAWN = """() => [...document.querySelectorAll('section.figure')].map(section => ({
    figure: section.dataset.figure,
    traces: section.querySelector('.js-plotly-plot').data.length,
    points: [...section.querySelectorAll('g.trace.scatter')].map(t => t.querySelectorAll('path.point').length),
    heatmaps: section.querySelectorAll('g.hm image').length,
    bars: section.querySelectorAll('g.trace.bars g.point').length,
}))"""


@pytest.fixture()
def searched_study(quick_spec, tmp_path) -> tuple[Path, object]:
    """A study made by `autopeft search` (4 trials, one reference), with its report."""
    quick_spec["references"] = {"lora-r4-qv": LORA_R4_QV}
    quick_spec["space"] = {"modules": ["q", "v"], "rank": [2, 4], "per_layer_rank": True}
    quick_spec["space"]["learning_rate"] = {"low": 1e-3, "high": 1e-1, "log": True}  # accuracies that differ
    quick_spec["budget"]["steps"] = 30
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(quick_spec))
    ran = cli.invoke(app, ["search", str(spec), "--trials", "4"])
    assert ran.exit_code == 0, ran.output
    folder = Path(quick_spec["study_dir"])
    assert f"report: {folder / REPORT_FILE}" in ran.stderr
    from autopeft.api import load_study

    return folder, load_study(folder)


def test_search_writes_a_report_whose_plots_draw_in_headless_chromium(searched_study):
    if CHROMIUM is None:
        pytest.skip("no Chromium installed (apt-get install chromium): the report is not rendered")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    folder, result = searched_study
    complete = [t for t in result.trials if t.state == "complete"]
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS)
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("request", lambda request: None if request.url.startswith("file:") else problems.append(request.url))
        page.goto((folder / REPORT_FILE).as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4")
        drawn = {figure["figure"]: figure for figure in page.evaluate(DRAWN)}
        text = page.inner_text("body")
        browser.close()
    assert problems == [], "console errors or network requests: " + "; ".join(problems)
    assert set(drawn) == {"front", "hypervolume", "placement", "importance"}
    assert drawn["front"]["points"] == [len(complete), len(result.pareto), 1], "trials, Pareto set, the reference"
    assert drawn["hypervolume"]["points"] == [len(complete)]
    assert drawn["placement"]["heatmaps"] == len(result.pareto) == drawn["placement"]["traces"]
    assert drawn["importance"]["bars"] >= 1
    assert "lora-r4-qv: accuracy" in text, "the reference's comparison line"
    assert "Failed trials" in text


def test_report_pngs_are_pictures_of_the_front_and_placement(searched_study):
    import matplotlib.image

    folder, result = searched_study
    for name in (FRONT_PNG, PLACEMENT_PNG):
        image = matplotlib.image.imread(folder / name)
        assert image.shape[0] > 200 and image.shape[1] > 400, name
        colours = {tuple(pixel) for pixel in image.reshape(-1, image.shape[-1])[::7].round(2).tolist()}
        assert len(colours) > 20, f"{name} looks blank"


def test_report_lists_failed_trials_with_their_reasons(quick_spec, tmp_path):
    import autopeft

    quick_spec["space"]["learning_rate"] = 1e4  # every trial diverges
    quick_spec["space"]["head_learning_rate"] = 1e4
    quick_spec["budget"]["steps"] = 30
    autopeft.search(quick_spec, trials=2)
    out = tmp_path / "elsewhere" / "study.html"
    made = cli.invoke(app, ["report", quick_spec["study_dir"], "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert made.stdout.splitlines()[0] == str(out)
    page = out.read_text()
    assert page.count("training diverged") == 2 and "<td>trial 0</td>" in page and "<td>trial 1</td>" in page
    assert not (out.parent / FRONT_PNG).exists(), "no completed trial: no front to draw"


def test_report_of_a_missing_study_is_a_usage_error(tmp_path):
    made = cli.invoke(app, ["report", str(tmp_path / "nothing")])
    assert made.exit_code == 2 and "error:" in made.stderr
