"""Denoised scores: a GP's posterior mean at the configurations already tried.

A trial's observed metric is one noisy draw; the best of many such draws is the luckiest,
not the best (the winner's curse). BoTorch's practice for noisy problems is to rank what was
observed by the model's posterior mean instead, which pools each configuration's score with
its neighbours'. Knows nothing of PEFT: parameters and distributions in, means out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from optuna.distributions import BaseDistribution

from autopeft.optim.param_encoding import SpaceEncoder
from autopeft.optim.surrogate import WarmStartedGP, quiet_jitter

MIN_OBSERVATIONS = 4  # below this a GP has nothing to pool: the observations are returned as they are


def posterior_means(
    params: Sequence[dict[str, Any]],
    scores: Sequence[float],
    distributions: dict[str, BaseDistribution],
    canonicalize: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> np.ndarray:
    """The GP posterior mean of ``scores`` at each of ``params`` (same order), fitted on them
    all; the scores themselves when there are too few, or the space has no dimension."""
    observed = np.asarray(scores, dtype=float)
    searched = {name: d for name, d in distributions.items() if SpaceEncoder.supports(d)}
    if len(observed) < MIN_OBSERVATIONS or not searched or np.ptp(observed) == 0:
        return observed
    encoder = SpaceEncoder(searched, canonicalize)
    X = encoder.encode_many([dict(p) for p in params])
    y = torch.as_tensor(observed, dtype=torch.double)
    with quiet_jitter():
        model = WarmStartedGP().fit(X, y, apart=encoder.continuous_columns)
        with torch.no_grad():
            return model.posterior(X).mean.squeeze(-1).numpy().astype(float)
