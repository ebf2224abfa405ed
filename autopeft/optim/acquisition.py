"""Acquisition: qLogNEHVI for several objectives, qLogNEI for one."""

from __future__ import annotations

import torch
from botorch.acquisition import qLogNoisyExpectedImprovement
from botorch.acquisition.acquisition import AcquisitionFunction
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.models.model import Model
from botorch.sampling.get_sampler import get_sampler

from autopeft.optim.hypervolume import reference_point


def keep_pure_pytorch_kernels() -> None:
    """Keep botorch's PyTorch path for qLogNEHVI: botorch 0.18 otherwise compiles a C++ kernel on
    first use (``torch.utils.cpp_extension``, ``-march=native``), which takes minutes on a small
    machine, follows the CPU's instruction set (a seeded search would differ between machines),
    and leaves a lock file when killed mid-build, on which every later search waits forever."""
    from botorch.acquisition.multi_objective import logei

    if getattr(logei, "_C", None) is None and hasattr(logei, "_load_attempted"):
        logei._load_attempted = True  # "already tried": botorch then uses its PyTorch path


def make_acquisition(
    model: Model,
    X: torch.Tensor,
    Y: torch.Tensor,
    X_pending: torch.Tensor | None,
    mc_samples: int = 64,
    seed: int | None = None,
) -> AcquisitionFunction:
    """Noisy expected (hypervolume) improvement over the observed ``X``, aware of pending points.

    ``Y`` holds the observed objectives, all maximized; it sets the reference point.
    """
    # get_sampler picks the right sampler for the posterior (a list of samplers when some
    # objectives are known exactly and others are GPs).
    sampler = get_sampler(model.posterior(X[:1]), sample_shape=torch.Size([mc_samples]), seed=seed)
    if Y.shape[-1] == 1:
        return qLogNoisyExpectedImprovement(
            model, X_baseline=X, sampler=sampler, X_pending=X_pending, prune_baseline=True
        )
    keep_pure_pytorch_kernels()
    return qLogNoisyExpectedHypervolumeImprovement(
        model,
        ref_point=reference_point(Y).tolist(),
        X_baseline=X,
        sampler=sampler,
        X_pending=X_pending,
        prune_baseline=True,
        cache_root=False,
    )


@torch.no_grad()
def evaluate(acquisition: AcquisitionFunction, candidates: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """Acquisition values of single candidates (q=1), in chunks to bound memory."""
    values = [acquisition(candidates[i : i + chunk].unsqueeze(1)) for i in range(0, len(candidates), chunk)]
    return torch.cat(values) if values else torch.zeros(0)
