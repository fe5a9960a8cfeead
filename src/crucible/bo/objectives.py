"""Objectives and outcome constraints of a campaign.

A campaign records named *metrics* for each trial. Some metrics are objectives
(minimised or maximised, with an optional threshold that serves as the reference point
for multi-objective optimisation); others are limited by outcome constraints
(``metric <= bound`` or ``metric >= bound``). Internally everything is maximised:
:func:`objective_matrix` flips the sign of minimised objectives.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from crucible.exceptions import InvalidInputError
from crucible.validation import schema_help

#: Most metrics one observation may report.
MAX_METRICS = 1_000

__all__ = [
    "MAX_METRICS",
    "Objective",
    "OutcomeConstraint",
    "check_values",
    "constraint_slack",
    "objective_matrix",
]


class Objective(BaseModel):
    """One metric to optimise.

    Attributes:
        name: Metric name, as reported to ``Campaign.observe``.
        direction: ``"minimize"`` or ``"maximize"``.
        threshold: Worst acceptable value. For several objectives it is the hypervolume
            reference point (inferred from the data when omitted).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=schema_help)

    name: str = Field(min_length=1, max_length=100, description="Metric name.")
    direction: Literal["minimize", "maximize"] = Field(default="minimize")
    threshold: float | None = Field(
        default=None, strict=True, allow_inf_nan=False, description="Worst acceptable value."
    )

    @property
    def sign(self) -> float:
        """+1 for maximise, -1 for minimise (values are maximised internally)."""
        return 1.0 if self.direction == "maximize" else -1.0

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return self.sign * a > self.sign * b


class OutcomeConstraint(BaseModel):
    """A limit on a measured metric: feasible iff ``metric <= bound`` (or ``>=``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=schema_help)

    metric: str = Field(min_length=1, max_length=100, description="Metric name.")
    operator: Literal["<=", ">="] = Field(default="<=")
    bound: float = Field(strict=True, allow_inf_nan=False, description="The limit.")

    def slack(self, value: float) -> float:
        """Signed distance to the bound; ``<= 0`` means feasible."""
        return value - self.bound if self.operator == "<=" else self.bound - value

    def __str__(self) -> str:
        return f"{self.metric} {self.operator} {self.bound:g}"


def metric_names(
    objectives: Sequence[Objective], constraints: Sequence[OutcomeConstraint]
) -> list[str]:
    """Every metric a trial must report: objectives first, then constrained metrics."""
    names = [o.name for o in objectives]
    for c in constraints:
        if c.metric not in names:
            names.append(c.metric)
    return names


def check_values(
    values: Mapping[str, Any], required: Sequence[str], field: str = "values"
) -> dict[str, float]:
    """Validate an observation: every required metric present, finite and numeric.

    Extra metrics are kept (recorded but not modelled), at most :data:`MAX_METRICS` in all.

    Raises:
        InvalidInputError: A missing, non-numeric, NaN or infinite value, a metric name
            that is not a short string, or too many metrics.
    """
    if len(values) > MAX_METRICS:
        raise InvalidInputError(
            field, f"has {len(values)} metrics", f"report at most {MAX_METRICS} metrics"
        )
    out: dict[str, float] = {}
    for name in required:
        if name not in values:
            raise InvalidInputError(
                f"{field}.{name}", "is missing", f"report every metric: {list(required)}"
            )
    for name, value in values.items():
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise InvalidInputError(
                f"{field} key {name!r:.60}", "is not a metric name", "use 1 to 100 characters"
            )
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise InvalidInputError(
                f"{field}.{name}", f"{value!r} is not a number", "give a number"
            )
        if not math.isfinite(float(value)):
            raise InvalidInputError(
                f"{field}.{name}",
                f"{value!r} is not a finite number",
                "report a real measurement, or call mark_failed(trial_id, reason) if the "
                "experiment failed",
            )
        out[name] = float(value)
    return out


def objective_matrix(
    values: Sequence[Mapping[str, float]], objectives: Sequence[Objective]
) -> np.ndarray:
    """Objective values as a maximisation matrix, shape ``n x m``."""
    return np.array(
        [[o.sign * float(v[o.name]) for o in objectives] for v in values], dtype=float
    ).reshape(len(values), len(objectives))


def constraint_slack(
    values: Sequence[Mapping[str, float]], constraints: Sequence[OutcomeConstraint]
) -> np.ndarray:
    """Constraint slacks, shape ``n x c``; a row is feasible iff all entries are ``<= 0``."""
    return np.array(
        [[c.slack(float(v[c.metric])) for c in constraints] for v in values], dtype=float
    ).reshape(len(values), len(constraints))
