"""Full trainings compared row by row (studies/comparisons.py): kept predictions, paired
differences a hand can check, the verdicts and the rows a new plan replaces."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "studies"))

from comparisons import PREDICTIONS_DIR, carried, judged, slug, verdict_line  # noqa: E402

ROWS = 100


def kept(folder: Path, name: str, seeds: dict[int, str], labels: str, digest: str = "d1") -> str:
    path = folder / PREDICTIONS_DIR / f"{slug(name)}.json"
    path.parent.mkdir(exist_ok=True)
    record = {"split": "test.jsonl", "rows": len(labels), "digest": digest, "labels": labels}
    path.write_text(json.dumps(record | {"seeds": {str(s): p for s, p in seeds.items()}}))
    return str(path.relative_to(folder))


def row(folder: Path, name: str, kind: str, params: int, seeds: dict[int, str], labels: str, **extra) -> dict:
    tests = [sum(p == y for p, y in zip(s, labels, strict=True)) / len(labels) for s in seeds.values()]
    return {
        "name": name,
        "kind": kind,
        "trainable_params": params,
        "seeds": list(seeds),
        "test": tests,
        "test_mean": sum(tests) / len(tests),
        "proxy_validation": 0.9,
        "predictions": kept(folder, name, seeds, labels, extra.pop("digest", "d1")),
        **extra,
    }


def test_slugs_name_one_file_per_configuration():
    assert slug("trial 8 (for lora-r16-all)") == "trial-8" and slug("lora-r8-qv") == "lora-r8-qv"


def test_paired_differences_a_hand_can_check(tmp_path):
    labels = "01" * (ROWS // 2)
    flipped = "1" + labels[1:]  # row 0 wrong, the rest right
    same = {0: labels, 1: labels, 2: labels}
    rows = [
        row(tmp_path, "trial 1 (for r)", "found", 10, same, labels, picked_by="confirmed"),
        row(tmp_path, "r", "reference", 100, same, labels),
        row(tmp_path, "lora-r8-qv", "reference", 20, {s: flipped for s in same}, labels),
    ]
    recorded = judged(tmp_path, rows, "accuracy", [])
    paired = recorded["rows"][0]["paired"]
    assert paired["r"] == {"diff": 0.0, "se": 0.0}, "identical predictions: no difference, no noise"
    assert paired["lora-r8-qv"]["diff"] == pytest.approx(1 / ROWS), "one row flipped in every seed"
    # The bootstrap's count of row 0 among ROWS draws: binomial, sd sqrt(ROWS * p * (1 - p)) / ROWS.
    assert paired["lora-r8-qv"]["se"] == pytest.approx((1 / ROWS) * (1 - 1 / ROWS) ** 0.5, rel=0.1)
    assert recorded["comparisons"] == 2 and recorded["bootstrap"]["resamples"] == 2000
    assert "paired" not in recorded["rows"][1], "references are not compared with each other"
    assert recorded["verdicts"]["near_best_reference"] is True  # 0.1x r's parameters, level with it
    assert recorded["verdicts"]["above_default"] is False, "+0.01 is one standard error, not two"
    assert "2 paired comparisons" in verdict_line(recorded)


def test_a_pick_clearly_above_the_default_at_its_size_is_above_it(tmp_path):
    labels = "01" * (ROWS // 2)
    same = {0: labels, 1: labels, 2: labels}
    wrong = "".join("1" if c == "0" else "0" for c in labels[:20]) + labels[20:]  # 20 rows wrong
    default = row(tmp_path, "lora-r8-qv", "reference", 20, {s: wrong for s in same}, labels)
    pick = row(tmp_path, "trial 1 (for r)", "found", 20, same, labels, picked_by="confirmed")
    recorded = judged(tmp_path, [pick, default], "accuracy", [])
    versus = recorded["rows"][0]["paired"]["lora-r8-qv"]
    assert versus["diff"] == pytest.approx(0.2) and versus["se"] < 0.1
    assert recorded["verdicts"]["above_default"] is True
    bigger = pick | {"trainable_params": 21}
    assert judged(tmp_path, [bigger, default], "accuracy", [])["verdicts"]["above_default"] is False
    raw = pick | {"picked_by": "proxy"}
    assert judged(tmp_path, [raw, default], "accuracy", [])["verdicts"]["above_default"] is False, "only confirmed"


def test_rows_scored_on_other_test_rows_are_refused(tmp_path):
    labels = "01" * (ROWS // 2)
    same = {0: labels}
    rows = [
        row(tmp_path, "trial 1 (for r)", "found", 10, same, labels),
        row(tmp_path, "r", "reference", 100, same, labels, digest="other"),
    ]
    with pytest.raises(SystemExit, match="different test rows"):
        judged(tmp_path, rows, "accuracy", [])


def test_the_raw_picks_drop_comes_from_the_rows_a_confirmed_plan_replaced(tmp_path):
    labels = "01" * (ROWS // 2)
    same = {0: labels, 1: labels}
    rows = [
        row(tmp_path, "trial 2 (for r)", "found", 10, same, labels, picked_by="confirmed"),
        row(tmp_path, "r", "reference", 100, same, labels),
    ]
    old = [
        {"name": "trial 5 (for r)", "kind": "found", "proxy_validation": 0.92, "test_mean": 0.80, "test": [0.8]},
        {"name": "r", "kind": "reference", "proxy_validation": 0.9, "test_mean": 0.85, "test": [0.85]},
    ]
    verdicts = judged(tmp_path, rows, "accuracy", old)["verdicts"]
    assert verdicts["drop_confirmed"] == pytest.approx(0.9 - 1.0)
    assert verdicts["drop_raw"] == pytest.approx(0.12), "the old found row, a proxy pick"
    assert verdicts["above_default"] is None, "no lora-r8-qv here: not decided"

    recording = tmp_path / "full_training.json"
    assert carried(recording, {"p": 1}) == {}
    recording.write_text(json.dumps({"rows": old}))  # before plans
    assert carried(recording, {"p": 1}) == {"previous_rows": old, "previous_plan": None}
    recording.write_text(json.dumps({"plan": {"p": 1}, "rows": rows, "previous_rows": old, "previous_plan": None}))
    assert carried(recording, {"p": 1}) == {"previous_rows": old, "previous_plan": None}, "the same plan again"
    references_only = {"plan": {"p": 0}, "rows": rows[1:], "previous_rows": old, "previous_plan": None}
    recording.write_text(json.dumps(references_only))
    assert carried(recording, {"p": 1})["previous_rows"] == old, "a plan with no found scores replaces nothing"
    recording.write_text(json.dumps({"plan": {"p": 1}, "rows": rows, "previous_rows": old}))
    assert carried(recording, {"p": 2}) == {"previous_rows": rows, "previous_plan": {"p": 1}}
