"""Monte-Carlo LogEHVI of one candidate and its input gradient in NumPy.

Several objectives: BoTorch's ``qLogNoisyExpectedHypervolumeImprovement`` draws joint
posterior samples of the candidate and every observed point through GPyTorch at each call
and re-partitions the dominated space per sample; that machinery, not the arithmetic,
is most of a suggestion's CPU time. Where the outputs are independent GPs with negligible
noise (noiseless experiments), the observed Pareto front is the front, and the expected
hypervolume improvement of one candidate over a fixed box decomposition of the
non-dominated space is what Optuna's ``GPSampler`` and BoTorch's
``qLogExpectedHypervolumeImprovement`` compute. :class:`NumpyLogEHVI` evaluates the
latter, for ``q = 1`` and BoTorch's fat smoothing, with its gradient in closed form:

* samples ``y_sj = mean_j(x) + sd_j(x) z_sj`` from fixed quasi-MC normal draws ``z``
  (the BoTorch sampler's base samples), for the ``m`` objectives and ``c`` constraint
  slacks (independent outputs: for one candidate the posterior covariance is diagonal);
* per sample ``s``, cell ``k`` (lower ``l``, upper ``u``) and objective ``j``, the log side
  length ``fatmin(log fatplus(y_sj - l_kj, τ_relu), log(u_kj - l_kj), τ_max)`` (BoTorch's
  ``_log_improvement`` and ``_log_cell_lengths``), summed over ``j`` to a log volume,
  plus ``Σ log fatmoid(-slack / η)`` over the constraints (BoTorch's smoothed
  feasibility indicator);
* ``LogEHVI = logsumexp over (s, k) - log S``; its gradient weights each (sample, cell) by
  its share of the sum and chains through ``dy/dx = dmean/dx + z dsd/dx``
  (:class:`~crucible.bo.fast.numpy_gp.NumpyGP`).

:func:`numpy_logehvi` builds it from a BoTorch ``qLogExpectedHypervolumeImprovement`` whose
model, sampler, cells, objective and constraints it reads and checks (anything else:
``None``, and the optimiser keeps BoTorch's path). Unit tests compare values (to 1e-9)
and gradients (to 1e-7 relative) with BoTorch's forward and autograd.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from crucible._imports import require
from crucible.bo.fast.numpy_gp import NumpyGP
from crucible.bo.fast.posterior import FastPosterior

if TYPE_CHECKING:
    from botorch.acquisition import AcquisitionFunction
    from torch import Tensor

__all__ = ["NumpyLogEHVI", "attach_numpy_logehvi", "numpy_logehvi", "numpy_logehvi_of"]

#: Elements (samples x candidates x cells x objectives) per evaluated chunk (256 kB arrays).
_CHUNK_ELEMENTS = 32_768
#: BoTorch's cap on infinite cell upper bounds in float64 (``_log_cell_lengths``).
_UPPER_CAP = 1e10
_FATPLUS_ALPHA = 0.1  # BoTorch's fatplus: softplus + 0.1 * Cauchy
_SOFTPLUS_THRESHOLD = 20.0  # torch's softplus returns x above it
_BAND = 40.0  # below -40, softplus(t) = e^t (< 4e-18) is negligible next to 1 and t
_FATMOID_SHIFT = 1.0 / math.sqrt(3.0)


def _log_fatplus(t: np.ndarray, tau: float, grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """``log fatplus(z, tau)`` (BoTorch's ``log_fatplus``) of ``t = z / tau``; the derivative.

    ``fatplus = τ (softplus(t) + 0.1 / (1 + t²))``, with torch's softplus (``t`` itself
    above 20) and its gradient (1 above 20). Outside ``-40 <= t <= 20`` softplus is
    ``max(t, 0)`` and its slope ``t > 0`` to within 4e-18 (``e^-40``); only the elements
    inside (improvements within ``40 τ`` of a cell's corner) need the exponentials.
    The derivative (with respect to ``z``) only when ``grad``.
    """
    special = require("scipy.special")
    cauchy = t * t
    cauchy += 1.0
    np.reciprocal(cauchy, out=cauchy)
    value = np.maximum(t, 0.0)  # softplus(t) outside the band
    band = np.flatnonzero((t >= -_BAND) & (t <= _SOFTPLUS_THRESHOLD))
    tb = t.reshape(-1)[band]
    value.reshape(-1)[band] = np.log1p(np.exp(tb))
    value += _FATPLUS_ALPHA * cauchy  # fatplus / τ
    log_value = np.log(value)
    log_value += math.log(tau)
    if not grad:
        return log_value, None
    slope = (t > 0).astype(float)
    slope.reshape(-1)[band] = special.expit(tb)
    cauchy *= cauchy
    cauchy *= t
    slope -= 2.0 * _FATPLUS_ALPHA * cauchy
    value *= tau
    slope /= value
    return log_value, slope


def _fatmin(
    a: np.ndarray, b: np.ndarray, tau: float, grad: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """BoTorch's ``fatmin`` of the pair ``(a, b)``; its derivative in ``a`` when ``grad``.

    ``fatmin = min(a, b) - τ log(1 + p(|a - b| / τ))`` with ``p(t) = 2 / (2 + 2t + t²)``
    (``_pareto`` with α = 2); ``p'(t) = -p² (1 + t)``.
    """
    t = a - b
    np.abs(t, out=t)
    t *= 1.0 / tau
    p = t + 2.0
    p *= t
    p += 2.0
    np.divide(2.0, p, out=p)
    value = np.minimum(a, b)
    value -= tau * np.log1p(p)
    if not grad:
        return value, None
    t += 1.0
    t *= p
    t *= p
    t /= 1.0 + p  # -d log(1 + p) / dt
    return value, np.where(a < b, 1.0 - t, t)


def _log_fatmoid(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BoTorch's ``log_fatmoid(x)`` (``tau = 1``) and its derivative."""
    below = x < 0
    u = np.where(below, x - _FATMOID_SHIFT, x + _FATMOID_SHIFT)
    cauchy = 1.0 / (1.0 + u * u)
    value = np.where(below, 2.0 / 3.0 * cauchy, 1.0 - 2.0 / 3.0 * cauchy)
    d_cauchy = -2.0 * u * cauchy * cauchy
    slope = np.where(below, 2.0 / 3.0 * d_cauchy, -2.0 / 3.0 * d_cauchy)
    return np.log(value), slope / value


class NumpyLogEHVI:
    """q=1 LogEHVI over fixed cells and its input gradient (see the module docstring).

    Args:
        gp: Posterior of the ``m + c`` outputs (objectives first, then constraint slacks).
        base_samples: Standard-normal draws, ``S x (m + c)``.
        cell_lower: Lower corners of the non-dominated cells, ``K x m`` (maximisation).
        cell_upper: Their upper corners, ``K x m`` (may be infinite).
        n_objectives: ``m``.
        eta: Temperature of the constraints' fatmoid.
        tau_relu: Temperature of the fat ReLU of the improvement.
        tau_max: Temperature of the fat minimum with the cell's side.
    """

    def __init__(
        self,
        gp: NumpyGP,
        base_samples: np.ndarray,
        cell_lower: np.ndarray,
        cell_upper: np.ndarray,
        n_objectives: int,
        eta: float,
        tau_relu: float,
        tau_max: float,
    ) -> None:
        self.gp = gp
        self.z = np.asarray(base_samples, dtype=float)
        self.lower = np.asarray(cell_lower, dtype=float)
        upper = np.minimum(np.asarray(cell_upper, dtype=float), _UPPER_CAP)
        self.log_width = np.log(upper - self.lower)
        self.m = n_objectives
        self.eta, self.tau_relu, self.tau_max = eta, tau_relu, tau_max

    def __call__(self, x: np.ndarray, grad: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """LogEHVI at ``x`` (``b x d``) and, when ``grad``, its gradient (``b x d``)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        per_point = len(self.z) * len(self.lower) * self.m
        step = max(1, _CHUNK_ELEMENTS // max(per_point, 1))
        parts = [self._chunk(x[i : i + step], grad) for i in range(0, len(x), step)]
        values = np.concatenate([v for v, _ in parts])
        if not grad:
            return values, None
        return values, np.concatenate([g for _, g in parts if g is not None])

    def _chunk(self, x: np.ndarray, grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
        moments = self.gp(x, grad=grad)
        sd = np.sqrt(moments.var)  # b x M
        samples = moments.mean[None] + sd[None] * self.z[:, None, :]  # S x b x M
        scaled = samples[:, :, None, : self.m] - self.lower  # S x b x K x m
        scaled *= 1.0 / self.tau_relu
        log_relu, d_relu = _log_fatplus(scaled, self.tau_relu, grad)
        log_side, d_side = _fatmin(log_relu, self.log_width, self.tau_max, grad)
        log_volume = log_side.sum(-1)  # S x b x K
        if samples.shape[-1] > self.m:
            log_feasible, d_feasible = _log_fatmoid(-samples[..., self.m :] / self.eta)
            log_volume = log_volume + log_feasible.sum(-1)[..., None]
        top = log_volume.max(axis=(0, 2))  # b
        share = np.exp(log_volume - top[None, :, None])  # S x b x K
        total = share.sum(axis=(0, 2))
        values = top + np.log(total) - math.log(len(self.z))
        if d_relu is None or d_side is None or moments.dmean is None or moments.dvar is None:
            return values, None
        share /= total[None, :, None]
        d_samples = np.empty_like(samples)  # d value / d sample, S x b x M
        d_samples[..., : self.m] = np.einsum("sbk,sbkj->sbj", share, d_side * d_relu)
        if samples.shape[-1] > self.m:
            d_samples[..., self.m :] = share.sum(-1)[..., None] * d_feasible * (-1.0 / self.eta)
        d_mean = d_samples.sum(0)  # b x M
        d_sd = np.einsum("sbj,sj->bj", d_samples, self.z)
        dsd = moments.dvar / (2.0 * sd[..., None])  # b x M x d
        gradient = np.einsum("bj,bjd->bd", d_mean, moments.dmean)
        gradient += np.einsum("bj,bjd->bd", d_sd, dsd)
        return values, gradient


def numpy_logehvi(
    acqf: AcquisitionFunction, fast: FastPosterior | None = None
) -> NumpyLogEHVI | None:
    """A :class:`NumpyLogEHVI` equal to BoTorch's ``qLogExpectedHypervolumeImprovement``.

    Exact for ``q = 1`` when the model is a (batched) ``SingleTaskGP`` that
    :func:`~crucible.bo.fast.support.model_support` gives a ``numpy_kernel``, the sampler
    is a ``SobolQMCNormalSampler``, there are no pending points and no fully Bayesian
    batch, the MC objective keeps the first ``m`` outputs (identity or
    ``IdentityMCMultiOutputObjective``) and each constraint is one later output
    (``Z[..., m + j]``, as :class:`~crucible.bo.acquisition.AcquisitionContext` builds
    them); both are checked on a probe. Anything else: ``None``. ``fast``: the model's
    :class:`~crucible.bo.fast.posterior.FastPosterior` if already built.
    """
    torch = require("torch")
    mo = require("botorch.acquisition.multi_objective.logei")
    sampling = require("botorch.sampling")
    sampling_utils = require("botorch.utils.sampling")
    if type(acqf) is not mo.qLogExpectedHypervolumeImprovement or acqf.X_pending is not None:
        return None
    if type(acqf.sampler) is not sampling.SobolQMCNormalSampler or not acqf.fat:
        return None
    fast = fast or FastPosterior.from_model(acqf.model)
    gp = None if fast is None else NumpyGP.from_posterior(fast, acqf.model)
    if gp is None or acqf.cell_lower_bounds.dim() != 2:
        return None
    M, m = gp.n_outputs, int(acqf.cell_lower_bounds.shape[-1])
    if not _selects_outputs(acqf, M, m):
        return None
    sampler = acqf.sampler
    if len(sampler.sample_shape) != 1:
        return None
    # the sampler's base samples for one candidate of M outputs (what its
    # _construct_base_samples draws; GPyTorch's first posterior call would cost more
    # than the whole NumPy setup)
    z = sampling_utils.draw_sobol_normal_samples(
        d=M, n=sampler.sample_shape.numel(), dtype=torch.float64, seed=sampler.seed
    )
    eta = getattr(acqf, "eta", None)  # a buffer only with constraints
    eta = np.ones(1) if eta is None else eta.reshape(-1).double().numpy()
    if len(np.unique(eta)) != 1:
        return None
    return NumpyLogEHVI(
        gp,
        z.numpy(),
        acqf.cell_lower_bounds.numpy(),
        acqf.cell_upper_bounds.numpy(),
        m,
        float(eta[0]),
        float(acqf.tau_relu),
        float(acqf.tau_max),
    )


def _selects_outputs(acqf: AcquisitionFunction, n_outputs: int, m: int) -> bool:
    """Whether the objective keeps outputs ``0..m-1`` and constraint ``j`` is output ``m + j``."""
    torch = require("torch")
    probe = torch.arange(n_outputs, dtype=torch.float64).reshape(1, 1, 1, n_outputs)
    objective: Callable[[Tensor], Tensor] = getattr(acqf, "objective")  # noqa: B009
    constraints: list[Callable[[Tensor], Tensor]] = getattr(acqf, "constraints", None) or []
    selected = objective(probe).reshape(-1).tolist()
    slack_outputs = [float(c(probe).reshape(-1)[0]) for c in constraints]
    return selected == list(range(m)) and slack_outputs == list(range(m, n_outputs))


def attach_numpy_logehvi(
    acqf: AcquisitionFunction, fast: FastPosterior | None = None
) -> AcquisitionFunction:
    """Attach :func:`numpy_logehvi`'s evaluator to ``acqf`` as ``numpy_logehvi`` (or None)."""
    object.__setattr__(acqf, "numpy_logehvi", numpy_logehvi(acqf, fast))
    return acqf


def numpy_logehvi_of(acqf: object) -> NumpyLogEHVI | None:
    """The :class:`NumpyLogEHVI` that :func:`attach_numpy_logehvi` attached, or None."""
    evaluator = getattr(acqf, "numpy_logehvi", None)
    return evaluator if isinstance(evaluator, NumpyLogEHVI) else None
