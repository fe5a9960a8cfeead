"""Numbers as short text for reports, tables and figure labels (a leaf of :mod:`crucible.viz`)."""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["rounded"]


def rounded(value: Any, digits: int = 3) -> str:
    """A value as short text: floats to ``digits`` significant figures, ``–`` for NaN.

    Integers (and integral floats of 1,000 or more) print whole; other floats print with
    at most ``digits`` significant figures, never in exponent notation above 1e-3.
    """
    if value is None:
        return "–"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(rounded(item, digits) for item in value) + "]"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    number = float(value)
    if not math.isfinite(number):
        return "–"
    if abs(number) >= 10 ** (digits - 1):
        return f"{number:.0f}"
    if number != 0 and abs(number) < 1e-3:
        return f"{number:.{digits - 1}e}"
    decimals = digits - 1 - math.floor(math.log10(abs(number))) if number else 0
    return f"{number:.{max(decimals, 0)}f}".rstrip("0").rstrip(".") or "0"
