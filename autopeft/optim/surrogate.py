"""Surrogates: a GP per learned objective, exact functions for objectives known in advance.

Trainable parameters are a known function of the configuration, so they are not
learned: a deterministic model returns them exactly and only the task metric is modelled.
GP hyperparameters are warm-started from the previous fit, which keeps refits cheap as
observations accumulate.

The continuous parameters (learning rates) get a kernel of their own, added to one over the
rest (placement bits, ranks): in one kernel over a few hundred placement bits a learning rate
is one dimension among hundreds, every pair of configurations is far apart, and the fit learns
nothing (Spearman about 0 against the true accuracy of unseen random configurations of the
``bert`` and ``llm`` benchmark problems after 20 and 40 observations). Apart, the learning
rates' effect, which real PEFT studies show dominates, is learned from a few observations
(Spearman 0.92 to 0.97 there): an additive kernel over groups of dimensions, as BoTorch's
mixed-space GP separates its continuous and categorical ones.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelList, SingleTaskGP
from botorch.models.deterministic import GenericDeterministicModel
from botorch.models.model import Model
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from gpytorch.kernels import Kernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood
from linear_operator.utils.warnings import NumericalWarning


class WarmStartedGP:
    """Fits a SingleTaskGP per call, starting from the last fit's hyperparameters."""

    def __init__(self, maxiter: int = 75) -> None:
        self.maxiter = maxiter
        self._state: dict[str, torch.Tensor] | None = None

    def fit(self, X: torch.Tensor, y: torch.Tensor, apart: Sequence[int] = ()) -> SingleTaskGP:
        """The GP of ``y`` at ``X``; the columns ``apart`` (the continuous parameters') get a
        kernel of their own, added to one over the other columns."""
        model = SingleTaskGP(
            X, y.unsqueeze(-1), covar_module=grouped_kernel(X.shape[-1], apart), outcome_transform=Standardize(m=1)
        )
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


@contextmanager
def quiet_jitter() -> Iterator[None]:
    """Hide linear_operator's "A not p.d., added jitter" warnings: a Cholesky that needed a tiny
    diagonal jitter succeeded (one that cannot be rescued raises), and near-duplicate
    configurations make them routine, so they would only clutter a search's output."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="A not p.d., added jitter", category=NumericalWarning)
        yield


def grouped_kernel(dim: int, apart: Sequence[int]) -> Kernel | None:
    """BoTorch's default kernel (dimension-scaled lengthscale prior) on ``apart`` plus one on the
    other columns, each with its own scale; None (BoTorch's default over all columns) when
    ``apart`` is empty or every column."""
    apart = sorted(set(apart))
    rest = [column for column in range(dim) if column not in apart]
    if not apart or not rest:
        return None
    first, second = (ScaleKernel(get_covar_module_with_dim_scaled_prior(len(g), active_dims=g)) for g in (apart, rest))
    return first + second


def known_model(function: Callable[[torch.Tensor], torch.Tensor]) -> Model:
    """A model whose output is computed exactly from the encoded configuration."""

    def batched(X: torch.Tensor) -> torch.Tensor:
        flat = X.reshape(-1, X.shape[-1])
        return function(flat).reshape(*X.shape[:-1], 1).to(X)

    return GenericDeterministicModel(batched, num_outputs=1)


def joint_model(models: list[Model]) -> Model:
    """One multi-output model over the objectives, in order."""
    return models[0] if len(models) == 1 else ModelList(*models)
