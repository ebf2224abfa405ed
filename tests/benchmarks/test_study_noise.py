"""The noisy families' figures are the ones their kept runs were made with, read from studies/.

The kept bert_mrpc and bert_sst2 runs replay only the points a sampler chose and their true
values, which the noise, seed and failure figures hardly touch: pinning the derived figures
catches a changed derivation or study file that would leave those runs stale. The hand counts:
13 of the MRPC studies' 64 completed trials (5 + 8) sit on the majority accuracy, 1 of the SST-2
studies' 88; 3 of all 155 trials failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import study_noise  # noqa: E402

KEPT_WITH = {
    "mrpc": dict(rows=387, snr=0.7667, floor_share=13 / 64, fail_share=3 / 155, seed_sd=0.01104, majority=0.68992),
    "sst2": dict(rows=910, snr=4.9944, floor_share=1 / 88, fail_share=3 / 155, seed_sd=0.005297, majority=0.52308),
}


@pytest.mark.parametrize("task", sorted(KEPT_WITH))
def test_the_profile_is_the_one_the_kept_runs_used(task: str):
    profile = study_noise.profile(task)
    for name, value in KEPT_WITH[task].items():
        assert getattr(profile, name) == pytest.approx(value, rel=1e-3), name
