"""Shared check: a NumPy acquisition agrees with the BoTorch one it replaces."""

from collections.abc import Callable
from typing import Any

import numpy as np
import torch


def assert_value_and_gradient_match(
    acqf: Callable[[torch.Tensor], torch.Tensor], fast: Any, X: torch.Tensor
) -> np.ndarray:
    """Assert ``fast`` gives ``acqf``'s values (1e-9) and gradients (1e-7) at ``X``.

    Args:
        acqf: The BoTorch acquisition (q=1), evaluated with autograd.
        fast: Its NumPy counterpart: ``fast(x) -> (values, gradients)`` on ``n x d`` points.
        X: ``n x 1 x d`` points with ``requires_grad``.

    Returns:
        The NumPy values, for further checks.
    """
    value = acqf(X)
    (grad,) = torch.autograd.grad(value.sum(), X)
    ours, our_grad = fast(X.detach().numpy()[:, 0, :])
    scale = np.abs(value.detach().numpy()).max()
    np.testing.assert_allclose(ours, value.detach().numpy(), rtol=1e-9, atol=1e-9 * scale)
    g = grad.numpy()[:, 0, :]
    np.testing.assert_allclose(our_grad, g, rtol=1e-7, atol=1e-9 * np.abs(g).max())
    return ours
