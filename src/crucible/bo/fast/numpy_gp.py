"""Posterior mean and variance of a fitted GP and their input gradients, in NumPy.

The NumPy acquisitions (:mod:`~crucible.bo.fast.logei`, :mod:`~crucible.bo.fast.ehvi`) need
the posterior of each output at a batch of inputs and, for L-BFGS-B, its gradient with
respect to the inputs. :class:`NumpyGP` computes both from the Cholesky factor cached by
:class:`~crucible.bo.fast.posterior.FastPosterior`, per output ``j`` of a single-output or
batched (independent) multi-output ``SingleTaskGP``:

* ``k = k_j(x, X)``, ``μ = c_j + k α_j``, ``σ² = s_j - kᵀ K_j⁻¹ k`` (``s_j`` the output
  scale), then the ``Standardize`` transform undone: ``mean = μ·σ_y + μ_y``,
  ``var = σ²·σ_y²`` clamped at 1e-10 (as GPyTorch's ``MultivariateNormal.variance``);
* ``dμ/dx = Σᵢ αᵢ ∂kᵢ/∂x``, ``dσ²/dx = -2 Σᵢ (K⁻¹k)ᵢ ∂kᵢ/∂x`` (zero where the variance is
  clamped), with ``∂k/∂x = -(5/3)(1 + √5 r) e^(-√5 r) (x - Xᵢ)/ℓ²`` (Matern-5/2) or
  ``-k (x - Xᵢ)/ℓ²`` (RBF), ``r = |(x - Xᵢ)/ℓ|``.

Supported where :func:`~crucible.bo.fast.support.model_support` gives a ``numpy_kernel``
(ARD RBF or Matern-5/2, optionally scaled, every output the same kind).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from crucible._imports import require
from crucible.bo.fast.support import model_support, stationary_kernel

if TYPE_CHECKING:
    from crucible.bo.fast.posterior import FastPosterior

__all__ = ["GPMoments", "NumpyGP"]

#: GPyTorch's clamp of the posterior variance (``MultivariateNormal.variance``).
MIN_VARIANCE = 1e-10


@dataclass
class GPMoments:
    """Posterior moments at ``b`` inputs of ``M`` outputs (original outcome units).

    Attributes:
        mean: ``b x M``.
        var: ``b x M``, clamped at 1e-10.
        dmean: ``b x M x d`` input gradient of the mean (None unless asked).
        dvar: ``b x M x d`` input gradient of the variance, zero where clamped.
    """

    mean: np.ndarray
    var: np.ndarray
    dmean: np.ndarray | None = None
    dvar: np.ndarray | None = None


class NumpyGP:
    """Each output's posterior of a fitted exact GP, with input gradients (module docstring).

    Args:
        fast: The model's :class:`~crucible.bo.fast.posterior.FastPosterior`.
        lengthscale: ARD lengthscales, ``M x d``.
        outputscale: Kernel output scales, ``M`` (ones without a ``ScaleKernel``).
        matern: Matern-5/2 (True) or RBF (False).
    """

    def __init__(
        self,
        fast: FastPosterior,
        lengthscale: np.ndarray,
        outputscale: np.ndarray,
        matern: bool,
    ) -> None:
        n_outputs = fast.L.shape[0]
        self.X = fast.train_X[0].numpy()  # n x d (a batched model repeats its inputs)
        self.L = fast.L.numpy()  # M x n x n, lower
        self.alpha = fast.alpha[..., 0].numpy()  # M x n
        self.constant = np.broadcast_to(fast.constant.reshape(-1).numpy(), n_outputs)
        self.y_mean = fast.y_mean.reshape(-1).numpy()
        self.y_std = fast.y_std.reshape(-1).numpy()
        self.inv_ls2 = 1.0 / np.asarray(lengthscale, dtype=float).reshape(n_outputs, -1) ** 2
        self.outputscale = np.asarray(outputscale, dtype=float).reshape(n_outputs)
        self.matern = matern

    @property
    def n_outputs(self) -> int:
        """``M``."""
        return int(self.L.shape[0])

    @classmethod
    def from_posterior(cls, fast: FastPosterior, model: object) -> NumpyGP | None:
        """The NumPy GP of ``model`` (whose fast posterior is ``fast``), or None if unsupported."""
        found = model_support(model)
        if found.numpy_kernel is None:
            return None
        kernel = fast.kernel
        outputscale = np.ones(fast.n_outputs)
        if found.scaled:
            outputscale = kernel.outputscale.detach().reshape(-1).numpy().astype(float)
            outputscale = np.broadcast_to(outputscale, fast.n_outputs)
            kernel = kernel.base_kernel
        lengthscale = kernel.lengthscale.detach().numpy().astype(float)
        lengthscale = np.broadcast_to(
            lengthscale.reshape(-1, lengthscale.shape[-1]), (fast.n_outputs, lengthscale.shape[-1])
        )
        return cls(fast, lengthscale, outputscale, found.numpy_kernel == "matern52")

    def _kernel_and_grad(self, x: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
        """``k_j(x, X)`` (``b x n``) and ``∂k/∂x`` (``b x n x d``)."""
        diff = x[:, None, :] - self.X[None, :, :]  # b x n x d
        scaled = diff * self.inv_ls2[j]
        r2 = np.einsum("bnd,bnd->bn", diff, scaled)
        k, a = stationary_kernel(r2, self.matern)
        s = self.outputscale[j]
        return s * k, (-s * a)[:, :, None] * scaled

    def __call__(self, x: np.ndarray, grad: bool = True) -> GPMoments:
        """Posterior moments at ``x`` (``b x d``); gradients when ``grad``."""
        linalg = require("scipy.linalg")
        x = np.atleast_2d(np.asarray(x, dtype=float))
        b, M = len(x), self.n_outputs
        mean, var = np.empty((b, M)), np.empty((b, M))
        dmean = np.empty((b, M, x.shape[1])) if grad else None
        dvar = np.empty((b, M, x.shape[1])) if grad else None
        for j in range(M):
            k, dk = self._kernel_and_grad(x, j)
            L, y_std = self.L[j], self.y_std[j]
            v = linalg.solve_triangular(L, k.T, lower=True, check_finite=False)  # n x b
            mean[:, j] = (self.constant[j] + k @ self.alpha[j]) * y_std + self.y_mean[j]
            var_raw = (self.outputscale[j] - np.einsum("nb,nb->b", v, v)) * y_std**2
            var[:, j] = np.maximum(var_raw, MIN_VARIANCE)
            if dmean is None or dvar is None:
                continue
            w = linalg.solve_triangular(L, v, lower=True, trans="T", check_finite=False)
            dmean[:, j] = np.einsum("n,bnd->bd", self.alpha[j], dk) * y_std
            dvar[:, j] = -2.0 * np.einsum("nb,bnd->bd", w, dk) * y_std**2
            dvar[var_raw < MIN_VARIANCE, j] = 0.0
        return GPMoments(mean, var, dmean, dvar)
