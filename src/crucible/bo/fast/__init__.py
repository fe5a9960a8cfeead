"""Exact fast paths for BoTorch's GP prediction, acquisition and fit (fenced).

BoTorch evaluates GPs through GPyTorch's lazy tensors and autograd; for the small training
sets of a BO campaign that per-call machinery dominates a suggestion's CPU time. This
package re-implements only the GP algebra, exactly, and lets BoTorch's own acquisition
formulas, optimisers and fitting routines run unchanged:

* :mod:`~crucible.bo.fast.posterior`: :class:`FastPosterior` (mean and variance from a
  cached Cholesky factor, torch) and :func:`mll_loss` (the negative marginal log
  likelihood, torch; multi-output and mixed models too);
* :mod:`~crucible.bo.fast.logei`: :class:`NumpyLogEI`, analytic LogEI and its input
  gradient in NumPy, driven by :func:`~crucible.bo.fast.lbfgsb.maximize_batched`
  (BoTorch's batched L-BFGS-B);
* :mod:`~crucible.bo.fast.ehvi`: :class:`NumpyLogEHVI`, Monte-Carlo LogEHVI of one
  candidate over a fixed box decomposition (several objectives) and its input gradient,
  in NumPy; :mod:`~crucible.bo.fast.numpy_gp`: :class:`NumpyGP`, the posterior moments
  and their input gradients both NumPy acquisitions use;
* :mod:`~crucible.bo.fast.mll`: :func:`numpy_closure`, the negative MLL and its
  closed-form gradient in NumPy, handed to ``fit_gpytorch_mll`` as its closure (one
  output), and :func:`numpy_batched_optimizer`, BoTorch's independent per-output fit of a
  batched multi-output GP on the same NumPy losses;
* :mod:`~crucible.bo.fast.acquisition`: :func:`accelerate` swaps them into an analytic
  acquisition.

The fence (:mod:`~crucible.bo.fast.support`): one support check, :func:`model_support`, decides
which path is exact for a model (anything else keeps BoTorch's path); the BoTorch and
GPyTorch internals used are listed in :data:`~crucible.bo.fast.support.INTERNALS` and
checked once per process (:func:`verify_internals` raises
:class:`~crucible.exceptions.DependencyVersionError` naming what changed, never a silent
fallback); ``pyproject.toml`` bounds botorch and gpytorch below their next minor release;
``tests/unit/bo/test_bo_fast_internals.py`` checks the internals' behaviour.
``docs/bo.md`` says how to upgrade. Importing this package loads neither torch nor BoTorch.
"""

from crucible.bo.fast.acquisition import accelerate, numpy_acquisition_of
from crucible.bo.fast.ehvi import (
    NumpyLogEHVI,
    attach_numpy_logehvi,
    numpy_logehvi,
    numpy_logehvi_of,
)
from crucible.bo.fast.lbfgsb import maximize_batched
from crucible.bo.fast.logei import NumpyLogEI, numpy_logei, numpy_logei_of
from crucible.bo.fast.mll import numpy_batched_optimizer, numpy_closure
from crucible.bo.fast.numpy_gp import NumpyGP
from crucible.bo.fast.posterior import FastPosterior, fast_posterior_of, mll_loss
from crucible.bo.fast.support import Support, model_support, verify_internals

__all__ = [
    "FastPosterior",
    "NumpyGP",
    "NumpyLogEHVI",
    "NumpyLogEI",
    "Support",
    "accelerate",
    "attach_numpy_logehvi",
    "fast_posterior_of",
    "maximize_batched",
    "mll_loss",
    "model_support",
    "numpy_acquisition_of",
    "numpy_batched_optimizer",
    "numpy_closure",
    "numpy_logehvi",
    "numpy_logehvi_of",
    "numpy_logei",
    "numpy_logei_of",
    "verify_internals",
]
