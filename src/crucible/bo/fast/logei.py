"""Analytic LogEI and its input gradient in NumPy, for the acquisition optimiser.

The acquisition optimiser calls LogEI and its gradient about 40 times per suggestion on a
batch of 4 starts; through torch (even with
:class:`~crucible.bo.fast.posterior.FastPosterior`) each call pays op dispatch and
autograd bookkeeping for tiny tensors. :class:`NumpyLogEI` evaluates the same quantities
with a handful of NumPy/SciPy calls and the gradient in closed form:

* posterior of the standardised latent ``f`` at ``x`` (``b x d``): ``k = k(x, X)``,
  ``μ = c + k α``, ``σ² = s - kᵀ K⁻¹ k`` (``s`` the output scale), then the
  ``Standardize`` transform undone: ``mean = μ·σ_y + μ_y``, ``var = σ²·σ_y²`` clamped at
  1e-10 (GPyTorch; BoTorch's later 1e-12 clamp then never binds), ``sigma = sqrt(var)``;
* ``u = (mean - best_f) / sigma`` and BoTorch's ``_log_ei_helper(u) + log(sigma)``: the
  naive ``log(φ(u) + uΦ(u))`` for ``u > -1``, ``log φ(u) + log1mexp(log(|u| erfcx(-u/√2)
  √(π/2))`` below, ``log φ(u) - 2 log|u|`` below -1e6;
* gradient: ``d/du log EI = Φ(u) / EI(u)``, ``dμ/dx = Σᵢ αᵢ ∂kᵢ/∂x``,
  ``dσ²/dx = -2 Σᵢ (K⁻¹k)ᵢ ∂kᵢ/∂x``, with ``∂k/∂x = -(5/3)(1 + √5 r) e^(-√5 r) (x - Xᵢ)/ℓ²``
  (Matern-5/2) or ``-k (x - Xᵢ)/ℓ²`` (RBF), ``r = |(x - Xᵢ)/ℓ|``.

Only BoTorch's analytic ``LogExpectedImprovement`` (``maximize=True``) on a model whose
:func:`~crucible.bo.fast.support.model_support` has a ``numpy_kernel`` gets this path;
:func:`numpy_logei` returns ``None`` for anything else and the optimiser keeps BoTorch's.
Unit tests compare values (to 1e-9) and gradients (to 1e-7 relative) with BoTorch's autograd.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from crucible._imports import require
from crucible.bo.fast.numpy_gp import NumpyGP
from crucible.bo.fast.posterior import fast_posterior_of

if TYPE_CHECKING:
    from botorch.acquisition import AcquisitionFunction

__all__ = ["NumpyLogEI", "log_ei_helper", "numpy_logei", "numpy_logei_of"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_SQRT_PI_DIV_2 = 0.5 * math.log(math.pi / 2)
_NEG_INV_SQRT_EPS = -1e6  # float64, as BoTorch's _log_ei_helper


def log_ei_helper(u: np.ndarray) -> np.ndarray:
    """``log(φ(u) + u Φ(u))`` with BoTorch's branches (``_log_ei_helper``), float64."""
    special = require("scipy.special")
    out = np.empty_like(u)
    upper = u > -1
    uu = u[upper]
    out[upper] = np.log(np.exp(-0.5 * uu**2 - _LOG_SQRT_2PI) + uu * special.ndtr(uu))
    lower = ~upper
    ul = u[lower]
    log_phi = -0.5 * ul**2 - _LOG_SQRT_2PI
    u_eps = np.maximum(ul, _NEG_INV_SQRT_EPS)
    w = np.log(special.erfcx(-u_eps / math.sqrt(2)) * np.abs(u_eps)) + _LOG_SQRT_PI_DIV_2
    log1mexp = np.where(w > -math.log(2), np.log(-np.expm1(w)), np.log1p(-np.exp(w)))
    out[lower] = log_phi + np.where(ul > _NEG_INV_SQRT_EPS, log1mexp, -2 * np.log(np.abs(ul)))
    return out


class NumpyLogEI:
    """LogEI value and input gradient of a fitted single-output GP (see module docstring).

    Args:
        gp: The model's posterior in NumPy (one output).
        best_f: The incumbent (maximisation, original outcome units).
    """

    def __init__(self, gp: NumpyGP, best_f: float) -> None:
        self.gp = gp
        self.best_f = float(best_f)

    @property
    def outputscale(self) -> float:
        """The kernel's output scale (1 without a ``ScaleKernel``)."""
        return float(self.gp.outputscale[0])

    def __call__(self, x: np.ndarray, grad: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """LogEI at ``x`` (``b x d``) and, when ``grad``, its gradient (``b x d``)."""
        special = require("scipy.special")
        moments = self.gp(x, grad=grad)
        mean, var = moments.mean[:, 0], moments.var[:, 0]
        sigma = np.sqrt(var)
        u = (mean - self.best_f) / sigma
        h = log_ei_helper(u)
        value = h + np.log(sigma)
        if moments.dmean is None or moments.dvar is None:
            return value, None
        dmean, dvar = moments.dmean[:, 0], moments.dvar[:, 0]
        dsigma = dvar / (2.0 * sigma[:, None])
        dh_du = np.exp(special.log_ndtr(u) - h)
        du = (dmean - u[:, None] * dsigma) / sigma[:, None]
        return value, dh_du[:, None] * du + dsigma / sigma[:, None]


def numpy_logei(acqf: AcquisitionFunction) -> NumpyLogEI | None:
    """A :class:`NumpyLogEI` for BoTorch's analytic ``acqf``, or ``None`` if not exact.

    ``acqf`` must already carry its ``fast_posterior``
    (:func:`~crucible.bo.fast.acquisition.accelerate` sets it).
    """
    LogExpectedImprovement = require("botorch.acquisition.analytic").LogExpectedImprovement
    fast = fast_posterior_of(acqf)
    if type(acqf) is not LogExpectedImprovement or fast is None or not acqf.maximize:
        return None
    if fast.n_outputs != 1:
        return None
    gp = NumpyGP.from_posterior(fast, acqf.model)
    if gp is None:
        return None
    return NumpyLogEI(gp, float(acqf.get_buffer("best_f").reshape(-1)[0]))


def numpy_logei_of(acqf: object) -> NumpyLogEI | None:
    """The :class:`NumpyLogEI` that :func:`~crucible.bo.fast.acquisition.accelerate` attached."""
    evaluator = getattr(acqf, "numpy_logei", None)
    return evaluator if isinstance(evaluator, NumpyLogEI) else None
