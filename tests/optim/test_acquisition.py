"""The acquisition never builds botorch's C++ kernel: a build takes minutes on a small machine,
follows the CPU it ran on, and a search killed mid-build leaves a lock file that every later
search would wait on forever (torch's FileBaton has no timeout)."""

from __future__ import annotations

import sys

import torch
import torch.utils.cpp_extension
from botorch.acquisition.multi_objective import logei
from botorch.models import SingleTaskGP

from autopeft.optim.acquisition import evaluate, make_acquisition


def test_no_kernel_is_compiled_and_the_pytorch_path_scores(monkeypatch):
    builds = []
    monkeypatch.setattr(torch.utils.cpp_extension, "load", lambda *args, **kwargs: builds.append(kwargs))
    monkeypatch.setitem(sys.modules, "logei_fused_ext", None)  # no prebuilt kernel, as on a fresh install
    monkeypatch.setattr(logei, "_C", None)
    monkeypatch.setattr(logei, "_load_attempted", False)
    torch.manual_seed(0)
    X, Y = torch.rand(8, 3, dtype=torch.double), torch.rand(8, 2, dtype=torch.double)
    acquisition = make_acquisition(SingleTaskGP(X, Y), X, Y, None, seed=0)
    values = evaluate(acquisition, torch.rand(5, 3, dtype=torch.double))
    assert builds == [], "botorch was let compile its C++ kernel"
    assert values.shape == (5,) and torch.isfinite(values).all()
