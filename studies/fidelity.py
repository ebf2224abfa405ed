"""The fidelity set's random trials (issue 36, item 4): configurations the search never put
forward, drawn at random and trained in full, so a signal's rank agreement with full training is
measured off the front too, not only among the proxy's luckiest trials.

Two steps, like ``full_training.py`` (a separate plan: the studies' own ``plan.json`` files are
frozen):

1. ``plan`` writes ``studies/fidelity_plan.json`` before any of its test scores: for each study
   of each task, ``--per-study`` trials drawn from those that completed and are on neither the
   proxy's Pareto set nor the confirmed front nor in the study's ``plan.json`` found list. The
   rule: one ``numpy.random.default_rng(0)``, used task by task and study by study in the order
   of ``TASKS``, draws without replacement from the eligible trial numbers in ascending order
   (all of them where there are fewer). Nothing is filtered on score: a trial at the
   majority-class floor is as likely as any. Steps, token length and the test split are the
   study's ``plan.json``'s, one seed (0). Once any of its trainings finished, a new plan is
   refused.
2. ``train [--task sst2|mrpc]`` trains exactly that plan into
   ``studies/NAME/confirmation/full/trial-N/seed0`` with ``full_training.py``'s helpers (finished
   runs are read back, an interrupted one resumes) and writes ``studies/fidelity_trainings.json``:
   per task, one row per trial (study, trial, trainable params, proxy accuracy and eval_loss,
   test accuracy). ``benchmarks/signal_fidelity.py`` adds those rows to each task's set.

    python studies/fidelity.py plan --per-study 3
    python studies/fidelity.py train --task mrpc
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from full_training import train_seeds  # noqa: E402
from plan import PLAN_FILE, made_at  # noqa: E402

from autopeft import export_trial, load_study  # noqa: E402
from autopeft.results.result import SearchResult  # noqa: E402

STUDIES = REPO / "studies"
TASKS = {"sst2": ("sst2-lora", "sst2-methods"), "mrpc": ("mrpc-lora", "mrpc-methods")}
FIDELITY_PLAN = "fidelity_plan.json"
TRAININGS = "fidelity_trainings.json"
SEED = 0
RULE = (
    "numpy default_rng(0), task by task and study by study in order, draws per_study trial numbers"
    " without replacement from the ascending list of the study's completed trials on neither the"
    " proxy's Pareto set nor the confirmed front nor in its plan.json found list"
)


def study_dir(studies: Path, study: str) -> Path:
    """Where a committed study's rebuilt database and full trainings live."""
    return studies / study / "confirmation"


def eligible(result: SearchResult, planned: set[int]) -> list[int]:
    """The trials the rule draws from, ascending: completed, off both fronts, not planned."""
    front = {t.number for t in result.pareto} | {t.number for t in result.confirmed_pareto}
    return sorted(t.number for t in result.trials if t.state == "complete" and t.number not in front | planned)


def draw(studies: Path, tasks: dict[str, tuple[str, ...]], per_study: int) -> dict:
    """The plan's draws (see the module's docstring); reads no test score."""
    rng = np.random.default_rng(SEED)
    drawn: dict[str, list[dict]] = {}
    settings: dict[str, dict] = {}
    for task, names in tasks.items():
        drawn[task] = []
        for study in names:
            own = json.loads((studies / study / PLAN_FILE).read_text())
            result = load_study(study_dir(studies, study))
            pool = eligible(result, {entry["trial"] for entry in own["found"]})
            picked = sorted(int(n) for n in rng.choice(pool, size=min(per_study, len(pool)), replace=False))
            trials = {t.number: t for t in result.trials}
            settings[study] = {key: own[key] for key in ("metric", "steps", "max_length", "test")} | {
                "seeds": [SEED],
                "eligible": len(pool),
            }
            drawn[task] += [
                {
                    "study": study,
                    "trial": n,
                    "trainable_params": trials[n].trainable_params,
                    "proxy_validation": trials[n].values[own["metric"]],
                }
                for n in picked
            ]
    return {"rule": RULE, "seed": SEED, "per_study": per_study, "studies": settings, "tasks": drawn}


def finished_runs(studies: Path, plan: dict) -> list[str]:
    """The plan's trainings that finished (scored its test split), as ``study:trial-N``."""
    done = []
    for entries in plan["tasks"].values():
        for entry in entries:
            metrics = study_dir(studies, entry["study"]) / "full" / f"trial-{entry['trial']}" / f"seed{SEED}"
            path = metrics / "metrics.json"
            test = plan["studies"][entry["study"]]["test"]
            if path.is_file() and json.loads(path.read_text()).get("test_source") == test:
                done.append(f"{entry['study']}:trial-{entry['trial']}")
    return done


def write_fidelity_plan(studies: Path = STUDIES, tasks: dict | None = None, per_study: int = 3) -> dict:
    """Write ``studies/fidelity_plan.json`` (refused once one of its trainings finished); returns it."""
    if per_study < 1:
        print(f"--per-study: {per_study} draws nothing; give 1 or more (default 3)", file=sys.stderr)
        raise SystemExit(2)
    path = studies / FIDELITY_PLAN
    if path.is_file():
        done = finished_runs(studies, json.loads(path.read_text()))
        if done or (studies / TRAININGS).is_file():
            sys.exit(
                f"{path}: frozen, its trainings finished ({', '.join(done) or TRAININGS});"
                " a plan drawn now could be drawn with their test scores in view"
            )
    plan = draw(studies, tasks or TASKS, per_study) | made_at()
    path.write_text(json.dumps(plan, indent=1))
    return plan


def train(studies: Path = STUDIES, task: str | None = None) -> dict:
    """Train exactly the plan (one task's trials, or all), one seed each; returns what it writes."""
    path = studies / FIDELITY_PLAN
    if not path.is_file():
        sys.exit(f"{path}: no plan; write it first: python studies/fidelity.py plan")
    plan = json.loads(path.read_text())
    if task is not None and task not in plan["tasks"]:
        sys.exit(f"--task: {task} is not in {path} (it plans {', '.join(plan['tasks'])})")
    out = studies / TRAININGS
    recorded = json.loads(out.read_text()) if out.is_file() else {"plan": plan, "tasks": {}}
    if recorded["plan"] != plan:
        sys.exit(f"{path}: differs from the plan {out} records trainings under; it takes nothing new")
    results = {}
    for name in [task] if task else list(plan["tasks"]):
        rows = []
        for entry in plan["tasks"][name]:
            study, number = entry["study"], entry["trial"]
            settings = plan["studies"][study]
            folder = study_dir(studies, study)
            if study not in results:
                results[study] = {t.number: t for t in load_study(folder).trials}
            runs = folder / "full" / f"trial-{number}"
            if not (runs / "export").is_dir():
                export_trial(folder, number, runs / "export")
            (metrics,) = train_seeds(
                runs / "export", runs, settings["seeds"], settings["steps"], settings["max_length"], settings["test"]
            )
            if metrics["steps"] != settings["steps"]:  # a run read back from another plan
                sys.exit(f"{runs}/seed{SEED}: trained {metrics['steps']} steps, the plan says {settings['steps']}")
            values = results[study][number].values
            rows.append(
                {
                    "study": study,
                    "trial": number,
                    "trainable_params": metrics["trainable_params"],
                    "proxy_accuracy": values["accuracy"],
                    "proxy_eval_loss": values.get("eval_loss"),
                    "test_accuracy": metrics["test"]["accuracy"],
                    "seeds": settings["seeds"],
                    "steps": metrics["steps"],
                }
            )
        recorded["tasks"][name] = rows
        out.write_text(json.dumps(recorded, indent=1))  # task by task: a stopped run keeps the tasks done
    return recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    planning = commands.add_parser("plan", help=f"write studies/{FIDELITY_PLAN} (before any of its test scores)")
    planning.add_argument("--per-study", type=int, default=3, help="trials drawn from each study")
    training = commands.add_parser("train", help=f"train the plan, one seed, write studies/{TRAININGS}")
    training.add_argument("--task", choices=sorted(TASKS), help="one task's trials (default: all)")
    args = parser.parse_args()
    if args.command == "plan":
        plan = write_fidelity_plan(per_study=args.per_study)
        for task, entries in plan["tasks"].items():
            print(f"{task}: " + ", ".join(f"{e['study']} trial {e['trial']}" for e in entries))
        print(f"wrote {STUDIES / FIDELITY_PLAN}: commit it before training")
    else:
        train(task=args.task)
        print(f"wrote {STUDIES / TRAININGS}")


if __name__ == "__main__":
    main()
