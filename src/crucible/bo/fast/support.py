"""The one support check of the fast paths, and the fence around BoTorch's internals.

:func:`model_support` decides, once per model, which fast path reproduces BoTorch exactly
(every fast module asks it; none has its own check). :func:`verify_internals` checks that
the non-public BoTorch/GPyTorch functions the fast paths replace or call still have the
signatures they were written against; :func:`model_support` runs it once per process and raises
:class:`~crucible.exceptions.DependencyVersionError` when one changed, so an upgrade
cannot silently change proposals (``tests/unit/bo/test_bo_fast_internals.py`` also checks
their behaviour). ``docs/bo.md`` ("Upgrading BoTorch or GPyTorch") says what to run.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeGuard

import numpy as np

from crucible._imports import require
from crucible.exceptions import DependencyVersionError

if TYPE_CHECKING:
    from botorch.models import SingleTaskGP
    from gpytorch import Module as GPyTorchModule
    from gpytorch.kernels import Kernel

__all__ = [
    "CHECKED_VERSIONS",
    "INTERNALS",
    "Support",
    "constraint_transform",
    "internals_problems",
    "model_support",
    "verify_internals",
]

#: The ``major.minor`` releases the fast paths were checked against (bounded in pyproject).
CHECKED_VERSIONS: dict[str, str] = {"botorch": "0.18", "gpytorch": "1.15"}

#: Non-public functions the fast paths rely on: (module, attribute, parameter names).
INTERNALS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # replaced per acquisition by FastPosterior.mean_and_sigma (acquisition.accelerate)
    (
        "botorch.acquisition.analytic",
        "AnalyticAcquisitionFunction._mean_and_sigma",
        ("self", "X", "compute_sigma", "min_var"),
    ),
    # reproduced in NumPy by logei.log_ei_helper
    ("botorch.acquisition.analytic", "_log_ei_helper", ("u",)),
    # the batched L-BFGS-B driver of gen_candidates_scipy, called by lbfgsb.maximize
    (
        "botorch.optim.batched_lbfgs_b",
        "fmin_l_bfgs_b_batched",
        (
            "func",
            "x0",
            "bounds",
            "maxcor",
            "factr",
            "ftol",
            "pgtol",
            "tol",
            "maxiter",
            "disp",
            "callback",
            "maxls",
            "pass_batch_indices",
        ),
    ),
    # honours mll.compute_custom_loss (posterior.mll_loss is installed there)
    ("botorch.optim.closures", "get_loss_closure", ("mll", "data_loader")),
    # the fallback of mll.numpy_closure where the Cholesky factorisation fails
    (
        "botorch.optim.closures",
        "get_loss_closure_with_grads",
        ("mll", "parameters", "data_loader"),
    ),
    # mll.numpy_batched_optimizer: BoTorch's batched closure (its state layout, and the
    # fallback where the Cholesky factorisation fails) and per-output bounds
    (
        "botorch.optim.closures",
        "BatchedNDarrayOptimizationClosure.__init__",
        ("self", "forward", "parameters", "batch_shape"),
    ),
    (
        "botorch.optim.closures",
        "BatchedNDarrayOptimizationClosure.__call__",
        ("self", "state", "batch_indices", "kwargs"),
    ),
    (
        "botorch.optim.utils.numpy_utils",
        "get_per_element_bounds",
        ("parameters", "bounds", "batch_shape"),
    ),
    # the parameter order of mll.numpy_closure's gradients
    (
        "botorch.optim.utils",
        "get_parameters_and_bounds",
        ("module", "requires_grad", "name_filter", "default_bounds"),
    ),
    # (name, module, prior, closure, setting_closure) tuples read by both MLL losses
    ("gpytorch.module", "Module.named_priors", ("self",)),
)


@dataclass(frozen=True)
class Support:
    """Which fast paths reproduce BoTorch exactly for one model.

    Attributes:
        posterior: :class:`~crucible.bo.fast.posterior.FastPosterior` (mean and variance
            of an eval-mode model) is exact.
        loss: :func:`~crucible.bo.fast.posterior.mll_loss` (torch negative MLL) is exact.
        numpy_kernel: The ARD kernel of each output that the NumPy paths implement
            (``matern52`` or ``rbf``, optionally under a ``ScaleKernel``; one output or a
            batch of independent outputs); ``None`` else.
        scaled: ``numpy_kernel`` sits under a ``ScaleKernel``.
        numpy_loss: :func:`~crucible.bo.fast.mll.numpy_closure` or, for several outputs,
            :func:`~crucible.bo.fast.mll.numpy_batched_optimizer` (NumPy negative MLL and
            gradient) is exact.
    """

    posterior: bool = False
    loss: bool = False
    numpy_kernel: Literal["matern52", "rbf"] | None = None
    scaled: bool = False
    numpy_loss: bool = False


_UNSUPPORTED = Support()
_LENGTHSCALE_PRIOR = "covar_module.lengthscale_prior"
_NOISE_PRIOR = "likelihood.noise_covar.noise_prior"


def model_support(model: object) -> Support:
    """What the fast paths can do for ``model`` (all ``False`` for anything unsupported).

    Supported (else every field is false and callers keep BoTorch's path): a
    ``SingleTaskGP`` (or subclass, e.g. ``MixedSingleTaskGP``) in float64 with a
    homoskedastic Gaussian likelihood, a constant (or zero) mean, no input transform, a
    ``Standardize`` (or no) outcome transform, independent outputs as a model batch,
    kernels built from RBF, Matern (ν = ½, 3/2, 5/2), BoTorch's categorical kernel,
    ``ScaleKernel``, sums and products. The NumPy paths need an ARD RBF or Matern-5/2
    kernel without ``active_dims``; the NumPy loss also an exact ``SingleTaskGP`` (one
    output, or a batch of independent outputs) without ``ScaleKernel``, ``GreaterThan``
    constraints (untransformed or softplus) on lengthscale and noise, and LogNormal or
    Gamma priors on them only.

    Raises:
        DependencyVersionError: If a BoTorch/GPyTorch internal changed (see
            :func:`verify_internals`).
    """
    verify_internals()
    if not _exact_gp(model):
        return _UNSUPPORTED
    gp: GPyTorchModule = model  # GPyTorch's API (untyped)
    loss = not any(True for _ in gp.added_loss_terms())
    kernel, scaled = _numpy_kernel(model)
    numpy_loss = bool(
        loss
        and kernel is not None
        and not scaled
        and type(model) is require("botorch.models").SingleTaskGP
        and _numpy_constraints_and_priors(model)
    )
    return Support(True, loss, kernel, scaled, numpy_loss)


def _exact_gp(model: object) -> TypeGuard[SingleTaskGP]:
    """Whether ``model`` is an exact GP whose predictions the torch fast path reproduces."""
    models = require("botorch.models")
    gpytorch = require("gpytorch")
    transforms = require("botorch.models.transforms.outcome")
    if not isinstance(model, models.SingleTaskGP):
        return False
    if getattr(model, "input_transform", None) is not None:
        return False
    transform = getattr(model, "outcome_transform", None)
    if transform is not None and type(transform) is not transforms.Standardize:
        return False
    if type(model.likelihood) is not gpytorch.likelihoods.GaussianLikelihood:
        return False
    if type(model.mean_module) not in (gpytorch.means.ConstantMean, gpytorch.means.ZeroMean):
        return False
    if not _kernel_supported(model.covar_module):
        return False
    train_X = model.train_inputs[0]
    expected = 2 if model.num_outputs == 1 else 3
    return bool(train_X.dim() == expected and train_X.dtype == require("torch").float64)


def _kernel_supported(kernel: Kernel) -> bool:
    kernels = require("gpytorch").kernels
    categorical = require("botorch.models.kernels.categorical")
    if type(kernel) is kernels.ScaleKernel:
        return _kernel_supported(kernel.base_kernel)
    if type(kernel) in (kernels.AdditiveKernel, kernels.ProductKernel):
        return all(_kernel_supported(k) for k in kernel.kernels)
    if type(kernel) is kernels.MaternKernel:
        return kernel.nu in (0.5, 1.5, 2.5)
    return type(kernel) in (kernels.RBFKernel, categorical.CategoricalKernel)


def _numpy_kernel(model: SingleTaskGP) -> tuple[Literal["matern52", "rbf"] | None, bool]:
    """The ARD kernel of each output of an exact GP that the NumPy paths implement."""
    kernels = require("gpytorch").kernels
    kernel = model.covar_module
    scaled = type(kernel) is kernels.ScaleKernel
    if scaled:
        if kernel.active_dims is not None:
            return None, False
        kernel = kernel.base_kernel
    if type(kernel) is kernels.MaternKernel and kernel.nu == 2.5:
        kind: Literal["matern52", "rbf"] = "matern52"
    elif type(kernel) is kernels.RBFKernel:
        kind = "rbf"
    else:
        return None, False
    n_lengthscales = kernel.lengthscale.shape[-1]  # per output of a batched model
    if kernel.active_dims is not None or n_lengthscales != model.train_inputs[0].shape[-1]:
        return None, False
    return kind, scaled


def _numpy_constraints_and_priors(model: SingleTaskGP) -> bool:
    """Constraints and priors that the NumPy loss implements (module docstring of ``mll``)."""
    gpytorch = require("gpytorch")
    kernel = model.covar_module
    noise_constraint = model.likelihood.noise_covar.raw_noise_constraint
    if constraint_transform(kernel.raw_lengthscale_constraint) is None:
        return False
    if constraint_transform(noise_constraint) is None:
        return False
    gp: GPyTorchModule = model  # GPyTorch's API (untyped)
    priors = {name: prior for name, _, prior, _, _ in gp.named_priors()}
    if not set(priors) <= {_LENGTHSCALE_PRIOR, _NOISE_PRIOR}:
        return False
    known = (gpytorch.priors.LogNormalPrior, gpytorch.priors.GammaPrior)
    return all(type(prior) in known for prior in priors.values())


def constraint_transform(constraint: object) -> Literal["identity", "softplus"] | None:
    """``identity`` or ``softplus`` for a ``GreaterThan`` constraint, else ``None``.

    Reads GPyTorch's private ``_transform`` (``None`` when built with
    ``transform=None``, as BoTorch builds them; a ``Softplus`` by default).
    """
    gpytorch = require("gpytorch")
    torch = require("torch")
    if type(constraint) is not gpytorch.constraints.GreaterThan:
        return None
    transform = getattr(constraint, "_transform", None)
    if transform is None:
        return "identity"  # raw value = value; BoTorch's L-BFGS-B bounds enforce the bound
    if isinstance(transform, torch.nn.Softplus) and transform.beta == 1.0:
        return "softplus"
    return None


def internals_problems() -> list[str]:
    """What changed in the BoTorch/GPyTorch internals of :data:`INTERNALS` (empty: nothing)."""
    problems = []
    for module_name, attribute, expected in INTERNALS:
        target: object = importlib.import_module(module_name)
        try:
            for part in attribute.split("."):
                target = getattr(target, part)
        except AttributeError:
            problems.append(f"{module_name}.{attribute} no longer exists")
            continue
        found = tuple(inspect.signature(target).parameters) if callable(target) else ()
        if found != expected:
            problems.append(
                f"{module_name}.{attribute} takes {found}; the fast paths expect {expected}"
            )
    gpytorch = require("gpytorch")
    if not hasattr(gpytorch.constraints.GreaterThan(0.0, transform=None), "_transform"):
        problems.append("gpytorch.constraints.GreaterThan has no _transform attribute")
    return problems


@functools.cache
def verify_internals() -> None:
    """Raise if the BoTorch/GPyTorch internals the fast paths use changed (once a process).

    Raises:
        DependencyVersionError: Naming each changed function, and the fix.
    """
    problems = internals_problems()
    if problems:
        versions = ", ".join(f"{name}<{_next_minor(v)}" for name, v in CHECKED_VERSIONS.items())
        raise DependencyVersionError(
            "the BoTorch/GPyTorch internals that crucible.bo.fast relies on changed: "
            + "; ".join(problems)
            + f". Install {versions} (checked releases), or set Strategy(fast_posterior=False)"
            " to use BoTorch's own path; to upgrade, follow docs/bo.md"
            " ('Upgrading BoTorch or GPyTorch')"
        )


def _next_minor(version: str) -> str:
    major, minor = version.split(".")[:2]
    return f"{major}.{int(minor) + 1}"


_SQRT5 = math.sqrt(5.0)


def stationary_kernel(r2: np.ndarray, matern: bool) -> tuple[np.ndarray, np.ndarray]:
    """Unit-scale RBF or Matern-5/2 values at squared scaled distances ``r2``, and ``a``.

    ``a = -2 ∂k/∂(r²)``: ``k`` itself for the RBF, ``(5/3)(1 + √5 r) e^(-√5 r)`` for
    Matern-5/2; the NumPy posterior's input gradients and the NumPy MLL's lengthscale
    gradients both follow from it.
    """
    if not matern:
        k = np.exp(-0.5 * r2)
        return k, k
    r = np.sqrt(r2)
    e = np.exp(-_SQRT5 * r)
    return (1.0 + _SQRT5 * r + 5.0 / 3.0 * r2) * e, 5.0 / 3.0 * (1.0 + _SQRT5 * r) * e
