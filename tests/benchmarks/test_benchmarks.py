"""The optimizer benchmark's kept runs are still what its code computes.

benchmarks/optimizer.py keeps each run's true values in benchmarks/results/optimizer/ and
skips it on a rerun, so runs made over several sessions add up. A change to a sampler, a
problem or the scoring would leave stale runs mixed with new ones and the figures silently
wrong: replaying the start of kept runs catches it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import optimizer  # noqa: E402  (a script folder, not a package: an import error here must fail, not skip)

# mobo's 10 random trials and its first two model-based suggestions; on `paper` the random trials
# only. MKL and OpenBLAS pick their kernels by CPU, and on `paper` the acquisition's near-ties turn
# last-bit differences into another point: on an AMD EPYC, 10 of its 15 kept mobo runs (instances
# 101-105) differ at the 11th or 12th trial from the machine that made them; bert's and llm's all replay.
REPLAYED = {"paper": 10, "bert": 12, "llm": 12}


def kept_runs() -> list[Path]:
    """A cheap, varied sample of the kept runs: every sampler on the first instance of each family."""
    return sorted(
        path
        for path in optimizer.RESULTS.glob("*-101-*.json")
        if path.stem.split("-")[2] in ("mobo", "mobo_no_known", "tpe", "nsga2", "random")
        and path.stem.split("-")[0] in REPLAYED  # the noisy families: tests/benchmarks/test_optimizer_replay.py
    )


def test_there_are_kept_runs():
    assert kept_runs(), f"no kept runs under {optimizer.RESULTS}"


@pytest.mark.parametrize("path", kept_runs(), ids=lambda p: p.stem)
def test_a_kept_run_replays_to_the_same_values(path: Path):
    family, instance, sampler, trials = path.stem.split("-")
    problem = optimizer.make_problem(family, int(instance))
    kept = json.loads(path.read_text())
    assert len(kept) == int(trials) and all(len(values) == 2 for values in kept)
    points = optimizer.run_study(sampler, problem, int(instance), int(trials), first=REPLAYED[family])
    replayed = optimizer.true_values(problem, points)
    np.testing.assert_allclose(replayed, kept[: REPLAYED[family]], rtol=1e-9, err_msg=f"{path.name} is stale: rerun it")
