"""Bayesian optimisation engine: surrogates, acquisitions, ask/tell campaigns, analysis.

Light to import: the public names below are loaded on first access, so
``import crucible.bo`` pulls in neither torch nor BoTorch.

Example:
    >>> from crucible.bo import Campaign, Objective, Strategy  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crucible.bo.campaign import Campaign, Trial
    from crucible.bo.objectives import Objective, OutcomeConstraint
    from crucible.bo.strategy import Strategy

__all__ = ["Campaign", "Objective", "OutcomeConstraint", "Strategy", "Trial"]

_LAZY = {
    "Campaign": "crucible.bo.campaign",
    "Trial": "crucible.bo.campaign",
    "Objective": "crucible.bo.objectives",
    "OutcomeConstraint": "crucible.bo.objectives",
    "Strategy": "crucible.bo.strategy",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'crucible.bo' has no attribute {name!r}")
