"""Full-training confirmation of a recorded study: do the found configurations beat the tuned
references after real training, on rows the search never saw?

For the study of ``studies/NAME`` (run with ``autopeft search studies/NAME/spec.yaml``):

- the references: each reference of the spec at its best learning rates (its grid member with
  the best proxy score on the study's validation rows);
- the found configurations: ``--found`` distinct Pareto trials, matched to the strongest tuned
  references (by proxy score): each gets the Pareto configuration with the most parameters at
  or below the reference's count (the smallest one above it when none is that small); when
  those repeat, the references still unmatched get the largest such trial not yet chosen;
- each trained with ``autopeft train`` for the same ``--steps`` (batch 32) with each of
  ``--seeds``, scored on the spec's ``data.test`` split (the task's published dev split, which
  the search never read).

A study with no references of its own (the choice among methods) names, with ``--compare-with``,
the study whose tuned references it is held against: that study must score the same validation
rows with the same proxy (same model, data, seed and budget). Its references and their full
trainings are read from its ``full_training.json`` (written as soon as its references are
trained, ``--found 0``, before its own search ends): they are not trained again.

Writes ``studies/NAME/full_training.json`` (one row per configuration: name, kind, trainable
params, seeds, test mean and sd, proxy validation score) and the table in studies/README.md
between ``<!-- full_training:NAME -->`` markers. Runs land in ``STUDY_DIR/full/`` and are
resumable: a finished run is read back, an interrupted one resumes from its checkpoint, and a
configuration already in ``full_training.json`` at the same steps and seeds is not trained
again (so the committed file carries finished trainings to another machine).

    python studies/full_training.py studies/sst2-lora --study-dir autopeft-runs/sst2-lora
    python studies/full_training.py studies/sst2-methods --compare-with studies/sst2-lora
    python studies/full_training.py studies/mrpc-lora --found 0   # references, while trials still run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autopeft import export_reference, export_trial, load_study, train_exported  # noqa: E402
from autopeft.results.wording import tuned_references  # noqa: E402
from autopeft.spec import StudySpec, load_spec  # noqa: E402
from autopeft.spec.objectives import OBJECTIVES  # noqa: E402
from autopeft.spec.rate_grids import grid_name  # noqa: E402
from autopeft.store.records import ReferenceRecord, TrialRecord  # noqa: E402

README = REPO / "studies" / "README.md"


def found_configurations(
    pareto: list[TrialRecord], references: list[ReferenceRecord], metric: str, count: int
) -> list[tuple[TrialRecord, str]]:
    """(Pareto trial, the reference it is matched to), ``count`` distinct trials: each of the
    strongest references gets the largest trial at or below its size (the smallest above it
    when none is that small); when matches repeat, the next references unmatched so far get
    the largest such trial not yet chosen."""
    if count <= 0:  # references only: trained while the search still runs
        return []
    objective = OBJECTIVES[metric]
    strongest = sorted(references, key=lambda r: objective.maximized(r.values[metric]), reverse=True)
    chosen: list[tuple[TrialRecord, str]] = []
    for filling in (False, True):
        for reference in strongest:
            taken = {trial.number for trial, _ in chosen}
            name = grid_name(reference.name)
            if len(chosen) == count:
                return chosen
            if filling and name in {matched for _, matched in chosen}:
                continue
            left = [t for t in pareto if not filling or t.number not in taken]
            at_or_below = [t for t in left if t.trainable_params <= reference.trainable_params]
            above = [t for t in left if t.trainable_params > reference.trainable_params]
            if at_or_below:
                trial = max(at_or_below, key=lambda t: t.trainable_params)
            elif above:
                trial = min(above, key=lambda t: t.trainable_params)
            else:
                continue
            if trial.number not in taken:
                chosen.append((trial, name))
    return chosen


def borrowed_references(spec: StudySpec, other: Path) -> tuple[list[ReferenceRecord], list[dict]]:
    """The tuned references of the study in ``other`` as its full trainings recorded them (their
    sizes and proxy scores match found configurations to them), for a study scored on the same
    validation rows with the same proxy (anything else is refused). Those trainings may have
    run before that study's own search ended (``--found 0``)."""
    theirs = load_spec(other / "spec.yaml")
    for field in ("model", "data", "seed", "budget", "objectives"):
        if getattr(spec, field) != getattr(theirs, field):
            sys.exit(f"--compare-with {other}: its {field} differs from {spec.name}'s; proxy scores not comparable")
    trained = other / "full_training.json"
    if not trained.is_file():
        sys.exit(f"--compare-with {other}: needs its full_training.json (train its references first: --found 0)")
    recorded = json.loads(trained.read_text())
    rows = [entry | {"trained_in": theirs.name} for entry in recorded["rows"] if entry["kind"] == "reference"]
    tuned = [
        ReferenceRecord(entry["name"], {}, {recorded["metric"]: entry["proxy_validation"]}, entry["trainable_params"])
        for entry in rows
    ]
    return tuned, rows


def train_seeds(export: Path, runs: Path, seeds: list[int], steps: int, max_length: int, test: str) -> list[dict]:
    """Each seed's metrics: read back when that run finished and scored ``test``, else trained
    (a run with a checkpoint at its last step is only scored again)."""
    metrics = []
    for seed in seeds:
        out = runs / f"seed{seed}"
        done = out / "metrics.json"
        if done.is_file() and json.loads(done.read_text()).get("test_source") == test:
            metrics.append(json.loads(done.read_text()))
            continue
        print(f"  training {export.parent.name} with seed {seed} into {out}", flush=True)
        metrics.append(
            train_exported(export, out, max_steps=steps, batch_size=32, max_length=max_length, seed=seed, test=test)
        )
    return metrics


def row(name: str, kind: str, metric: str, metrics: list[dict], proxy: float, matched: str | None) -> dict:
    tests = [m["test"][metric] for m in metrics]
    return {
        "name": name,
        "kind": kind,
        "matched_reference": matched,
        "trainable_params": metrics[0]["trainable_params"],
        "seeds": [m["seed"] for m in metrics],
        "test": tests,
        "test_mean": statistics.mean(tests),
        "test_sd": statistics.stdev(tests) if len(tests) > 1 else 0.0,
        "validation_mean": statistics.mean(m["validation"][metric] for m in metrics),
        "proxy_validation": proxy,
        "steps": metrics[0]["steps"],
        "test_examples": metrics[0]["test_examples"],
    }


def recorded_rows(path: Path, steps: int, seeds: tuple[int, ...], metric: str) -> dict[str, dict]:
    """The rows of an earlier ``full_training.json`` trained here at these steps and seeds, by
    name: a configuration trained the same way is read back from the recording, not trained
    again, so finished trainings travel with the committed file to another machine (a study's
    references trained mid-search, say)."""
    if not path.is_file():
        return {}
    recorded = json.loads(path.read_text())
    if recorded["metric"] != metric:
        return {}
    return {
        entry["name"]: entry
        for entry in recorded["rows"]
        if "trained_in" not in entry and entry["steps"] == steps and entry["seeds"] == list(seeds)
    }


def readme_table(name: str, metric: str, rows: list[dict]) -> str:
    lines = [
        f"<!-- full_training:{name} -->",
        f"| configuration | kind | trainable params | test {metric} (mean ± sd) | seeds | proxy validation |",
        "|---|---|---|---|---|---|",
    ]
    for entry in rows:
        label = f"{entry['name']} (trained in {entry['trained_in']})" if "trained_in" in entry else entry["name"]
        lines.append(
            f"| {label} | {entry['kind']} | {entry['trainable_params']:,} | "
            f"{entry['test_mean']:.4f} ± {entry['test_sd']:.4f} | {len(entry['seeds'])} | "
            f"{entry['proxy_validation']:.4f} |"
        )
    lines.append(f"<!-- /full_training:{name} -->")
    return "\n".join(lines)


def write_readme(name: str, table: str, readme: Path = README) -> None:
    text = readme.read_text()
    start, end = f"<!-- full_training:{name} -->", f"<!-- /full_training:{name} -->"
    if start in text:
        before, rest = text.split(start, 1)
        text = before + table + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n### {name}: full training\n\n{table}\n"
    readme.write_text(text)


def confirm(
    folder: Path,
    study_dir: Path | None = None,
    steps: int = 1000,
    seeds: tuple[int, ...] = (0, 1, 2),
    max_length: int = 128,
    found_count: int = 3,
    readme: Path = README,
    plan_only: bool = False,
    compare_with: Path | None = None,
) -> dict | None:
    """Train the plan (see the module's docstring); returns what it writes to full_training.json."""
    spec = load_spec(folder / "spec.yaml")
    if spec.data.test is None:
        sys.exit(f"{folder}/spec.yaml: data.test is not set; full trainings are scored on it")
    study_dir = study_dir or REPO / "autopeft-runs" / spec.name
    result = load_study(study_dir)
    metric = result.metric
    if compare_with is None:
        tuned = [reference for reference, _ in tuned_references(result.references, metric) if not reference.failed]
        borrowed: list[dict] = []
    else:
        tuned, borrowed = borrowed_references(spec, compare_with)
    found = found_configurations(result.pareto, tuned, metric, found_count)
    plan = [(f"trial {t.number} (for {ref})", "found", t, ref) for t, ref in found]
    if compare_with is None:
        plan += [(grid_name(r.name), "reference", r, None) for r in tuned]
    for label, kind, entry, _ in plan:
        print(f"{label}: {kind}, {entry.trainable_params:,} params, proxy {metric} {entry.values[metric]:.4f}")
    if plan_only:
        return None
    kept = recorded_rows(folder / "full_training.json", steps, seeds, metric)
    folders = {}
    for label, kind, entry, _ in plan:
        old = kept.get(label)
        if old and (old["kind"], old["trainable_params"], old["proxy_validation"]) == (
            kind,
            entry.trainable_params,
            entry.values[metric],
        ):
            continue
        slug = f"trial-{entry.number}" if kind == "found" else grid_name(entry.name)
        runs = Path(study_dir) / "full" / slug
        if not (runs / "export").is_dir():
            if kind == "found":
                export_trial(study_dir, entry.number, runs / "export")
            else:
                export_reference(study_dir, entry.name, runs / "export")
        folders[label] = runs
    for seed in seeds:  # every configuration once before any twice: a stopped run has seen them all
        for runs in folders.values():
            train_seeds(runs / "export", runs, [seed], steps, max_length, spec.data.test)
    rows = [
        row(
            label,
            kind,
            metric,
            train_seeds(folders[label] / "export", folders[label], list(seeds), steps, max_length, spec.data.test),
            entry.values[metric],
            matched,
        )
        if label in folders
        else kept[label]
        for label, kind, entry, matched in plan
    ] + borrowed
    recorded = {"study": spec.name, "metric": metric, "steps": steps, "rows": rows}
    (folder / "full_training.json").write_text(json.dumps(recorded, indent=1))
    write_readme(spec.name, readme_table(spec.name, metric, rows), readme)
    return recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", type=Path, help="studies/NAME (holding spec.yaml)")
    parser.add_argument("--study-dir", type=Path, help="where the study ran (default: autopeft-runs/NAME)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument(
        "--found", type=int, default=3, help="found configurations to train (0: the references alone, mid-search)"
    )
    parser.add_argument("--plan", action="store_true", help="print what would be trained, train nothing")
    parser.add_argument(
        "--compare-with", type=Path, help="studies/OTHER whose tuned references (already fully trained) to match"
    )
    args = parser.parse_args()

    if confirm(
        args.study,
        args.study_dir,
        args.steps,
        tuple(args.seeds),
        args.max_length,
        args.found,
        README,
        args.plan,
        args.compare_with,
    ):
        print(f"wrote {args.study / 'full_training.json'} and the table in {README}")


if __name__ == "__main__":
    main()
