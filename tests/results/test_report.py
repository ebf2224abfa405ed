"""`autopeft report` and the report `autopeft search` writes: one self-contained HTML page whose
plots draw in a real headless Chromium, PNGs of the front and the placement map, and the
failed trials with their reasons."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from autopeft.api import load_study
from autopeft.cli import app
from autopeft.results.html import FRONT_PNG, PLACEMENT_PNG, REPORT_FILE
from autopeft.testing.browser import ALL_PLOTS_DRAWN, FLAGS, find_chromium

cli = CliRunner()
LORA_R4_QV = {"method": "lora", "modules": ["q", "v"], "rank": 4, "learning_rate": 1e-3, "head_learning_rate": 1e-2}
# Per figure: its traces, and per trace the points (scatter), cells drawn (heatmap) or bars,
# and the heatmaps' axis labels.
DRAWN = """() => [...document.querySelectorAll('section.figure')].map(section => ({
    figure: section.dataset.figure,
    traces: section.querySelector('.js-plotly-plot').data.length,
    points: [...section.querySelectorAll('g.trace.scatter')].map(t => t.querySelectorAll('path.point').length),
    heatmaps: section.querySelectorAll('g.hm image').length,
    bars: section.querySelectorAll('g.trace.bars g.point').length,
    columns: section.querySelector('.js-plotly-plot').data.map(t => (t.x || []).length),
    rows: section.querySelector('.js-plotly-plot').data.map(t => (t.y || []).length),
}))"""
# The parallel coordinates: its axes' titles, and where its lines may be (left of the colour bar).
PARCOORDS = """() => {
    const plot = document.querySelector('section[data-figure=coordinates] .js-plotly-plot');
    return {
        axes: [...plot.querySelectorAll('g.y-axis text.axis-title')].map(t => t.textContent),
        canvases: plot.querySelectorAll('canvas.gl-canvas').length,
        lines_end: plot.querySelector('g.colorbar').getBoundingClientRect().left - plot.getBoundingClientRect().left,
    };
}"""
# The placement map's row labels, top to bottom on the page.
PLACEMENT_ROWS = """() => [...document.querySelectorAll('section[data-figure=placement] g.ytick text')]
    .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top).map(t => t.textContent)"""


def test_search_writes_a_report_whose_plots_draw_in_headless_chromium(finished_study):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium installed (apt-get install chromium): the report is not rendered")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    import io

    import matplotlib.image

    from autopeft.results import figure_data

    folder, result = finished_study, load_study(finished_study)
    complete = [t for t in result.trials if t.state == "complete"]
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=FLAGS)
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("request", lambda request: None if request.url.startswith("file:") else problems.append(request.url))
        page.goto((folder / REPORT_FILE).as_uri())
        page.wait_for_function(ALL_PLOTS_DRAWN)
        drawn = {figure["figure"]: figure for figure in page.evaluate(DRAWN)}
        pareto_rows = page.eval_on_selector_all("h2:text('Pareto set') + table tr", "rows => rows.length - 1")
        trial_rows = page.eval_on_selector_all("h2:text('All trials') + table tr", "rows => rows.length - 1")
        coordinates = page.evaluate(PARCOORDS)
        placement_rows = page.evaluate(PLACEMENT_ROWS)
        text = page.inner_text("body")
        page.add_style_tag(content="section[data-figure=coordinates] text { visibility: hidden }")  # lines only
        lines = page.locator("section[data-figure=coordinates] .js-plotly-plot").screenshot()
        browser.close()
    assert problems == [], "console errors or network requests: " + "; ".join(problems)
    assert set(drawn) == {
        "front",
        "hypervolume",
        "history",
        "coordinates",
        "slices",
        "placement",
        "importance",
        "modules",
    }
    assert drawn["front"]["points"] == [len(complete), len(result.pareto), 1], "trials, Pareto set, the reference"
    assert drawn["hypervolume"]["points"] == [len(complete)]
    assert drawn["placement"]["heatmaps"] == len(result.pareto) == drawn["placement"]["traces"]
    assert set(drawn["placement"]["columns"]) == {3} and set(drawn["placement"]["rows"]) == {2}, (
        "every map spans the 3 layers and the q, v rows that any trial placed"
    )
    assert drawn["importance"]["bars"] >= 1
    assert drawn["modules"]["bars"] == len(result.importance) == 6, "3 layers x q, v scored"
    assert pareto_rows == len(result.pareto)
    assert trial_rows == len(result.trials) == 4, "one row per trial"
    assert drawn["history"]["points"] == [len(complete), 0] * 2, "per objective: the trials, the best-so-far line"
    assert coordinates["axes"] == [axis.name for axis in figure_data.coordinates(result, {}).axes]
    assert coordinates["axes"][-2:] == ["accuracy", "trainable_params"] and coordinates["canvases"] == 3
    assert drawn["slices"]["points"] == [len(complete)] * (len(coordinates["axes"]) - 2), "one panel per parameter"
    picture = matplotlib.image.imread(io.BytesIO(lines))[:, : int(coordinates["lines_end"]), :3]
    assert ((picture.max(axis=2) - picture.min(axis=2)) > 0.1).sum() > 1000, "the trials' coloured lines are drawn"
    assert placement_rows == figure_data.pareto_placements(result)[0].rows, "rows top to bottom, as in the PNG"
    assert "these importances are not reliable: fANOVA fitted 11 parameters on 4 completed trials" in text
    assert "lora-r4-qv: accuracy" in text, "the reference's comparison line"
    assert "Failed trials" in text


def test_report_pngs_are_pictures_of_the_front_and_placement(finished_study):
    import matplotlib.image
    import numpy as np

    from autopeft.results import figure_data
    from autopeft.results.figure_files import front_picture, placement_picture

    folder, result = finished_study, load_study(finished_study)
    for name in (FRONT_PNG, PLACEMENT_PNG):
        image = matplotlib.image.imread(folder / name)
        assert image.shape[0] > 200 and image.shape[1] > 400, name
    front = figure_data.front(result)
    axes = front_picture(front).axes[0]
    trials, references = axes.collections[0], axes.collections[1]
    assert len(trials.get_offsets()) == len(front.trials) and len(references.get_offsets()) == 1
    (staircase,) = axes.get_lines()
    assert list(staircase.get_xdata()) == [p.trainable_params for p in front.pareto]
    maps = figure_data.pareto_placements(result)
    pictured = [a.get_images()[0].get_array() for a in placement_picture(maps).axes if a.get_images()]
    assert len(pictured) == len(maps)
    for placement, array in zip(maps, pictured, strict=True):
        placed = [[size is not None for size in row] for row in placement.sizes]
        assert (~np.ma.getmaskarray(array) & ~np.isnan(array.filled(np.nan))).tolist() == placed


def test_report_lists_failed_trials_with_their_reasons(quick_spec, tmp_path):
    import autopeft

    quick_spec["space"]["learning_rate"] = 1e4  # every trial diverges
    quick_spec["space"]["head_learning_rate"] = 1e4
    quick_spec["budget"]["steps"] = 30
    quick_spec["references"] = {"diverges": LORA_R4_QV | {"learning_rate": 1e3, "head_learning_rate": 1e3}}
    autopeft.search(quick_spec, trials=2)
    out = tmp_path / "elsewhere" / "study.html"
    made = cli.invoke(app, ["report", quick_spec["study_dir"], "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert made.stdout.splitlines()[0] == str(out)
    page = out.read_text()
    assert page.count("<td>training diverged") == 3 and "<td>trial 0</td>" in page and "<td>trial 1</td>" in page
    assert "<td>reference diverges</td>" in page
    assert not (out.parent / FRONT_PNG).exists(), "no completed trial: no front to draw"


def test_report_out_through_a_missing_folder_and_dotdot_never_replaces_a_users_picture(finished_study, tmp_path):
    """`--out mine/report.html/../out` writes mine/out and its PNGs in mine/, where a picture of
    the user's already is: refused in one line, and nothing made or replaced."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / FRONT_PNG).write_bytes(b"\x89PNG\r\n\x1a\n a holiday")
    made = cli.invoke(app, ["report", str(finished_study), "--out", str(mine / "report.html" / ".." / "out")])
    assert made.exit_code == 2 and f"--out: {mine / FRONT_PNG} exists and is not a report" in made.stderr
    assert (mine / FRONT_PNG).read_bytes().endswith(b"a holiday") and sorted(mine.iterdir()) == [mine / FRONT_PNG]


def test_report_of_a_missing_study_is_a_usage_error(tmp_path):
    made = cli.invoke(app, ["report", str(tmp_path / "nothing")])
    assert made.exit_code == 2 and "error:" in made.stderr


def test_a_report_that_cannot_be_drawn_never_fails_the_search(quick_spec, monkeypatch, caplog):
    import autopeft
    from autopeft.results import html as html_report

    autopeft.search(quick_spec, trials=1)

    def broken(*args, **kwargs):
        raise RuntimeError("no plotting today")

    monkeypatch.setattr(html_report, "write_report", broken)
    assert html_report.write_report_quietly(quick_spec["study_dir"]) is None
    assert "report was not written: no plotting today" in caplog.text


@pytest.mark.parametrize(
    "component",
    [
        {"method": "lora", "modules": ["q", "v"], "rank": [4]},
        {"method": "ia3", "modules": ["k", "v", "ffn_down"]},
        {"method": "vera", "modules": ["q", "v"], "rank": [8]},
        {"method": "prefix", "virtual_tokens": [4]},
        {"method": "serial_adapter", "width": [8]},
        {"method": "parallel_adapter", "width": [8]},
        {"method": "layernorm"},
    ],
    ids=lambda component: component["method"],
)
def test_every_placed_method_draws_on_the_placement_map(component):
    from autopeft.driver.space import build_space
    from autopeft.models import discover_architecture
    from autopeft.results.figure_data import placement_map
    from autopeft.spec.space import SpaceSpec
    from autopeft.testing.tiny_models import tiny_classifier

    model = tiny_classifier("bert")
    arch = discover_architecture(model)
    space = build_space(SpaceSpec(components=[component]), arch, model.config)
    drawn = placement_map("centre", space.point_from_params(space.center_params()).to_dict())
    assert drawn.layers == list(range(arch.num_layers)), component["method"]
    assert drawn.rows and all(row.startswith(drawn.rows[0].split(" · ")[0]) for row in drawn.rows)
    assert all(size is not None and size >= 1 for row in drawn.sizes for size in row if size is not None)
