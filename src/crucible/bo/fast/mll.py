"""The GP marginal-likelihood loss and its gradient in NumPy, for the hyperparameter fit.

A campaign refits its GP at every suggestion. BoTorch's L-BFGS-B fit calls a closure
that evaluates the negative marginal log likelihood and back-propagates through it; even
with :func:`crucible.bo.fast.posterior.mll_loss` (a lean torch loss) almost all of a call's
cost is per-operation overhead of the forward and backward passes on small matrices.
:func:`numpy_closure` returns a closure
with the same loss and its closed-form gradient (Rasmussen and Williams 2006, eq. 5.9),

``∂L/∂θ = (½ tr((K⁻¹ - ααᵀ) ∂K/∂θ) - ∂ log p(θ)/∂θ) / n``,  ``α = K⁻¹(y - μ)``,

computed from one Cholesky factorisation, with the pairwise squared differences of the
(fixed) training inputs computed once per fit. BoTorch's fitting routine runs unchanged
(``fit_gpytorch_mll(mll, closure=...)``): the same parameters, bounds, L-BFGS-B options
and fallbacks; only the closure differs. The unit tests check values and gradients
against BoTorch's closure.

Supported where :func:`crucible.bo.fast.support.model_support` says ``numpy_loss`` (else
:func:`numpy_closure` returns ``None`` and the caller keeps the torch path): a
single-output ``SingleTaskGP`` (:func:`numpy_closure`) or a batched multi-output one, its
outputs fitted independently as BoTorch does (:func:`numpy_batched_optimizer`), with a
``Standardize`` (or no) outcome transform, no input transform, a Gaussian likelihood, a
constant (or zero) mean, and an ARD RBF or Matern-5/2 kernel without a scale kernel
(BoTorch's default since 0.12); lengthscale and
noise under ``GreaterThan`` constraints (untransformed, as BoTorch builds them, or
softplus); priors: LogNormal or Gamma on the lengthscale and on the noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from crucible._imports import require
from crucible.bo.fast.support import constraint_transform, model_support, stationary_kernel

if TYPE_CHECKING:
    from botorch.models import SingleTaskGP
    from gpytorch.mlls import MarginalLogLikelihood
    from gpytorch.priors import Prior
    from torch import Tensor

__all__ = ["numpy_batched_optimizer", "numpy_closure"]

_LENGTHSCALE, _NOISE, _CONSTANT = "lengthscale", "noise", "constant"


def numpy_closure(
    mll: MarginalLogLikelihood,
) -> Callable[[], tuple[Tensor, tuple[Tensor, ...]]] | None:
    """A forward-backward closure for BoTorch's ``fit_gpytorch_mll``, or ``None``.

    Args:
        mll: An ``ExactMarginalLogLikelihood`` of a supported GP (module docstring).

    Returns:
        ``closure() -> (loss, grads)``: the loss of BoTorch's default closure (a 0-d
        tensor) and one gradient tensor per parameter that requires a gradient, in the
        order BoTorch's ``fit_gpytorch_mll_scipy`` collects them. A zeroed gradient of a
        pinned mean (:func:`crucible.bo.surrogates.pin_pessimistic_mean`) stays zero.
    """
    spec = _spec(mll)
    if spec is None or mll.model.num_outputs != 1:
        return None
    torch = require("torch")
    closures = require("botorch.optim.closures")
    utils = require("botorch.optim.utils")
    model = mll.model
    X = model.train_inputs[0].detach().numpy()
    y = model.train_targets.detach().numpy()
    n = len(y)
    D2 = ((X[:, None, :] - X[None, :, :]) ** 2).reshape(n * n, -1)  # (n*n, d)
    parameters = {
        name: p for name, p in utils.get_parameters_and_bounds(mll)[0].items() if p.requires_grad
    }
    roles = _roles(model, parameters)
    if roles is None:
        return None
    fallback = closures.get_loss_closure_with_grads(mll, parameters=parameters)
    mean_free = _mean_is_free(model)

    def closure() -> tuple[Tensor, tuple[Tensor, ...]]:
        values = {roles[name]: p.detach().numpy() for name, p in parameters.items()}
        out = _loss_and_grads(spec, D2, y, values, mean_free)
        if out is None:  # not positive definite: BoTorch's closure adds jitter and retries
            return fallback()
        loss, grads = out
        return torch.tensor(loss, dtype=torch.float64), tuple(
            torch.as_tensor(grads[roles[name]].reshape(p.shape), dtype=p.dtype)
            for name, p in parameters.items()
        )

    return closure


def numpy_batched_optimizer(mll: MarginalLogLikelihood) -> Callable[..., Any] | None:
    """An ``optimizer`` for ``fit_gpytorch_mll`` that fits a multi-output GP in NumPy, or None.

    BoTorch fits the outputs of a batched multi-output ``SingleTaskGP`` independently: one
    L-BFGS-B problem per output, driven together by ``fmin_l_bfgs_b_batched``, on
    per-output losses and gradients from a torch forward and backward pass
    (``_fit_gpytorch_mll_scipy_independent``). The returned optimizer runs the same
    driver with the same parameters, per-element bounds and options, on each output's
    NumPy loss and closed-form gradient (:func:`numpy_closure`'s, output by output);
    where a Cholesky factorisation fails it evaluates BoTorch's own batched closure
    (which adds jitter) instead. ``fit_gpytorch_mll``'s retries and checks are unchanged.

    Args:
        mll: An ``ExactMarginalLogLikelihood`` of a supported batched GP (module
            docstring; several outputs).

    Returns:
        ``optimizer(mll, closure=None, options=None, **ignored) -> OptimizationResult``,
        or None for single-output and unsupported models.
    """
    spec = _spec(mll)
    model = mll.model
    if spec is None or model.num_outputs == 1 or model.train_inputs[0].dim() != 3:
        return None
    utils = require("botorch.optim.utils")
    parameters = {
        name: p for name, p in utils.get_parameters_and_bounds(mll)[0].items() if p.requires_grad
    }
    if _roles(model, parameters) is None:
        return None

    def optimizer(
        mll: MarginalLogLikelihood,
        closure: object = None,
        options: dict[str, Any] | None = None,
        **ignored: object,
    ) -> Any:
        return _fit_batched(mll, spec, options or {})

    return optimizer


#: ``fit_gpytorch_mll`` options that ``fmin_l_bfgs_b_batched`` takes (BoTorch's mapping).
_OPTIONS = ("maxiter", "maxcor", "ftol", "gtol", "pgtol", "maxls", "factr")


class _BatchedLoss:
    """Per-output NumPy losses and gradients of a batched GP, in BoTorch's batched layout.

    ``loss(x, batch_indices)`` takes the per-output parameter rows that
    ``fmin_l_bfgs_b_batched`` passes (the layout of BoTorch's
    ``BatchedNDarrayOptimizationClosure``, kept as :attr:`fallback`) and returns one loss
    and one gradient row per output, as that closure does.
    """

    def __init__(self, mll: MarginalLogLikelihood, spec: _Spec) -> None:
        torch = require("torch")
        closures = require("botorch.optim.closures")
        utils = require("botorch.optim.utils")
        model = mll.model
        all_parameters, self.bounds = utils.get_parameters_and_bounds(mll)
        self.parameters = {n: p for n, p in all_parameters.items() if p.requires_grad}
        roles = _roles(model, self.parameters)
        assert roles is not None  # checked by numpy_batched_optimizer
        self.n_outputs = M = int(model.num_outputs)
        self.batch_shape = torch.Size([M])
        self.fallback = closures.BatchedNDarrayOptimizationClosure(
            forward=closures.get_loss_closure(mll),
            parameters=self.parameters,
            batch_shape=self.batch_shape,
        )
        self.layout, start = [], 0
        for name, p in self.parameters.items():
            self.layout.append((roles[name], start, p.numel() // M))
            start += p.numel() // M
        X = model.train_inputs[0][0].detach().numpy()
        self.y = model.train_targets.detach().numpy().reshape(M, -1)
        n = X.shape[0]
        self.D2 = ((X[:, None, :] - X[None, :, :]) ** 2).reshape(n * n, -1)
        self.spec = spec
        self.pinned = int(getattr(model, "crucible_pinned_outputs", 0))

    def __call__(
        self, x: np.ndarray, batch_indices: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Losses (``b``) and gradients (``b x p``) of the outputs ``batch_indices``."""
        rows = range(self.n_outputs) if batch_indices is None else batch_indices
        values, grads = np.empty(len(x)), np.empty_like(x)
        for row, j in enumerate(rows):
            state = {role: x[row, a : a + size] for role, a, size in self.layout}
            out = _loss_and_grads(self.spec, self.D2, self.y[j], state, j >= self.pinned)
            if out is None:  # not positive definite: BoTorch's closure adds jitter
                return self.fallback(x, batch_indices)
            values[row] = out[0]
            for role, a, size in self.layout:
                grads[row, a : a + size] = out[1][role].reshape(-1)
        return values, grads


def _fit_batched(mll: MarginalLogLikelihood, spec: _Spec, options: dict[str, Any]) -> Any:
    """BoTorch's independent batched fit on NumPy losses (:func:`numpy_batched_optimizer`)."""
    lbfgsb = require("botorch.optim.batched_lbfgs_b")
    core = require("botorch.optim.core")
    numpy_utils = require("botorch.optim.utils.numpy_utils")
    loss = _BatchedLoss(mll, spec)
    xs, fs, results = lbfgsb.fmin_l_bfgs_b_batched(
        func=loss,
        x0=loss.fallback.state,
        bounds=numpy_utils.get_per_element_bounds(loss.parameters, loss.bounds, loss.batch_shape),
        pass_batch_indices=True,
        **{("pgtol" if k == "gtol" else k): v for k, v in options.items() if k in _OPTIONS},
    )
    loss.fallback.state = xs
    if all(r.get("success", False) for r in results):
        status = core.OptimizationStatus.SUCCESS
    elif any(r.get("warnflag", 0) == 1 for r in results):
        status = core.OptimizationStatus.STOPPED
    else:
        status = core.OptimizationStatus.FAILURE
    return core.OptimizationResult(
        step=max(r.get("nit", 0) for r in results),
        fval=float(np.sum(fs)),
        status=status,
        message=f"NumPy batched L-BFGS-B: {sum(r.get('success', False) for r in results)}"
        f"/{len(results)} outputs converged.",
    )


def _roles(model: SingleTaskGP, parameters: dict[str, Tensor]) -> dict[str, str] | None:
    """Role (lengthscale, noise, constant) of each named parameter; None if any is other."""
    known = {
        id(model.covar_module.raw_lengthscale): _LENGTHSCALE,
        id(model.likelihood.noise_covar.raw_noise): _NOISE,
    }
    if hasattr(model.mean_module, "raw_constant"):
        known[id(model.mean_module.raw_constant)] = _CONSTANT
    roles = {name: known.get(id(p)) for name, p in parameters.items()}
    if None in roles.values() or _LENGTHSCALE not in roles.values():
        return None
    return {name: role for name, role in roles.items() if role is not None}


_PriorTerms = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class _Spec:
    """What the NumPy loss needs to know about a supported model.

    Attributes:
        kind: The ARD kernel.
        lengthscale: Constraint transform and lower bound of the lengthscales.
        noise: Constraint transform and lower bound of the noise.
        lengthscale_prior: ``value -> (log density, derivative)``, or None (no prior).
        noise_prior: The same for the noise.
    """

    kind: Literal["matern52", "rbf"]
    lengthscale: tuple[str, float]
    noise: tuple[str, float]
    lengthscale_prior: _PriorTerms | None
    noise_prior: _PriorTerms | None


def _spec(mll: MarginalLogLikelihood) -> _Spec | None:
    """Kernel kind, bounds and priors of a supported model (None when unsupported)."""
    gpytorch = require("gpytorch")
    if type(mll) is not gpytorch.mlls.ExactMarginalLogLikelihood:
        return None
    model = mll.model
    found = model_support(model)
    if not found.numpy_loss or found.numpy_kernel is None:
        return None
    lengthscale_c = model.covar_module.raw_lengthscale_constraint
    noise_c = model.likelihood.noise_covar.raw_noise_constraint
    priors = {name: _prior_terms(prior) for name, _, prior, _, _ in model.named_priors()}
    return _Spec(
        kind=found.numpy_kernel,
        lengthscale=(str(constraint_transform(lengthscale_c)), float(lengthscale_c.lower_bound)),
        noise=(str(constraint_transform(noise_c)), float(noise_c.lower_bound)),
        lengthscale_prior=priors.get("covar_module.lengthscale_prior"),
        noise_prior=priors.get("likelihood.noise_covar.noise_prior"),
    )


def _mean_is_free(model: SingleTaskGP) -> bool:
    """False when the constant is pinned (:func:`~crucible.bo.surrogates.pin_pessimistic_mean`)."""
    return not getattr(model, "crucible_pinned_outputs", 0)


def _value_and_slope(
    raw: np.ndarray, transform: str, lower: float
) -> tuple[np.ndarray, np.ndarray]:
    """Constrained value of ``raw`` and ``d value / d raw``."""
    if transform == "identity":
        return raw, np.ones_like(raw)
    return np.logaddexp(0.0, raw) + lower, 1.0 / (1.0 + np.exp(-raw))


def _prior_terms(prior: Prior) -> _PriorTerms | None:
    """``value -> (log density, its derivative)`` for a LogNormal or Gamma prior."""
    gpytorch = require("gpytorch")
    if type(prior) is gpytorch.priors.LogNormalPrior:
        loc, scale = float(prior.loc), float(prior.scale)

        def lognormal(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            z = np.log(v) - loc
            log_p = -(z**2) / (2 * scale**2) - math.log(scale * math.sqrt(2 * math.pi)) - z - loc
            return log_p, (-z / scale**2 - 1.0) / v

        return lognormal
    if type(prior) is gpytorch.priors.GammaPrior:
        a, b = float(prior.concentration), float(prior.rate)
        const = a * math.log(b) - math.lgamma(a)

        def gamma(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return const + (a - 1) * np.log(v) - b * v, (a - 1) / v - b

        return gamma
    return None


def _kernel(
    kind: str, D2: np.ndarray, lengthscale: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``K`` (``n x n``) and ``A`` with ``∂K/∂ℓ_j = A ∘ D2_j / ℓ_j³``."""
    r2 = (D2 @ (1.0 / lengthscale**2)).reshape(n, n)
    return stationary_kernel(r2, matern=kind != "rbf")


def _loss_and_grads(
    spec: _Spec,
    D2: np.ndarray,
    y: np.ndarray,
    values: dict[str, np.ndarray],
    mean_free: bool,
) -> tuple[float, dict[str, np.ndarray]] | None:
    """Negative MLL / n and its gradient per raw parameter (None: not positive definite).

    Args:
        spec: From :func:`_spec`.
        D2: Pairwise squared differences of the training inputs, ``(n * n) x d``.
        y: Standardised training targets, ``n``.
        values: Raw parameter values by role.
        mean_free: Whether the constant mean is fitted (else its gradient is zero).
    """
    from scipy.linalg import LinAlgError, cho_solve, cholesky

    n = len(y)
    raw_ls, raw_noise = values[_LENGTHSCALE].reshape(-1), values[_NOISE].reshape(-1)[:1]
    lengthscale, ls_slope = _value_and_slope(raw_ls, *spec.lengthscale)
    noise, noise_slope = _value_and_slope(raw_noise, *spec.noise)
    constant = float(values[_CONSTANT].reshape(-1)[0]) if _CONSTANT in values else 0.0
    K, A = _kernel(spec.kind, D2, lengthscale, n)
    K[np.diag_indices(n)] += noise[0]
    try:
        L = cholesky(K, lower=True, check_finite=False)
    except (LinAlgError, ValueError):
        return None
    residual = y - constant
    alpha = cho_solve((L, True), residual, check_finite=False)
    W = cho_solve((L, True), np.eye(n), check_finite=False) - np.outer(alpha, alpha)
    log_p = -0.5 * residual @ alpha - np.log(np.diag(L)).sum() - 0.5 * n * math.log(2 * math.pi)
    d_ls = 0.5 * (D2.T @ (W * A).reshape(-1)) / lengthscale**3  # of -log p(y), per ℓ_j
    d_noise = 0.5 * np.trace(W) * np.ones(1)
    for prior, value, grad in (
        (spec.lengthscale_prior, lengthscale, d_ls),
        (spec.noise_prior, noise, d_noise),
    ):
        if prior is not None:
            log_prior, d_log_prior = prior(value)
            log_p += float(log_prior.sum())
            grad -= d_log_prior
    grads = {_LENGTHSCALE: d_ls * ls_slope / n, _NOISE: d_noise * noise_slope / n}
    if _CONSTANT in values:
        grads[_CONSTANT] = np.array([-alpha.sum() / n if mean_free else 0.0])
    return float(-log_p / n), grads
