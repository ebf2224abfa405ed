"""Full-training confirmation of a recorded study: do the found configurations beat the tuned
references after real training, on rows the search never saw?

Two steps for the study of ``studies/NAME`` (run with ``autopeft search studies/NAME/spec.yaml``):

1. ``plan`` writes ``studies/NAME/plan.json`` before any test score (``studies/plan.py``): the
   references, each at its best learning rates (the grid member with the best proxy score on
   the study's validation rows); ``--found`` found configurations from ``--picks`` (the proxy's
   Pareto set or the confirmation stage's front) matched to the strongest tuned references by
   size; ``--steps`` (batch 32), ``--seeds``, the spec's ``data.test`` split (the task's
   published dev split, which the search never read), the time and the commit. Commit it.
2. ``train`` trains exactly the plan with ``autopeft train`` and scores each run on the test
   split. A plan whose found configurations have test scores is frozen: ``plan`` refuses to
   write another and ``train`` refuses a plan.json that differs from it.

A study with no references of its own (the choice among methods) names, with ``--compare-with``,
the study whose tuned references it is held against: that study must score the same validation
rows with the same proxy (same model, data, seed and budget). Its references and their full
trainings are read from its ``full_training.json`` (written as soon as its references are
trained, a plan with ``--found 0``, before its own search ends): they are not trained again.

Writes ``studies/NAME/full_training.json`` (the plan as trained, and one row per configuration:
name, kind, trainable params, seeds, test mean and sd, proxy validation score, its runs' test
predictions kept in ``studies/NAME/predictions/``; each found row's ``paired`` differences from
the references, ``comparisons``, ``bootstrap`` and ``verdicts``: ``studies/comparisons.py``; the
rows of the recording a new plan replaces under ``previous_rows``) and the table in
studies/README.md between ``<!-- full_training:NAME -->`` markers. Runs land in
``STUDY_DIR/full/`` and are resumable: a finished run is read back, an interrupted one resumes
from its checkpoint, and a configuration already in ``full_training.json`` at the same steps and
seeds is not trained again (so the committed file carries finished trainings to another machine).

    python studies/full_training.py plan studies/sst2-lora --picks confirmed --study-dir autopeft-runs/sst2-lora
    python studies/full_training.py train studies/sst2-lora --study-dir autopeft-runs/sst2-lora
    python studies/full_training.py plan studies/sst2-methods --picks confirmed --compare-with studies/sst2-lora
    python studies/full_training.py plan studies/mrpc-lora --steps 205 --found 0   # references, mid-search
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from comparisons import DEFAULT, carried, judged, keep_predictions, paired_cell, verdict_line  # noqa: E402
from plan import (  # noqa: E402
    PICKS,
    RECORDING,
    borrowed_references,
    found_configurations,  # noqa: F401  (the rule's old home: tests import it from here)
    read_plan,
    write_plan,
)

from autopeft import export_reference, export_trial, load_study, train_exported  # noqa: E402
from autopeft.spec import load_spec  # noqa: E402
from autopeft.spec.rate_grids import grid_name  # noqa: E402

README = REPO / "studies" / "README.md"


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
        if "trained_in" not in entry
        and entry["steps"] == steps
        and entry["seeds"] == list(seeds)
        and (path.parent / entry.get("predictions", "-")).is_file()  # compared row by row
    }


def readme_table(name: str, recorded: dict) -> str:
    """The study's rows, each found row's paired difference from the best tuned reference and from
    the default one, and the verdicts (a recording from before paired comparisons: the rows alone)."""
    metric, rows = recorded["metric"], recorded["rows"]
    references = [r for r in rows if r["kind"] == "reference"]
    best = max(references, key=lambda r: r["test_mean"])["name"] if references else DEFAULT
    versus = [best] + [DEFAULT] * (best != DEFAULT) if any("paired" in r for r in rows) else []
    header = ["configuration", "kind", "trainable params", f"test {metric} (mean ± sd)", "seeds", "proxy validation"]
    header += [f"vs {r} (paired diff ± se)" for r in versus]
    lines = [f"<!-- full_training:{name} -->", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in rows:
        label = f"{entry['name']} (trained in {entry['trained_in']})" if "trained_in" in entry else entry["name"]
        cells = [label, entry["kind"], f"{entry['trainable_params']:,}"]
        cells += [f"{entry['test_mean']:.4f} ± {entry['test_sd']:.4f}", str(len(entry["seeds"]))]
        cells += [f"{entry['proxy_validation']:.4f}", *(paired_cell(entry, r) for r in versus)]
        lines.append("| " + " | ".join(cells) + " |")
    if "verdicts" in recorded:
        lines += ["", verdict_line(recorded)]
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


def confirm(folder: Path, study_dir: Path | None = None, readme: Path = README) -> dict:
    """Train the study's plan (``plan.json``), nothing else; returns what it writes to full_training.json."""
    plan = read_plan(folder)
    spec = load_spec(folder / "spec.yaml")
    if spec.data.test != plan["test"]:
        sys.exit(f"{folder / 'plan.json'}: planned for test split {plan['test']}, spec.yaml now names {spec.data.test}")
    study_dir = study_dir or REPO / "autopeft-runs" / spec.name
    result = load_study(study_dir)
    metric, steps, seeds, max_length = plan["metric"], plan["steps"], tuple(plan["seeds"]), plan["max_length"]
    trials = {trial.number: trial for trial in result.trials}
    members = {reference.name: reference for reference in result.references}
    entries = [(f["label"], "found", trials[f["trial"]], f["matched_reference"]) for f in plan["found"]]
    picked_by = {f["label"]: f["picked_by"] for f in plan["found"]}
    borrowed: list[dict] = []
    if plan["compare_with"] is None:
        entries += [(r["label"], "reference", members[r["member"]], None) for r in plan["references"]]
    else:
        _, borrowed = borrowed_references(spec, folder.parent / plan["compare_with"])
        if [(r["name"], r["proxy_validation"]) for r in borrowed] != [
            (r["label"], r["proxy_validation"]) for r in plan["references"]
        ]:
            sys.exit(f"{folder / 'plan.json'}: {plan['compare_with']}'s trained references changed since the plan")
    kept = recorded_rows(folder / RECORDING, steps, seeds, metric)
    folders = {}
    for label, kind, entry, _ in entries:
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
        | {"predictions": keep_predictions(folder, label, folders[label], list(seeds))}
        if label in folders
        else kept[label]
        for label, kind, entry, matched in entries
    ]
    rows = [r | {"picked_by": picked_by[r["name"]]} if r["name"] in picked_by else r for r in rows] + borrowed
    earlier = carried(folder / RECORDING, plan)
    recorded = {"study": spec.name, "metric": metric, "steps": steps, "plan": plan}
    recorded |= judged(folder, rows, metric, earlier.get("previous_rows", [])) | earlier
    (folder / RECORDING).write_text(json.dumps(recorded, indent=1))
    write_readme(spec.name, readme_table(spec.name, recorded), readme)
    return recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    planning = commands.add_parser("plan", help="write studies/NAME/plan.json (before any test score)")
    training = commands.add_parser("train", help="train the plan, score the test split, write the table")
    for command in (planning, training):
        command.add_argument("study", type=Path, help="studies/NAME (holding spec.yaml)")
        command.add_argument("--study-dir", type=Path, help="where the study ran (default: autopeft-runs/NAME)")
    planning.add_argument("--steps", type=int, default=1000)
    planning.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    planning.add_argument("--max-length", type=int, default=128)
    planning.add_argument(
        "--found", type=int, default=3, help="found configurations to train (0: the references alone, mid-search)"
    )
    planning.add_argument("--picks", choices=sorted(PICKS), default="proxy", help="the front the found ones come from")
    planning.add_argument(
        "--compare-with", type=Path, help="studies/OTHER whose tuned references (already fully trained) to match"
    )
    args = parser.parse_args()

    if args.command == "plan":
        plan = write_plan(
            args.study,
            args.study_dir,
            args.steps,
            tuple(args.seeds),
            args.max_length,
            args.found,
            args.picks,
            args.compare_with,
        )
        for entry in plan["found"] + plan["references"]:
            print(f"{entry['label']}: {entry['trainable_params']:,} params, proxy {entry['proxy_validation']:.4f}")
        for name, gaps in plan["unspanned_grids"].items():
            print(f"warning: {name}'s learning-rate grid does not span the search's range ({'; '.join(gaps)})")
        print(f"wrote {args.study / 'plan.json'}: commit it before training")
    else:
        confirm(args.study, args.study_dir, README)
        print(f"wrote {args.study / RECORDING} and the table in {README}")


if __name__ == "__main__":
    main()
