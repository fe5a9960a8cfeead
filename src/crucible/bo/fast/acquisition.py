"""Swap the fast paths into a BoTorch analytic acquisition function."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from crucible.bo.fast.ehvi import numpy_logehvi_of
from crucible.bo.fast.lbfgsb import NumpyAcquisition
from crucible.bo.fast.logei import numpy_logei, numpy_logei_of
from crucible.bo.fast.posterior import FastPosterior

if TYPE_CHECKING:
    from botorch.acquisition import AcquisitionFunction

__all__ = ["accelerate", "numpy_acquisition_of"]

_A = TypeVar("_A", bound="AcquisitionFunction")


def accelerate(acqf: _A, fast: FastPosterior | None = None) -> _A:
    """Make a BoTorch analytic acquisition use :class:`FastPosterior` (when exact).

    Replaces the acquisition's ``_mean_and_sigma`` (a BoTorch internal, fenced by
    :func:`crucible.bo.fast.support.verify_internals`) and attaches ``fast_posterior``
    and ``numpy_logei`` (a :class:`~crucible.bo.fast.logei.NumpyLogEI` or None).

    Args:
        acqf: The analytic acquisition.
        fast: The posterior to evaluate it with (e.g. a
            :meth:`~FastPosterior.condition_on_mean` fantasy of the acquisition's model);
            by default that of ``acqf.model``.

    Returns:
        The same acquisition object; unchanged when the model is not supported or the
        acquisition has a posterior transform.
    """
    if getattr(acqf, "posterior_transform", None) is not None:
        return acqf
    if fast is None:
        fast = FastPosterior.from_model(getattr(acqf, "model", None))
    if fast is not None:
        # BoTorch's _mean_and_sigma moves the acquisition's buffers (best_f, beta, ...;
        # float32 when built from Python floats) to the inputs' dtype on every call: once
        # here instead.
        acqf.to(dtype=fast.L.dtype)
        # plain instance attributes (what nn.Module.__setattr__ does for these values;
        # torch types module attributes as Tensor | Module, hence object.__setattr__)
        object.__setattr__(acqf, "_mean_and_sigma", fast.mean_and_sigma)
        object.__setattr__(acqf, "fast_posterior", fast)
        # None unless LogEI on a supported GP
        object.__setattr__(acqf, "numpy_logei", numpy_logei(acqf))
    return acqf


def numpy_acquisition_of(acqf: object) -> NumpyAcquisition | None:
    """The NumPy evaluator attached to ``acqf`` (LogEI or LogEHVI), or None.

    :func:`accelerate` attaches a :class:`~crucible.bo.fast.logei.NumpyLogEI`,
    :func:`~crucible.bo.fast.ehvi.attach_numpy_logehvi` a
    :class:`~crucible.bo.fast.ehvi.NumpyLogEHVI`; the optimiser evaluates and maximises
    either without torch.
    """
    return numpy_logei_of(acqf) or numpy_logehvi_of(acqf)
