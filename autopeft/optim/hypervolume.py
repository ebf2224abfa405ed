"""Hypervolume of a set of objective vectors (all maximized) with botorch's partitioning."""

from __future__ import annotations

import torch
from botorch.utils.multi_objective.box_decompositions.dominated import DominatedPartitioning
from botorch.utils.multi_objective.hypervolume import infer_reference_point
from botorch.utils.multi_objective.pareto import is_non_dominated


def hypervolume(Y: torch.Tensor, ref_point: torch.Tensor) -> float:
    """Volume dominated by the rows of ``Y`` (maximization) above ``ref_point``."""
    Y = torch.as_tensor(Y, dtype=torch.double)
    ref_point = torch.as_tensor(ref_point, dtype=torch.double)
    if Y.numel() == 0:
        return 0.0
    better = (Y > ref_point).all(dim=-1)
    if not better.any():
        return 0.0
    return float(DominatedPartitioning(ref_point=ref_point, Y=Y[better]).compute_hypervolume())


def reference_point(Y: torch.Tensor) -> torch.Tensor:
    """The acquisition's reference point, inferred from the observed data.

    BoTorch's rule: the nadir of the observed Pareto front, moved back by 10% of the
    front's range in each objective. Unlike a fixed threshold (the AutoPEFT code's 0.7
    accuracy) it is never above every observation, so hypervolume improvement stays
    informative on hard tasks.
    """
    Y = torch.as_tensor(Y, dtype=torch.double)
    return infer_reference_point(Y[is_non_dominated(Y)], scale=0.1)
