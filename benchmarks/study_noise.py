"""How noisy the committed studies are, measured from their results, for the noisy synthetic families.

The synthetic placement problems had SST-2's binomial noise only. The real studies
(studies/*/results.json and full_training.json) show more: on MRPC the trials spread about as
much as one accuracy's noise, a share of trials ends at the majority-class accuracy, trainings
with other seeds differ beyond the validation rows' binomial noise, and some trials fail. This
module reads those figures per task, so the noisy families copy them instead of choosing them.

Per task (the studies whose name starts with it):
- ``rows``: validation rows (the median over its studies);
- ``snr``: the standard deviation of a study's completed trials' accuracies over the binomial
  noise at their mean accuracy on its validation rows (median over the task's studies);
- ``floor_share``: the share of completed trials within half a row of the majority accuracy;
- ``fail_share``: failed trials over all trials, pooled over every study (the studies' failures
  were interruptions, not divergence: they are the only failed results there are to count);
- ``seed_sd``: the median over full_training.json's configurations of the standard deviation
  of the test accuracy between seeds (the same test rows for every seed, so this is the
  training's own variance; the median, so one collapsed seed does not set it), over the rows
  trained before the re-judgement under frozen plans (``previous_rows`` where a plan replaced
  them), so the noisy families' kept runs stay the ones this profile makes.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from autopeft.testing.synthetic_noisy import NoiseProfile

STUDIES = Path(__file__).resolve().parents[1] / "studies"
TASKS = ("mrpc", "sst2")


def _results(task: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(STUDIES.glob(f"{task}-*/results.json"))]


def _snr(results: dict) -> float:
    accuracies = [t["values"]["accuracy"] for t in results["trials"] if t["state"] == "complete"]
    mean = statistics.mean(accuracies)
    return statistics.stdev(accuracies) / math.sqrt(mean * (1 - mean) / results["validation_rows"])


def _floor_trials(results: dict) -> tuple[int, int]:
    floor, rows = results["baseline"]["accuracy"], results["validation_rows"]
    accuracies = [t["values"]["accuracy"] for t in results["trials"] if t["state"] == "complete"]
    return sum(abs(a - floor) < 0.5 / rows for a in accuracies), len(accuracies)


def fail_share() -> float:
    """Failed trials over all trials, pooled over every committed study."""
    trials = [t for p in sorted(STUDIES.glob("*/results.json")) for t in json.loads(p.read_text())["trials"]]
    return sum(t["state"] == "fail" for t in trials) / len(trials)


def seed_sd(task: str) -> float:
    recorded = [json.loads(p.read_text()) for p in sorted(STUDIES.glob(f"{task}-*/full_training.json"))]
    # the rows before a frozen plan replaced them (issue 37): the figure the kept runs were made with
    rows = [r for study in recorded for r in study.get("previous_rows") or study["rows"]]
    return statistics.median(r["test_sd"] for r in rows if len(r["seeds"]) > 1)


def profile(task: str) -> NoiseProfile:
    """The task's noise, floor and failure figures, from its committed studies."""
    studies = _results(task)
    floors = [_floor_trials(r) for r in studies]
    return NoiseProfile(
        rows=int(statistics.median(r["validation_rows"] for r in studies)),
        snr=statistics.median(_snr(r) for r in studies),
        floor_share=sum(f for f, _ in floors) / sum(n for _, n in floors),
        fail_share=fail_share(),
        seed_sd=seed_sd(task),
        majority=statistics.median(r["baseline"]["accuracy"] for r in studies),
    )


if __name__ == "__main__":
    for task in TASKS:
        print(task, profile(task))
