"""A custom metric under Ray: the workers import the user's module (on PYTHONPATH when the
cluster starts, as the README says) and measure it."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

import autopeft

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

MODULE = "autopeft_ray_test_metrics"
SOURCE = """
from sklearn.metrics import balanced_accuracy_score

def balanced(predictions, labels):
    return balanced_accuracy_score(labels, predictions)
"""


@pytest.fixture()
def user_code(tmp_path, monkeypatch) -> Path:
    """The metric's module, on the driver's PYTHONPATH (and sys.path) before Ray starts."""
    folder = tmp_path / "user-code"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(SOURCE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    return folder


@pytest.fixture()
def cluster(user_code):
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    yield cluster
    if ray.is_initialized():
        ray.shutdown()
    cluster.shutdown()


def test_ray_workers_measure_a_custom_metric(quick_spec, cluster):
    spec = quick_spec | {
        "objectives": [{"metric": f"{MODULE}:balanced", "direction": "maximize"}, "trainable_params"],
        "executor": {"kind": "ray", "address": cluster.address},
    }
    result = autopeft.search(spec, trials=2, progress=False)
    complete = [t for t in result.trials if t.state == "complete"]
    assert len(complete) == 2, [t.fail_reason for t in result.trials]
    assert all(t.worker for t in complete)  # trained on a Ray worker
    for trial in complete:
        assert trial.values["balanced"] == pytest.approx(trial.values["balanced_accuracy"])
