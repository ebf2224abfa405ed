"""The confirmation stage for a recorded study: rebuild its study database from the committed
``results.json`` (every trial's parameters and proxy scores, every reference), then let the
product's own stage (``autopeft search --resume`` with ``confirm:``) choose the candidates by a
GP's posterior mean and train them, and the tuned references, with new seeds.

The rebuilt study lives in ``studies/NAME/confirmation/`` (spec.yaml and study.db committed;
the tokenized cache is not). Each confirmation run is kept as it ends, so the command resumes
where a killed run left off. Nothing here reads a test split.

    python studies/confirm.py studies/mrpc-lora --candidates 4 --seeds 2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import autopeft  # noqa: E402
from autopeft.driver.prepare import prepare_study  # noqa: E402
from autopeft.executors.base import TrialResult  # noqa: E402
from autopeft.proxy.trial import TrialOutcome  # noqa: E402
from autopeft.spec import build_spec  # noqa: E402
from autopeft.store.records import ReferenceRecord  # noqa: E402
from autopeft.store.study import CACHE_DIR, StudyStore  # noqa: E402

FOLDER = "confirmation"


def rebuild(study: Path, confirm: dict) -> Path:
    """``study``'s search as a study folder, trial by trial from results.json (each point is drawn
    again through the study's space and must equal the recorded one)."""
    folder = study / FOLDER
    spec = build_spec(study / "spec.yaml", {"study_dir": str(folder), "confirm": confirm})
    if (folder / "study.db").exists():
        return folder
    recorded = json.loads((study / "results.json").read_text())
    prepared = prepare_study(spec, folder / CACHE_DIR, "cpu")
    store = StudyStore.create(folder, spec)
    for row in recorded["trials"]:
        store.enqueue(row["params"], again=True)  # an interrupted trial's rerun has its values
        trial = store.ask()
        point = prepared.space.sample(trial)
        if row["point"] is not None and point.to_dict() != row["point"]:
            raise SystemExit(
                f"trial {row['number']}: the space draws {point.to_dict()}, the study recorded {row['point']}"
            )
        store.start(trial, point, prepared.space.unused_params(trial.params))
        if row["state"] == "fail":
            result = TrialResult(trial.number, fail_reason=row["fail_reason"])
        else:
            outcome = TrialOutcome(
                measurements=row["values"],
                trainable_params=row["trainable_params"],
                percent_of_base=row["percent_of_base"],
                train_seconds=row["train_seconds"],
                steps=row["steps"],
                stopped_early=row["state"] == "pruned",
            )
            result = TrialResult(trial.number, outcome)
        store.finish(trial, result)
    for reference in recorded["references"]:
        store.set_reference(ReferenceRecord(**reference))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path, help="a folder of studies/ (spec.yaml and results.json)")
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    folder = rebuild(args.study, {"candidates": args.candidates, "seeds": args.seeds})
    result = autopeft.resume(folder, device="cpu")  # progress on stderr, as by default
    for record in result.confirmed_pareto:
        print(f"trial {record.number}: confirmed {record.confirmed.mean(result.metric):.4f}", flush=True)


if __name__ == "__main__":
    main()
