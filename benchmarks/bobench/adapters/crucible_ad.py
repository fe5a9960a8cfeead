"""Crucible's ``Campaign`` (default strategy) behind the bobench ask/tell interface.

The campaign lives in a temporary SQLite file, so every ask/tell includes the real
storage round trip (load state, commit trials) that Crucible users pay.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from crucible.bo import Campaign, Objective, OutcomeConstraint, Strategy
from crucible.space import Space

from .base import Optimizer


def crucible_space(problem) -> Space:
    """The problem's parameters as a crucible Space."""
    spec = {}
    for p in problem.params:
        if p.kind == "float":
            spec[p.name] = {"type": "continuous", "low": p.low, "high": p.high}
        elif p.kind == "int":
            spec[p.name] = {"type": "integer", "low": int(p.low), "high": int(p.high)}
        else:
            spec[p.name] = {"type": "categorical", "choices": list(p.choices)}
    return Space.from_dict(spec)


class CrucibleDefault(Optimizer):
    """``Campaign`` with ``Strategy(n_init=n_init, seed=seed)``, q=1 per ask."""

    name = "crucible"
    supports_mixed = True
    supports_constraints = True

    def __init__(self, problem, seed, n_init=8, **kw):
        super().__init__(problem, seed, n_init, **kw)
        self._dir = Path(tempfile.mkdtemp(prefix="bobench-crucible-"))
        constraints = [
            OutcomeConstraint(metric=f"g{i}", operator="<=", bound=0.0)
            for i in range(problem.n_constraints)
        ]
        self.campaign = Campaign.create(
            f"{problem.name}-{seed}",
            crucible_space(problem),
            [Objective(name="objective", direction="minimize")],
            constraints,
            Strategy(n_init=n_init, seed=seed, **kw.get("strategy", {})),
            store_url=f"sqlite:///{self._dir / 'campaign.db'}",
        )
        self._pending: dict[int, int] = {}

    def ask(self, max_points):
        (trial,) = self.campaign.suggest(1)
        params = dict(trial.params)
        self._pending[id(params)] = trial.number
        return [params]

    def tell(self, points, results):
        for p, r in zip(points, results, strict=True):
            values = {"objective": r["objective"]}
            values.update({f"g{i}": g for i, g in enumerate(r.get("constraints", []))})
            self.campaign.observe(self._pending.pop(id(p)), values)

    def info(self):
        return {"strategy": self.campaign.strategy.model_dump()}

    def close(self):
        shutil.rmtree(self._dir, ignore_errors=True)
