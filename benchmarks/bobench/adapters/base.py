"""Ask/tell adapter interface.

To benchmark another optimiser, subclass ``Optimizer`` in a new module, implement
``ask``/``tell`` and register it in ``bobench/adapters/__init__.py``.

* ``ask(max_points)`` returns a list of 1..max_points parameter dicts (one
  "suggestion" call; batch methods return several points).
* ``tell(points, results)`` reports the evaluations of exactly those points;
  each result is ``{"objective": float, "constraints": [g, ...]}`` with
  ``g <= 0`` meaning feasible. The objective is always minimised.
The harness times ``ask`` and ``tell`` separately; put model fitting wherever
the real tool does it (usually in ``ask``).
"""

from __future__ import annotations

from ..problems import Problem


class Optimizer:
    name = "base"
    supports_mixed = True  # can handle int / categorical parameters
    supports_constraints = False  # uses black-box outcome constraints

    def __init__(self, problem: Problem, seed: int, n_init: int = 8, **kwargs):
        self.problem = problem
        self.seed = seed
        self.n_init = n_init
        self.kwargs = kwargs

    def ask(self, max_points: int) -> list[dict]:
        raise NotImplementedError

    def tell(self, points: list[dict], results: list[dict]) -> None:
        raise NotImplementedError

    def info(self) -> dict:
        """Free-form details recorded with the run (e.g. resolved strategy names)."""
        return {}

    def close(self) -> None:
        pass


def feasible(result: dict) -> bool:
    return all(g <= 0 for g in result.get("constraints", []))
