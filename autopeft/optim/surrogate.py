"""Surrogates: a GP per learned objective, exact functions for objectives known in advance.

Trainable parameters are a known function of the configuration, so they are not
learned: a deterministic model returns them exactly and only the task metric is modelled.
GP hyperparameters are warm-started from the previous fit, which keeps refits cheap as
observations accumulate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelList, SingleTaskGP
from botorch.models.deterministic import GenericDeterministicModel
from botorch.models.model import Model
from botorch.models.transforms.outcome import Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood


class WarmStartedGP:
    """Fits a SingleTaskGP per call, starting from the last fit's hyperparameters."""

    def __init__(self, maxiter: int = 75) -> None:
        self.maxiter = maxiter
        self._state: dict[str, torch.Tensor] | None = None

    def fit(self, X: torch.Tensor, y: torch.Tensor) -> SingleTaskGP:
        model = SingleTaskGP(X, y.unsqueeze(-1), outcome_transform=Standardize(m=1))
        if self._state is not None:
            current = model.state_dict()
            model.load_state_dict(
                {k: v for k, v in self._state.items() if k in current and current[k].shape == v.shape}, strict=False
            )
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        try:
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": self.maxiter}})
        except Exception as error:  # a failed fit keeps the warm-started (or default) hyperparameters
            logging.getLogger("autopeft").warning(
                "GP fit on %d observations failed (%s: %s); keeping the previous hyperparameters",
                len(X),
                type(error).__name__,
                error,
            )
        # Keep the hyperparameters only: the next fit has new data, so a new outcome transform.
        self._state = {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith("outcome")}
        return model.eval()


def known_model(function: Callable[[torch.Tensor], torch.Tensor]) -> Model:
    """A model whose output is computed exactly from the encoded configuration."""

    def batched(X: torch.Tensor) -> torch.Tensor:
        flat = X.reshape(-1, X.shape[-1])
        return function(flat).reshape(*X.shape[:-1], 1).to(X)

    return GenericDeterministicModel(batched, num_outputs=1)


def joint_model(models: list[Model]) -> Model:
    """One multi-output model over the objectives, in order."""
    return models[0] if len(models) == 1 else ModelList(*models)
