"""The report's tables sort by a click on a column's header, in a real headless Chromium with no
network: numbers as numbers (thousands separators, exponents, percentages), words as words, a
second click the other way round, empty cells last."""

from __future__ import annotations

from pathlib import Path

import pytest

from autopeft.results.html import REPORT_FILE
from autopeft.results.table_sort import SCRIPT, table_html
from autopeft.testing.browser import FLAGS, find_chromium

COLUMNS = ["trial", "state", "trainable params", "lr", "latency +%", "method"]
ROWS = [
    ["0", "complete", "74,498", "1.00e-03", "+1.5%", "lora x12"],
    ["1", "failed: diverged", "-", "-", "-", "prefix x3"],
    ["2", "complete", "9,216", "2.00e-02", "-0.3%", "ia3 x6"],
    ["3", "complete", "100,000", "3.00e-04", "+12.0%", "lora x2 + parallel x6"],
    ["10", "complete", "812", "5.00e-03", "+0.2%", "bitfit"],
]


@pytest.fixture(scope="module")
def browser():
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium installed (apt-get install chromium): the report is not rendered")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium, args=FLAGS)
        yield launched
        launched.close()


def _open(browser, page_file: Path):
    """The page, opened with a watch on console errors and on any request off the disk."""
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", lambda request: None if request.url.startswith("file:") else problems.append(request.url))
    page.goto(page_file.as_uri())
    return page, problems


def _column(page, table: str, title: str) -> list[str]:
    """The cells of the column titled ``title``, top to bottom as the page shows them now."""
    index = page.eval_on_selector_all(f"{table} thead th", "cells => cells.map(c => c.textContent)").index(title)
    return page.eval_on_selector_all(f"{table} tbody tr", f"rows => rows.map(r => r.cells[{index}].textContent)")


def _click(page, table: str, title: str) -> None:
    page.click(f"{table} thead th:text-is('{title}')")


def test_a_click_on_a_header_sorts_the_rows_numbers_as_numbers(browser, tmp_path):
    page_file = tmp_path / "table.html"
    page_file.write_text(
        f"<!DOCTYPE html><html><head><script>{SCRIPT}</script></head><body>"
        f"{table_html('Trials', COLUMNS, ROWS)}</body></html>"
    )
    page, problems = _open(browser, page_file)
    table = "table.sortable"
    assert _column(page, table, "trial") == ["0", "1", "2", "3", "10"], "as written until a click"

    _click(page, table, "trainable params")
    assert _column(page, table, "trainable params") == ["812", "9,216", "74,498", "100,000", "-"]
    assert _column(page, table, "trial") == ["10", "2", "0", "3", "1"], "whole rows move"
    _click(page, table, "trainable params")
    assert _column(page, table, "trainable params") == ["100,000", "74,498", "9,216", "812", "-"], (
        "a second click reverses; no value stays last"
    )
    header = page.eval_on_selector_all(f"{table} thead th", "cells => cells.map(c => c.getAttribute('aria-sort'))")
    assert header == [None, None, "descending", None, None, None]

    _click(page, table, "lr")
    assert _column(page, table, "lr") == ["3.00e-04", "1.00e-03", "5.00e-03", "2.00e-02", "-"]
    _click(page, table, "latency +%")
    assert _column(page, table, "latency +%") == ["-0.3%", "+0.2%", "+1.5%", "+12.0%", "-"]
    _click(page, table, "trial")
    _click(page, table, "trial")
    assert _column(page, table, "trial") == ["10", "3", "2", "1", "0"], "10 after 3, not between 1 and 2"
    _click(page, table, "method")
    assert _column(page, table, "method") == ["bitfit", "ia3 x6", "lora x2 + parallel x6", "lora x12", "prefix x3"]
    assert problems == []


def test_the_reports_trials_table_sorts_by_a_click(browser, finished_study):
    page, problems = _open(browser, finished_study / REPORT_FILE)
    table = "h2:text('All trials') + table"
    trials = _column(page, table, "trial")
    assert trials == sorted(trials, key=int) and len(trials) == 4

    _click(page, table, "trial")
    _click(page, table, "trial")
    assert _column(page, table, "trial") == sorted(trials, key=int, reverse=True)
    _click(page, table, "trainable params")
    sizes = _column(page, table, "trainable params")
    assert [int(size.replace(",", "")) for size in sizes] == sorted(int(size.replace(",", "")) for size in sizes)
    _click(page, table, "val accuracy")
    _click(page, table, "val accuracy")
    accuracies = [float(cell) for cell in _column(page, table, "val accuracy")]
    assert accuracies == sorted(accuracies, reverse=True)
    pareto = "h2:text('Pareto set') + table"
    _click(page, pareto, "trainable params")
    assert page.eval_on_selector(f"{pareto} thead th:text-is('trainable params')", "c => c.ariaSort") == "ascending"
    assert problems == []
