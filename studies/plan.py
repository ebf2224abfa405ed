"""A study's full-training plan, fixed before any test score (issue 37, protocol item 1).

``studies/NAME/plan.json`` says what ``full_training.py train`` trains, and nothing else is
trained: the found configurations (trial numbers, the reference each is matched to, and the
rule that picked them), the tuned references (or, with ``compare_with``, the study whose
trained references are borrowed), steps, seeds, token length and the test split, with the time
and the git commit it was made at. Once ``full_training.json`` records a test score of one of
the plan's found configurations the plan is frozen: writing another is refused, and so is
training a plan.json that differs from the one those scores were recorded under.

The picks (``--picks``):

- ``proxy``: the Pareto set of the proxy scores (each trial's one run; the rule of the first
  four studies);
- ``confirmed``: the confirmation stage's front (``SearchResult.confirmed_pareto``: trials
  trained again with new seeds, ranked by those runs' means).

Either way each of the strongest tuned references (by proxy score) gets the front's largest
configuration at or below its size (the smallest above it when none is that small); when those
repeat, references still unmatched get the largest such configuration not yet chosen.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from autopeft import load_study
from autopeft.results.result import SearchResult
from autopeft.spec import StudySpec, load_spec
from autopeft.spec.objectives import OBJECTIVES
from autopeft.spec.rate_grids import RATES, grid_name
from autopeft.store.records import ReferenceRecord, TrialRecord, tuned_references

REPO = Path(__file__).resolve().parents[1]
PLAN_FILE = "plan.json"
RECORDING = "full_training.json"
PICKS = {
    "proxy": "the proxy's Pareto set, matched to the strongest tuned references by size",
    "confirmed": "the confirmation stage's front (confirmed means), matched to the strongest tuned references by size",
}


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


def comparable(spec: StudySpec, other: Path) -> StudySpec:
    """The spec of the study in ``other``, refused unless it scores the same validation rows with
    the same proxy as ``spec`` (so the two studies' proxy scores compare)."""
    theirs = load_spec(other / "spec.yaml")
    for field in ("model", "data", "seed", "budget", "objectives"):
        if getattr(spec, field) != getattr(theirs, field):
            sys.exit(f"--compare-with {other}: its {field} differs from {spec.name}'s; proxy scores not comparable")
    return theirs


def borrowed_references(spec: StudySpec, other: Path) -> tuple[list[ReferenceRecord], list[dict]]:
    """The tuned references of the study in ``other`` as its full trainings recorded them (their
    sizes and proxy scores match found configurations to them), for a study scored on the same
    validation rows with the same proxy (anything else is refused). Those trainings may have
    run before that study's own search ended (``--found 0``)."""
    theirs = comparable(spec, other)
    trained = other / RECORDING
    if not trained.is_file():
        sys.exit(f"--compare-with {other}: needs its {RECORDING} (train its references first: --found 0)")
    recorded = json.loads(trained.read_text())
    rows = [entry | {"trained_in": theirs.name} for entry in recorded["rows"] if entry["kind"] == "reference"]
    tuned = [
        ReferenceRecord(entry["name"], {}, {recorded["metric"]: entry["proxy_validation"]}, entry["trainable_params"])
        for entry in rows
    ]
    return tuned, rows


def planned_references(spec: StudySpec, other: Path) -> list[ReferenceRecord] | None:
    """The tuned references the study in ``other`` plans to train (its committed plan.json), or
    None without one: a study can then be planned against them before any of them is trained,
    so every plan is fixed before any test score exists."""
    comparable(spec, other)
    if not (other / PLAN_FILE).is_file():
        return None
    plan = read_plan(other)
    return [
        ReferenceRecord(entry["member"], {}, {plan["metric"]: entry["proxy_validation"]}, entry["trainable_params"])
        for entry in plan["references"]
    ]


def unspanned_grids(references: list[ReferenceRecord], spec: StudySpec) -> dict[str, list[str]]:
    """Per tuned reference (by grid name), the ends of ``spec``'s searched learning-rate ranges
    its trained grid stops short of (issue 37, item 3: a found configuration at a rate its
    reference never tried beats an under-tuned reference); a reference that spans them is left out."""
    trained: dict[str, dict[str, list[float]]] = {}
    for reference in references:
        rates = (reference.point or {}).get("hyperparameters", {})
        for key in RATES:
            if key in rates:
                trained.setdefault(grid_name(reference.name), {}).setdefault(key, []).append(rates[key])
    gaps: dict[str, list[str]] = {}
    for name, grid in trained.items():
        for key, rates in grid.items():
            searched = getattr(spec.space, key)
            if isinstance(searched, float):
                continue
            if min(rates) > searched.low * (1 + 1e-9):
                gaps.setdefault(name, []).append(f"{key}: tried down to {min(rates):g}, searched from {searched.low:g}")
            if max(rates) < searched.high * (1 - 1e-9):
                gaps.setdefault(name, []).append(f"{key}: tried up to {max(rates):g}, searched to {searched.high:g}")
    return gaps


def spec_grids(spec: StudySpec) -> list[ReferenceRecord]:
    """The reference grid members a spec names, with their rates (for ``unspanned_grids``)."""
    return [
        ReferenceRecord(name, {"hyperparameters": {key: getattr(raw, key) for key in RATES}}, {})
        for name, raw in spec.references.items()
    ]


def picked_front(result: SearchResult, picks: str) -> list[TrialRecord]:
    """The front the picks come from (see the module's docstring)."""
    if picks == "proxy":
        return result.pareto
    if not result.confirmed_pareto:
        sys.exit(f"--picks confirmed: {result.study_dir} has no confirmed trials (run its confirmation stage)")
    return result.confirmed_pareto


def found_entry(trial: TrialRecord, reference: str, metric: str, picks: str) -> dict:
    entry = {
        "label": f"trial {trial.number} (for {reference})",
        "trial": trial.number,
        "matched_reference": reference,
        "picked_by": picks,
        "trainable_params": trial.trainable_params,
        "proxy_validation": trial.values[metric],
    }
    if trial.confirmed is not None:
        entry |= {
            "confirmed_validation": trial.confirmed.mean(metric),
            "confirmed_se": trial.confirmed.standard_error(metric),
            "confirmed_seeds": trial.confirmed.seeds,
        }
    return entry


def made_at() -> dict:
    """When and at which commit a plan is made (``commit`` is None outside a git checkout)."""

    def git(*args: str) -> str | None:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain")
    return {
        "made_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(status) if status is not None else None,
    }


def make_plan(
    spec: StudySpec,
    result: SearchResult,
    steps: int,
    seeds: tuple[int, ...],
    max_length: int,
    found_count: int,
    picks: str,
    compare_with: Path | None,
) -> dict:
    """The plan for ``spec``'s study (read back as ``result``); reads no test score."""
    metric = result.metric
    theirs = None if compare_with is None else comparable(spec, compare_with)
    if theirs is None:
        tuned = [reference for reference, _ in tuned_references(result.references, metric) if not reference.failed]
    else:
        tuned = planned_references(spec, compare_with) or borrowed_references(spec, compare_with)[0]
    found = found_configurations(picked_front(result, picks), tuned, metric, found_count)
    grids = result.references if theirs is None else spec_grids(theirs)
    references = [
        {
            "label": grid_name(r.name),
            "member": r.name,
            "trainable_params": r.trainable_params,
            "proxy_validation": r.values[metric],
        }
        for r in tuned
    ]
    return {
        "study": spec.name,
        "metric": metric,
        "picks": picks,
        "rule": PICKS[picks],
        "found": [found_entry(trial, name, metric, picks) for trial, name in found],
        "references": references,
        "compare_with": None if theirs is None else theirs.name,
        "steps": steps,
        "seeds": list(seeds),
        "max_length": max_length,
        "test": spec.data.test,
        "unspanned_grids": unspanned_grids([r for r in grids if not r.failed], spec),
        **made_at(),
    }


def planned_labels(plan: dict) -> list[str]:
    """The full-training rows a plan allows, in order: found configurations, then references."""
    return [entry["label"] for entry in plan["found"]] + [entry["label"] for entry in plan["references"]]


def unplanned_rows(recorded: dict) -> list[str]:
    """Rows of a ``full_training.json`` that its plan does not name (every row without a plan)."""
    allowed = set(planned_labels(recorded["plan"])) if "plan" in recorded else set()
    return [entry["name"] for entry in recorded["rows"] if entry["name"] not in allowed]


def scored_plan(folder: Path) -> dict | None:
    """The plan under which ``full_training.json`` records a found configuration's test score
    (the frozen plan), or None while no found configuration of a plan has one."""
    path = folder / RECORDING
    if not path.is_file():
        return None
    recorded = json.loads(path.read_text())
    scored = any(entry["kind"] == "found" and entry["test"] for entry in recorded["rows"])
    return recorded["plan"] if "plan" in recorded and scored else None


def write_plan(
    folder: Path,
    study_dir: Path | None = None,
    steps: int = 1000,
    seeds: tuple[int, ...] = (0, 1, 2),
    max_length: int = 128,
    found_count: int = 3,
    picks: str = "proxy",
    compare_with: Path | None = None,
) -> dict:
    """Write ``folder/plan.json`` (refused once the plan in force is frozen); returns it."""
    spec = load_spec(folder / "spec.yaml")
    if spec.data.test is None:
        sys.exit(f"{folder}/spec.yaml: data.test is not set; full trainings are scored on it")
    if scored_plan(folder) is not None:
        sys.exit(
            f"{folder / PLAN_FILE}: frozen, {RECORDING} records test scores of its found configurations;"
            " a configuration added now would be chosen with them in view (start a new study)"
        )
    study_dir = study_dir or REPO / "autopeft-runs" / spec.name
    finished = (study_dir / "full").glob("trial-*/seed*/metrics.json")  # found ones (references may precede)
    scored = sorted(str(path.parent.relative_to(study_dir)) for path in finished)
    if scored:
        sys.exit(
            f"{folder / PLAN_FILE}: frozen, {study_dir / 'full'} holds finished full trainings of found"
            f" configurations ({', '.join(scored)});"
            " a plan made now could be made with their test scores in view (start a new study)"
        )
    result = load_study(study_dir)
    plan = make_plan(spec, result, steps, seeds, max_length, found_count, picks, compare_with)
    (folder / PLAN_FILE).write_text(json.dumps(plan, indent=1))
    return plan


def read_plan(folder: Path) -> dict:
    """The plan to train: ``folder/plan.json``, refused when missing or when it differs from a
    frozen plan (one whose found configurations have test scores)."""
    path = folder / PLAN_FILE
    if not path.is_file():
        sys.exit(f"{path}: no plan; write it first: python studies/full_training.py plan {folder}")
    plan = json.loads(path.read_text())
    frozen = scored_plan(folder)
    if frozen is not None and frozen != plan:
        sys.exit(f"{path}: differs from the frozen plan {RECORDING} records test scores under; it takes nothing new")
    return plan
