"""Kept optimizer runs the older replay (tests/test_benchmarks.py) does not cover still replay:
optuna's GP samplers on the base families, and every sampler on the noisy families.

A changed sampler, problem, noise profile (benchmarks/study_noise.py reads it from studies/) or
failure handling would leave stale runs among new ones. Replayed: the random start and two
model-based suggestions (12 points) of mobo, TPE, NSGA-II and random; of GPSampler and
BoTorchSampler, and on ``paper``, the random start only (10): bert-101's kept GPSampler run
differs from a replay on another machine at its first model-based point (the acquisition's
near-ties follow the CPU's BLAS kernels, see tests/test_benchmarks.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import optimizer  # noqa: E402

REPLAYED = {"paper": 10, "bert": 12, "llm": 12, "bert_mrpc": 12, "bert_sst2": 12}
STARTUP = 10
NEW = {family: optimizer.SAMPLERS for family in optimizer.NOISY} | {
    f: ("gp", "botorch") for f in ("paper", "bert", "llm")
}


def runs() -> list[Path]:
    """Instance 101's kept run of every sampler the older replay leaves out."""
    return [
        path
        for family, samplers in NEW.items()
        for sampler in samplers
        if (path := optimizer.RESULTS / f"{optimizer.run_key(family, 101, sampler, 80)}.json").exists()
    ]


def test_every_noisy_family_has_kept_runs():
    kept = {path.stem.split("-")[0] for path in runs()}
    assert set(optimizer.NOISY) <= kept


@pytest.mark.parametrize("path", runs(), ids=lambda p: p.stem)
def test_a_kept_run_replays_to_the_same_values(path: Path):
    family, instance, sampler, trials = path.stem.split("-")
    problem = optimizer.make_problem(family, int(instance))
    kept = json.loads(path.read_text())
    assert len(kept) == int(trials)
    first = STARTUP if sampler in ("gp", "botorch") else REPLAYED[family]
    points = optimizer.run_study(sampler, problem, int(instance), int(trials), first=first)
    replayed = optimizer.true_values(problem, points)
    assert [v is None for v in replayed] == [v is None for v in kept[: len(replayed)]], "failed trials differ"
    np.testing.assert_allclose(
        [v for v in replayed if v is not None],
        [v for v in kept[: len(replayed)] if v is not None],
        rtol=1e-9,
        err_msg=f"{path.name} is stale: rerun it",
    )
