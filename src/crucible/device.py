"""Torch device selection: ``auto`` means CUDA when present, else CPU."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from crucible._imports import require

if TYPE_CHECKING:
    import torch

DeviceName = Literal["auto", "cpu", "cuda"] | str


def resolve_device(name: DeviceName = "auto") -> torch.device:
    """Turn a device name into a ``torch.device``.

    Args:
        name: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or an
            explicit ``"cuda:N"``.

    Returns:
        The torch device.

    Raises:
        InvalidInputError: If ``name`` is not one of the forms above.
        ConfigurationError: If CUDA is asked for but not available.
    """
    from crucible.exceptions import ConfigurationError, InvalidInputError
    from crucible.validation import DEVICE_FIX, check_device

    try:
        check_device(name)
    except ValueError:
        raise InvalidInputError("device", f"{name!r} is not a device", DEVICE_FIX) from None
    torch = require("torch")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(name).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigurationError(
            f"device={name!r} but CUDA is not available on this machine. "
            "Use device='auto' (falls back to CPU) or run on a GPU work pool."
        )
    return torch.device(name)
