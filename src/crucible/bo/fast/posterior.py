"""Exact GP predictions and marginal likelihood with a few torch operations.

BoTorch evaluates ``model.posterior(X)`` through GPyTorch's lazy kernel tensors, prediction
strategy and memoised caches; for the small training sets of a BO campaign (tens to a few
hundred points) that Python machinery costs milliseconds per call, and the acquisition
optimiser calls it (and its backward pass) hundreds of times per suggestion.
:class:`FastPosterior` precomputes, from a fitted ``SingleTaskGP`` (or
``MixedSingleTaskGP``) in eval mode, the Cholesky factor ``L`` of ``K + σ²I`` and
``α = (K + σ²I)⁻¹ (y - μ)``, and predicts

* mean ``μ + k(x, X) α`` and variance ``k(x, x) - |L⁻¹ k(X, x)|²`` (latent ``f``, no
  observation noise), in standardised units,
* then undoes the ``Standardize`` outcome transform,

which is exactly what ``model.posterior(X)`` computes (the unit tests check agreement to
1e-8 for the kernels used here). Only the GP prediction is re-implemented:
:func:`crucible.bo.fast.acquisition.accelerate` swaps it into a BoTorch *analytic*
acquisition function (LogEI, constrained LogEI, UCB, LogPI), whose own formulas then run
unchanged.

:func:`mll_loss` does the same for the hyperparameter fit: the negative marginal log
likelihood ``(½ rᵀ(K + σ²I)⁻¹r + log|L| + n/2 log 2π - log priors) / n`` (GPyTorch's
``ExactMarginalLogLikelihood``; LogNormal priors in closed form, other priors through
GPyTorch's own objects), per output for batched multi-output models, installed as the
MLL's ``compute_custom_loss`` so that BoTorch's fitting routines (including the
independent per-output fit of multi-output models) run unchanged.

What is supported is decided by :func:`crucible.bo.fast.support.model_support`; anything else
(and any Cholesky failure) returns ``None`` and the caller keeps BoTorch's path.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from crucible._imports import require
from crucible.bo.fast.support import model_support

if TYPE_CHECKING:
    from botorch.models import SingleTaskGP
    from gpytorch.kernels import Kernel
    from gpytorch.mlls import MarginalLogLikelihood
    from gpytorch.priors import Prior
    from torch import Tensor

__all__ = ["FastPosterior", "fast_posterior_of", "mll_loss"]


def _call(kernel: Kernel, x1: Tensor, x2: Tensor, same: bool = False) -> Tensor:
    """GPyTorch's ``Kernel.__call__``: restrict to ``active_dims``, then the forward pass.

    ``same``: ``x2`` is ``x1`` (the training kernel matrix).
    """
    if kernel.active_dims is not None:
        x1 = x1.index_select(-1, kernel.active_dims)
        x2 = x1 if same else x2.index_select(-1, kernel.active_dims)
    return _forward(kernel, x1, x2, same)


def _sq_dist(x1: Tensor, x2: Tensor, same: bool) -> Tensor:
    """GPyTorch's ``sq_dist``: centred quadratic expansion (one matmul), clamped at 0."""
    adjustment = x1.mean(-2, keepdim=True)
    a = x1 - adjustment
    a_norm = a.pow(2).sum(-1, keepdim=True)
    if same:
        b, b_norm = a, a_norm
    else:
        b = x2 - adjustment
        b_norm = b.pow(2).sum(-1, keepdim=True)
    res = (-2.0 * a).matmul(b.transpose(-2, -1)) + a_norm + b_norm.transpose(-2, -1)
    return res.clamp_min(0)


def _forward(kernel: Kernel, x1: Tensor, x2: Tensor, same: bool = False) -> Tensor:
    """Kernel matrix ``(M, n1, n2)`` of ``x1`` ``(M|1, n1, d)`` and ``x2`` ``(M|1, n2, d)``.

    ``M`` is the model's output batch (1 for a single output); hyperparameters with a
    batch shape broadcast over it. Distances are computed as GPyTorch's kernels do.
    """
    torch = require("torch")
    kernels = require("gpytorch").kernels
    kind = type(kernel)
    if kind is kernels.ScaleKernel:  # GPyTorch calls base_kernel.forward (no active_dims)
        return kernel.outputscale.reshape(-1, 1, 1) * _forward(kernel.base_kernel, x1, x2, same)
    if kind in (kernels.AdditiveKernel, kernels.ProductKernel):
        out = _call(kernel.kernels[0], x1, x2, same)
        for k in kernel.kernels[1:]:
            part = _call(k, x1, x2, same)
            out = out + part if kind is kernels.AdditiveKernel else out * part
        return out
    lengthscale = kernel.lengthscale  # batch x 1 x d
    lengthscale = lengthscale.reshape(-1, 1, lengthscale.shape[-1])
    if kind is kernels.RBFKernel:
        x1_ = x1 / lengthscale
        x2_ = x1_ if same else x2 / lengthscale
        return torch.exp(-0.5 * _sq_dist(x1_, x2_, same))
    if kind is kernels.MaternKernel:
        mean = x1.mean(-2, keepdim=True)
        x1_ = (x1 - mean) / lengthscale
        if same:
            dist = _sq_dist(x1_, x1_, True).clamp_min(1e-30).sqrt()
        else:
            dist = torch.cdist(x1_, (x2 - mean) / lengthscale).clamp_min(1e-15)
        nu = kernel.nu
        exp_part = torch.exp(-math.sqrt(2 * nu) * dist)
        if nu == 0.5:
            return exp_part
        if nu == 1.5:
            return (1 + math.sqrt(3) * dist) * exp_part
        return (1 + math.sqrt(5) * dist + 5.0 / 3.0 * dist**2) * exp_part
    # BoTorch's CategoricalKernel: exp(-mean over columns of [x1 != x2] / lengthscale)
    delta = (x1.unsqueeze(-2) != x2.unsqueeze(-3)).to(x1.dtype)
    return torch.exp(-(delta / lengthscale.unsqueeze(-2)).mean(-1))


def _prior_variance(kernel: Kernel) -> Tensor:
    """``k(x, x)`` of a stationary kernel tree, shape ``(M|1, 1)``."""
    torch = require("torch")
    kernels = require("gpytorch").kernels
    kind = type(kernel)
    if kind is kernels.ScaleKernel:
        return kernel.outputscale.reshape(-1, 1) * _prior_variance(kernel.base_kernel)
    if kind in (kernels.AdditiveKernel, kernels.ProductKernel):
        out = _prior_variance(kernel.kernels[0])
        for k in kernel.kernels[1:]:
            part = _prior_variance(k)
            out = out + part if kind is kernels.AdditiveKernel else out * part
        return out
    return torch.ones(1, 1, dtype=torch.float64)


def _constant(model: SingleTaskGP, like: Tensor) -> Tensor:
    """The constant prior mean, shape ``(M|1, 1)``."""
    torch = require("torch")
    if hasattr(model.mean_module, "constant"):
        return model.mean_module.constant.reshape(-1, 1)
    return torch.zeros(1, 1, dtype=like.dtype)


def _log_prior(prior: Prior, value: Tensor) -> Tensor:
    """``prior.log_prob(value)`` (elementwise); closed form for ``LogNormalPrior``."""
    gpytorch = require("gpytorch")
    if type(prior) is not gpytorch.priors.LogNormalPrior:
        return prior.log_prob(value)
    loc, scale = prior.loc, prior.scale  # of log(value); torch.distributions.Normal's formula
    log_value = value.log()
    var = scale**2  # in the prior's dtype (float32 priors: as in torch)
    normal = -((log_value - loc) ** 2) / (2 * var) - scale.log() - math.log(math.sqrt(2 * math.pi))
    return normal - log_value


def mll_loss(mll: MarginalLogLikelihood) -> Callable[[], Tensor] | None:
    """A fast negative-MLL loss for ``mll``, or ``None`` when not applicable.

    For an ``ExactMarginalLogLikelihood`` of a supported GP: returns the loss of BoTorch's
    default closure, ``-mll(model(X), y)`` (shape ``()``, or one value per output for a
    batched multi-output model, which BoTorch fits element by element), with the same
    gradients (checked in the unit tests). Install it as ``mll.compute_custom_loss``:
    BoTorch's ``get_loss_closure`` then uses it in every fitting path. Where the Cholesky
    factorisation fails it evaluates BoTorch's closure instead, which retries with jitter
    like GPyTorch does.
    """
    torch = require("torch")
    gpytorch = require("gpytorch")
    closures = require("botorch.optim.closures")
    if type(mll) is not gpytorch.mlls.ExactMarginalLogLikelihood:
        return None
    model = mll.model
    if not model_support(model).loss:
        return None
    if hasattr(mll, "compute_custom_loss") or hasattr(model, "compute_custom_loss"):
        return None
    batched = model.num_outputs > 1
    train_X = model.train_inputs[0]
    X = train_X.reshape(-1, *train_X.shape[-2:])  # (M|1, n, d)
    y = model.train_targets.reshape(-1, train_X.shape[-2])  # (M, n)
    M, n = y.shape
    priors = list(model.named_priors())
    fallback = closures.get_loss_closure(mll)
    log_2pi = math.log(2 * math.pi)

    def loss() -> Tensor:
        K = _call(model.covar_module, X, X, same=True)  # (M, n, n)
        K = K + torch.diag_embed(model.likelihood.noise.reshape(-1, 1).expand(M, n))
        L, info = torch.linalg.cholesky_ex(K)
        if bool((info != 0).any()):
            return fallback()
        r = (y - _constant(model, y)).unsqueeze(-1)  # (M, n, 1)
        a = torch.linalg.solve_triangular(L, r, upper=False)
        log_lik = (
            -0.5 * a.pow(2).sum((-2, -1))
            - L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
            - 0.5 * n * log_2pi
        )  # (M,)
        if not batched:
            log_lik = log_lik[0]
        for _, module, prior, closure, _ in priors:  # GPyTorch's _add_other_terms
            term = _log_prior(prior, closure(module))
            log_lik = log_lik + term.reshape(*log_lik.shape, -1).sum(-1)
        return -log_lik / n

    return loss


class FastPosterior:
    """Posterior mean and variance of a fitted exact GP (see the module docstring).

    Build it with :meth:`from_model`, which returns ``None`` for unsupported models.
    All tensors are detached copies of the fitted hyperparameters: rebuild it after the
    model changes.

    Attributes:
        kernel: The model's covariance module.
        n_outputs: Number of outputs ``m``.
        train_X: Training inputs, ``(M|1) x n x d`` (``M = m`` for a batched model).
        constant: Constant prior mean, ``(M|1) x 1`` (standardised units).
        L: Cholesky factor of ``K + σ²I``, ``M x n x n``.
        alpha: ``(K + σ²I)⁻¹ (y - μ)``, ``M x n x 1``.
        prior_var: ``k(x, x)``, ``(M|1) x 1``.
        y_mean: Outcome-transform means, ``1 x m``.
        y_std: Outcome-transform standard deviations, ``1 x m``.
    """

    def __init__(self, model: SingleTaskGP) -> None:
        torch = require("torch")
        self.kernel: Kernel = model.covar_module
        train_X = model.train_inputs[0].detach()
        train_y = model.train_targets.detach()
        self.n_outputs = int(model.num_outputs)
        self.train_X: Tensor = train_X.reshape(-1, *train_X.shape[-2:])  # (M|1, n, d)
        y = train_y.reshape(-1, train_y.shape[-1])  # (M, n)
        M, n = y.shape
        with torch.no_grad():
            K = _call(self.kernel, self.train_X, self.train_X, same=True)
            noise = model.likelihood.noise.detach().reshape(-1, 1)
            self.noise: Tensor = noise  # (M|1, 1)
            K = K + torch.diag_embed(noise.expand(M, n))
            L, info = torch.linalg.cholesky_ex(K)
            if bool((info != 0).any()):
                raise ValueError("K + noise is not positive definite")
            self.constant: Tensor = _constant(model, y).detach()  # (M|1, 1)
            self.L: Tensor = L  # (M, n, n)
            self.alpha: Tensor = torch.cholesky_solve((y - self.constant).unsqueeze(-1), L)
            self.prior_var: Tensor = _prior_variance(self.kernel).to(y)  # (M|1, 1)
        transform = getattr(model, "outcome_transform", None)
        if transform is None:
            self.y_mean: Tensor = torch.zeros(1, self.n_outputs, dtype=y.dtype)
            self.y_std: Tensor = torch.ones(1, self.n_outputs, dtype=y.dtype)
        else:
            self.y_mean = transform.means.detach().reshape(1, -1)
            self.y_std = transform.stdvs.detach().reshape(1, -1)

    @classmethod
    def from_model(cls, model: object) -> FastPosterior | None:
        """The fast posterior of ``model``, or ``None`` where it would not be exact."""
        from botorch.models import SingleTaskGP

        if not model_support(model).posterior:
            return None
        assert isinstance(model, SingleTaskGP)  # what model_support() checked
        if model.training:
            return None
        try:
            return cls(model)
        except (ValueError, RuntimeError):
            return None

    def mean_variance(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and variance of ``f`` at ``X`` (``... x d``), each ``... x m`` (original units).

        Differentiable with respect to ``X``; the variance is clamped at 1e-10 like
        GPyTorch's ``MultivariateNormal.variance``.
        """
        torch = require("torch")
        batch = X.shape[:-1]
        x = X.reshape(1, -1, X.shape[-1])  # (1, B, d)
        Ks = _call(self.kernel, x, self.train_X)  # (M, B, n)
        mean = self.constant + (Ks @ self.alpha).squeeze(-1)  # (M, B)
        V = torch.linalg.solve_triangular(self.L, Ks.transpose(-1, -2), upper=False)
        var = self.prior_var - V.pow(2).sum(-2)  # (M, B)
        mean = mean.transpose(0, 1) * self.y_std + self.y_mean  # (B, m)
        var = (var.transpose(0, 1) * self.y_std.pow(2)).clamp_min(1e-10)
        m = self.n_outputs
        return mean.reshape(*batch, m), var.reshape(*batch, m)

    def condition_on_mean(self, X_pending: Tensor) -> FastPosterior | None:
        """The posterior after observing ``f`` at ``X_pending`` at its posterior mean.

        Kriging believer fantasies (Ginsbourger et al. 2010) with the hyperparameters kept:
        what BoTorch's ``model.condition_on_observations(X_pending, mean)`` (or
        ``fantasize`` with the posterior mean as the one fantasy) predicts, computed as a
        block update of the Cholesky factor instead of a refactorisation,

        ``L' = [[L, 0], [Bᵀ, C]]``, ``B = L⁻¹ K(X, P)``, ``C Cᵀ = K(P, P) + σ²I - BᵀB``,

        and ``α' = [α; 0]`` (the believed values are the mean ``μ + K(P, X) α``, so the
        extra rows of ``α'`` vanish): the mean is unchanged everywhere, the variance
        shrinks to the noise level at the pending points. ``O(n p² + p³)`` for ``p``
        pending points.

        Args:
            X_pending: Pending inputs, ``p x d`` (float64).

        Returns:
            A new :class:`FastPosterior` on ``n + p`` training points, or ``None`` when the
            update is not positive definite.
        """
        torch = require("torch")
        with torch.no_grad():
            P = X_pending.detach().to(self.train_X).reshape(1, -1, self.train_X.shape[-1])
            P = P.expand(self.train_X.shape[0], -1, -1)  # (M|1, p, d)
            M, p = self.L.shape[0], P.shape[-2]
            K_xp = _call(self.kernel, self.train_X, P).expand(M, -1, -1)  # (M, n, p)
            K_pp = _call(self.kernel, P, P, same=True).expand(M, -1, -1)
            K_pp = K_pp + torch.diag_embed(self.noise.expand(M, p))
            B = torch.linalg.solve_triangular(self.L, K_xp, upper=False)  # (M, n, p)
            C, info = torch.linalg.cholesky_ex(K_pp - B.transpose(-1, -2) @ B)
            if bool((info != 0).any()):
                return None
            top = torch.cat([self.L, self.L.new_zeros(M, self.L.shape[-1], p)], dim=-1)
            out = copy.copy(self)
            out.L = torch.cat([top, torch.cat([B.transpose(-1, -2), C], dim=-1)], dim=-2)
            out.alpha = torch.cat([self.alpha, self.alpha.new_zeros(M, p, 1)], dim=-2)
            out.train_X = torch.cat([self.train_X, P], dim=-2)
        return out

    def mean_and_sigma(
        self, X: Tensor, compute_sigma: bool = True, min_var: float = 1e-12
    ) -> tuple[Tensor, Tensor | None]:
        """Drop-in for ``AnalyticAcquisitionFunction._mean_and_sigma`` (``X``: ``... x 1 x d``)."""
        mean, var = self.mean_variance(X.squeeze(-2))
        if not compute_sigma:
            return mean, None
        return mean, var.clamp_min(min_var).sqrt()


def fast_posterior_of(acqf: object) -> FastPosterior | None:
    """The :class:`FastPosterior` attached to ``acqf``, or None.

    :func:`~crucible.bo.fast.acquisition.accelerate` attaches it.
    """
    fast = getattr(acqf, "fast_posterior", None)
    return fast if isinstance(fast, FastPosterior) else None
