"""A study's full trainings compared row by row (issue 37, item 2): each run's test predictions
kept in the study's folder, the paired differences they give, and the verdicts.

``studies/NAME/predictions/SLUG.json`` holds one configuration's runs: the test split, its row
count and digest (the rows as the model saw them), the labels once, and each seed's predicted
class ids as a string of digits (about 2 KB a run on MRPC's 1,725 rows). A row of
``full_training.json`` names its file (``"predictions"``, relative to the study that trained
it: a borrowed reference's lies in the study it was trained in).

Every found row gets ``"paired": {REFERENCE: {"diff": d, "se": s}}`` against every reference
with predictions: its test accuracy minus the reference's, and the bootstrap standard error of
that difference over test rows (resampled once for both: the pairing) and seeds
(``paired.paired_difference``, ``RESAMPLES`` draws from ``numpy.random.default_rng(SEED)``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
from paired import RESAMPLES, paired_against, verdicts

from autopeft.data.atomic import write_atomic
from autopeft.finetune.predictions import correct
from autopeft.finetune.rescore import rescore_finished

PREDICTIONS_DIR = "predictions"
SEED = 0  # the bootstrap's
DEFAULT = "lora-r8-qv"  # the usual guess the found configurations are held against


def slug(label: str) -> str:
    """A row's file name: ``trial 8 (for lora-r16-all)`` -> ``trial-8``; a reference's label as it is."""
    return re.sub(r"\s+", "-", label.split(" (", 1)[0].strip())


def keep_predictions(folder: Path, label: str, runs: Path, seeds: list[int]) -> str:
    """Copy the test predictions of ``runs/seedK`` (each seed's run of one configuration,
    exported to ``runs/export``) into ``folder``; a run from before ``train`` kept them is
    scored again from its saved adapter. Returns the file's path relative to ``folder``."""
    kept = {seed: rescore_finished(runs / "export", runs / f"seed{seed}") for seed in seeds}
    first = kept[seeds[0]]
    if any((k["digest"], k["labels"]) != (first["digest"], first["labels"]) for k in kept.values()):
        sys.exit(f"{runs}: its seeds scored different test rows; train them on one test split")
    record = {key: first[key] for key in ("split", "rows", "digest", "labels")}
    record["seeds"] = {str(seed): kept[seed]["predictions"] for seed in seeds}
    path = folder / PREDICTIONS_DIR / f"{slug(label)}.json"
    path.parent.mkdir(exist_ok=True)
    write_atomic(path, json.dumps(record, indent=1))
    return str(path.relative_to(folder))


def per_row(folder: Path, row: dict) -> tuple[str, np.ndarray]:
    """(the test rows' digest, seeds x rows of 1/0 correctness) of a row with predictions."""
    where = folder.parent / row["trained_in"] if "trained_in" in row else folder
    record = json.loads((where / row["predictions"]).read_text())
    runs = [correct({"predictions": record["seeds"][str(seed)], "labels": record["labels"]}) for seed in row["seeds"]]
    return record["digest"], np.asarray(runs)


def with_paired(folder: Path, rows: list[dict], metric: str) -> tuple[list[dict], int]:
    """``rows`` with each found row's ``"paired"`` entry, and how many comparisons were made
    (found rows times references, both with predictions; accuracy only: it is a mean over rows)."""
    if metric != "accuracy":
        return rows, 0
    scored = {r["name"]: per_row(folder, r) for r in rows if r.get("predictions")}
    references = {r["name"]: scored[r["name"]] for r in rows if r["kind"] == "reference" and r["name"] in scored}
    comparisons, paired_rows = 0, []
    for row in rows:
        if row["kind"] != "found" or row["name"] not in scored:
            paired_rows.append(row)
            continue
        digest, runs = scored[row["name"]]
        other = [name for name, (theirs, _) in references.items() if theirs != digest]
        if other:
            sys.exit(f"{folder}: {row['name']} and {', '.join(other)} were scored on different test rows")
        paired = paired_against(runs, {name: matrix for name, (_, matrix) in references.items()}, seed=SEED)
        comparisons += len(paired)
        paired_rows.append(row | {"paired": paired})
    return paired_rows, comparisons


def judged(folder: Path, rows: list[dict], metric: str, previous: list[dict]) -> dict:
    """What ``full_training.json`` adds to the rows: the rows paired, the count of comparisons,
    the bootstrap's settings and the verdicts (the raw picks: this plan's proxy picks, else the
    found rows of the recording it replaced)."""
    rows, comparisons = with_paired(folder, rows, metric)
    raw = [r for r in rows if r["kind"] == "found" and r.get("picked_by") == "proxy"]
    raw = raw or [r for r in previous if r["kind"] == "found" and r.get("picked_by", "proxy") == "proxy"]
    return {
        "rows": rows,
        "comparisons": comparisons,
        "bootstrap": {"resamples": RESAMPLES, "seed": SEED, "over": "test rows (paired) and each side's seeds"},
        "verdicts": verdicts(rows, default=DEFAULT, raw=raw),
    }


def carried(path: Path, plan: dict) -> dict:
    """What a new recording keeps of the one at ``path``: the rows of the last recording whose
    found configurations had test scores, under ``previous_rows`` with their plan, when this
    plan replaces it (their test means are the raw picks' drop; they are not lost)."""
    if not path.is_file():
        return {}
    old = json.loads(path.read_text())
    scored = any(r["kind"] == "found" and r.get("test") for r in old["rows"])
    if old.get("plan") != plan and scored:
        return {"previous_rows": old["rows"], "previous_plan": old.get("plan")}
    return {key: old[key] for key in ("previous_rows", "previous_plan") if key in old}


def paired_cell(row: dict, reference: str | None) -> str:
    versus = row.get("paired", {}).get(reference)
    return "" if versus is None else f"{versus['diff']:+.4f} ± {versus['se']:.4f}"


def verdict_line(recorded: dict) -> str:
    """The verdicts in one sentence for the README."""
    said = {True: "yes", False: "no", None: "not decided"}
    v = recorded["verdicts"]

    def drop(x: float | None) -> str:
        return "none" if x is None else f"{x:+.4f}"

    return (
        f"Verdicts ({recorded['comparisons']} paired comparisons; standard errors by a bootstrap over test "
        f"rows and seeds, {recorded['bootstrap']['resamples']} draws, seed {recorded['bootstrap']['seed']}): "
        f"a confirmed pick within one standard error of the best tuned reference at <= 0.25x its parameters: "
        f"{said[v['near_best_reference']]}; a confirmed pick above {DEFAULT} by more than two standard errors "
        f"at <= its parameters: {said[v['above_default']]}; mean drop from proxy to test: confirmed picks "
        f"{drop(v['drop_confirmed'])}, raw picks {drop(v['drop_raw'])}."
    )
