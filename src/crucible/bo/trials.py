"""A campaign's trial record.

A leaf module: :mod:`crucible.bo.campaign` (which re-exports it) and
:mod:`crucible.bo.analysis` both use :class:`Trial` without importing each other for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = ["Trial", "TrialStatus"]

TrialStatus = Literal["pending", "completed", "failed"]


@dataclass(frozen=True)
class Trial:
    """One suggested or attached experiment.

    Attributes:
        number: Trial number within the campaign (0, 1, ...); the id used by
            :meth:`Campaign.observe`.
        params: Parameter name -> value.
        status: ``pending``, ``completed`` or ``failed``.
        values: Metric name -> value once completed.
        source: ``design``, ``model`` or ``manual``.
        batch: Which ``suggest`` call produced it (-1 for attached trials).
        reason: Why it failed.
        created_at: When it was suggested.
        completed_at: When it was observed or marked failed.
    """

    number: int
    params: dict[str, Any]
    status: TrialStatus
    values: dict[str, float] = field(default_factory=dict)
    source: str = "model"
    batch: int = 0
    reason: str | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
