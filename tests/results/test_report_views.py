"""The report's views beyond the front: the table of every trial, each objective by trial,
parallel coordinates, the counts it shares with `autopeft show`, fANOVA's few-trials warning,
and the PNGs' ticks, labels and row order."""

from __future__ import annotations

import math
from pathlib import Path

from typer.testing import CliRunner

from autopeft.cli import app
from autopeft.results import figure_data
from autopeft.results.figure_data import Front, FrontPoint, PlacementMap
from autopeft.results.result import SearchResult
from autopeft.results.wording import importance_warning, trial_counts, trial_table
from autopeft.store.records import INTERRUPTED_REASON, TrialRecord

cli = CliRunner()


def _trial(number: int, state: str, accuracy: float | None, size: int | None, **fields) -> TrialRecord:
    values = {} if accuracy is None else {"accuracy": accuracy, "trainable_params": float(size)}
    point = {"method": "lora", "hyperparameters": {"learning_rate": 1e-3 * (number + 1)}}
    params = fields.pop("params", {})
    return TrialRecord(
        number, state, params, values, point, size, None, None, fields.pop("fail_reason", None), **fields
    )


def _result(trials: list[TrialRecord], pareto: list[int] = ()) -> SearchResult:
    front = [t for t in trials if t.number in pareto]
    return SearchResult(Path("study"), "accuracy", "classification", ["accuracy", "trainable_params"], trials, front)


def _interrupt_and_run_again(folder: Path) -> None:
    """What a search killed mid-trial and then resumed leaves in its store: trial 4 (trial 0's
    point) interrupted, and the same point run again as trial 5."""
    from autopeft.executors.base import TrialResult
    from autopeft.proxy.trial import TrialOutcome
    from autopeft.store.study import StudyStore
    from autopeft.store.trials import POINT

    store = StudyStore.open(folder)
    first, kept = store.trials()[0], store.record(0)
    store.enqueue(first.params, again=True)
    killed = store.study.ask(fixed_distributions=first.distributions)
    killed.set_user_attr(POINT, first.user_attrs[POINT])
    store.recover_interrupted()  # the resume: a trial left running is interrupted and its point queued
    again = store.study.ask(fixed_distributions=first.distributions)
    again.set_user_attr(POINT, first.user_attrs[POINT])
    outcome = TrialOutcome(dict(kept.values), kept.trainable_params, kept.percent_of_base, 1.0, kept.steps)
    store.finish(again, TrialResult(again.number, outcome))


def test_show_and_the_report_count_an_interrupted_trial_the_same(finished_study, tmp_path):
    _interrupt_and_run_again(finished_study)
    result = SearchResult.load(finished_study)
    assert [t.state for t in result.trials] == ["complete"] * 4 + ["fail", "complete"]
    counts = trial_counts(result)
    assert counts == "5 trials, 1 on the Pareto set, 0 failed, 1 interrupted and run again"
    shown = cli.invoke(app, ["show", str(finished_study)])
    assert counts in shown.stdout
    out = tmp_path / "report.html"
    assert cli.invoke(app, ["report", str(finished_study), "--out", str(out)]).exit_code == 0
    page = out.read_text()
    assert f"<li>{counts}</li>" in page, "the report's summary says what show says"
    assert "<td>interrupted, ran again as trial 5</td>" in page, "the trials table says where it ran again"
    assert "<h2>Failed trials</h2><p>None.</p>" in page, "an interrupted trial did not fail"


def test_the_trials_table_has_every_trial_with_its_state():
    trials = [
        _trial(0, "complete", 0.7, 1000),
        _trial(1, "fail", None, None, fail_reason="training diverged at step 3"),
        _trial(2, "fail", None, None, fail_reason=INTERRUPTED_REASON, params={"r": 4}),
        _trial(3, "pruned", 0.6, 500),
        _trial(4, "running", None, None, params={"r": 4}),
    ]
    columns, rows = trial_table(_result(trials, pareto=[0]))
    assert columns == ["trial", "state", "Pareto", "method", "val accuracy", "trainable params", "learning_rate"]
    assert [row[:3] for row in rows] == [
        ["0", "complete", "yes"],
        ["1", "failed: training diverged at step 3", ""],
        ["2", "interrupted, ran again as trial 4", ""],
        ["3", "stopped early", ""],
        ["4", "running", ""],
    ]
    assert rows[0][4:] == ["0.7000", "1,000", "1.00e-03"] and rows[1][4:6] == ["-", "-"]
    assert (
        trial_counts(_result(trials))
        == "3 trials, 0 on the Pareto set, 1 failed, 1 stopped early, 1 interrupted and run again,"
        " 1 running or cut off (a resume runs them again)"
    )
    assert trial_counts(_result(trials[:1], pareto=[0])) == "1 trial, 1 on the Pareto set, 0 failed"
    waiting = trial_counts(_result(trials[:3]))  # trial 2 interrupted, nothing after it yet
    assert waiting == "2 trials, 0 on the Pareto set, 1 failed, 1 interrupted (run again on resume)"


def test_history_keeps_the_best_so_far_in_each_objectives_direction():
    trials = [_trial(0, "complete", 0.6, 900), _trial(1, "fail", None, None), _trial(2, "complete", 0.5, 300)]
    trials.append(_trial(3, "complete", 0.8, 600))
    accuracy, size = figure_data.histories(_result(trials))
    assert accuracy.numbers == size.numbers == [0, 2, 3]
    assert accuracy.best == [0.6, 0.6, 0.8], "more is better"
    assert size.best == [900, 300, 300], "fewer is better"


def test_parallel_coordinates_mark_unused_parameters_and_name_categories():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    distributions = {
        "L0.q": CategoricalDistribution([False, True]),
        "L0.rank": IntDistribution(2, 8),
        "learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
        "constant": IntDistribution(1, 2),
    }
    rows = [(True, 8, 1e-3), (False, 2, 2e-2), (True, 2, 5e-2)]
    trials = [
        _trial(
            n,
            "complete",
            0.5 + n / 10,
            100 * (n + 1),
            params={"L0.q": q, "L0.rank": r, "learning_rate": lr, "constant": 1},
        )
        for n, (q, r, lr) in enumerate(rows)
    ]
    trials[1] = TrialRecord(**{**trials[1].__dict__, "unused_params": ["L0.rank"]})  # L0.q off: its rank unused
    data = figure_data.coordinates(_result(trials), distributions)
    axes = {axis.name: axis for axis in data.axes}
    assert list(axes) == ["L0.q", "L0.rank", "learning_rate", "accuracy", "trainable_params"], "constant left out"
    assert axes["L0.q"].labels == ["False", "True"] and axes["L0.q"].values == [1.0, 0.0, 1.0]
    rank = axes["L0.rank"]
    assert rank.labels == ["unused", "2", "8"] and rank.values[1] == rank.ticks[0] < min(rank.ticks[1:])
    assert axes["learning_rate"].values == [math.log10(v) for _, _, v in rows]
    assert axes["learning_rate"].labels == ["0.001", "0.002", "0.005", "0.01", "0.02", "0.05"]
    assert data.scores == [0.5, 0.6, 0.7] and data.parameters == 3, "the slice view's panels: the parameters"


def test_fanova_warns_with_few_trials_for_its_parameters():
    warning = importance_warning(6, 26)
    assert warning is not None and "not reliable: fANOVA fitted 26 parameters on 6 completed trials" in warning
    assert importance_warning(9, 2) is not None, "fewer than 10 trials"
    assert importance_warning(30, 26) is not None, "fewer than two trials per parameter"
    assert importance_warning(52, 26) is None and importance_warning(10, 3) is None


def _drawn(figure):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure).draw()
    return figure


def test_front_png_labels_its_log_axis_and_keeps_the_reference_label_inside():
    from autopeft.results.figure_files import front_picture

    sizes = [5_000, 8_000, 12_000, 30_000]
    points = [FrontPoint(f"trial {i}", size, 0.6 + i / 20, "lora") for i, size in enumerate(sizes)]
    reference = FrontPoint("lora-r8-qv-with-a-long-name", 40_000, 0.9, "lora")  # the top right corner
    figure = _drawn(front_picture(Front("accuracy", points, points[:1], [reference])))
    axes = figure.axes[0]
    low, high = axes.get_xlim()
    shown = [t.get_text() for t in axes.xaxis.get_majorticklabels() if low <= t.get_position()[0] <= high]
    assert shown == ["5,000", "10,000", "20,000"]
    assert all(t.get_text() == "" for t in axes.xaxis.get_minorticklabels())
    (label,) = axes.texts
    renderer = figure.canvas.get_renderer()
    inside, box = label.get_window_extent(renderer), axes.get_window_extent(renderer)
    assert box.x0 <= inside.x0 and inside.x1 <= box.x1 and box.y0 <= inside.y0 and inside.y1 <= box.y1


def test_the_html_front_ticks_its_log_axis_as_the_png_does():
    from autopeft.results.figures import front_figure

    points = [FrontPoint(f"trial {i}", size, 0.6, "lora") for i, size in enumerate([5_000, 12_000, 30_000])]
    axis = front_figure(Front("accuracy", points, points[:1], [])).layout.xaxis
    assert list(axis.ticktext) == ["5,000", "10,000", "20,000"] and list(axis.tickvals) == [5_000, 10_000, 20_000]


def test_the_html_front_names_each_reference_as_the_spec_does_and_never_cuts_its_label():
    """A tuned reference is its grid's best member (``lora-r8-qv.lr3e-3.h1e-2``): the label is
    the spec's name, short enough not to run into its neighbours; the member's rates stay in the
    hover text. A label at the plot's edge is drawn past it, not cut."""
    from autopeft.results.figures import front_figure

    trials = [FrontPoint("trial 0", 5_000, 0.6, "lora x2")]
    references = [
        FrontPoint("lora-r8-qv.lr3e-3.h1e-2", 20_000, 0.7, "lora x12, lr 3.0e-03"),
        FrontPoint("bitfit", 9_000, 0.65, "bitfit x6, lr 1.0e-02"),
    ]
    marked = front_figure(Front("accuracy", trials, trials, references)).data[2]
    assert list(marked.texttemplate) == ["lora-r8-qv", "bitfit"] and marked.cliponaxis is False
    assert marked.text[0] == "lora-r8-qv.lr3e-3.h1e-2: lora x12, lr 3.0e-03"


def test_placement_png_colour_bar_reads_the_sizes_and_rows_run_as_in_the_html():
    from autopeft.results.figure_files import placement_picture
    from autopeft.results.figures import placement_figure

    rows = ["lora · attention.query", "lora · attention.value", "lora · output.dense"]
    sizes = [[1.0, 2.0, None], [4.0, 8.0, 16.0], [None, 2.0, 4.0]]
    maps = [PlacementMap("trial 0", [0, 1, 2], rows, sizes)]
    figure = _drawn(placement_picture(maps))
    axes, bar = figure.axes[0], figure.axes[-1]
    assert [t.get_text() for t in bar.yaxis.get_majorticklabels()] == ["1", "2", "4", "8", "16"]
    assert [t.get_text() for t in bar.yaxis.get_minorticklabels()] == []
    top_down = sorted(axes.yaxis.get_majorticklabels(), key=lambda t: -t.get_window_extent().y0)
    assert [t.get_text() for t in top_down] == rows
    layout = placement_figure(maps).layout
    assert layout.yaxis.autorange == "reversed", "plotly draws the first row at the bottom unless reversed"
