"""Random search with a scrambled Sobol sequence over the unit cube."""

from __future__ import annotations

from scipy.stats import qmc

from .base import Optimizer


class SobolRandom(Optimizer):
    name = "random_sobol"
    supports_mixed = True
    supports_constraints = True  # constraint-agnostic: it ignores all feedback

    def __init__(self, problem, seed, n_init=8, **kw):
        super().__init__(problem, seed, n_init, **kw)
        self._sobol = qmc.Sobol(d=problem.dim, scramble=True, seed=seed)

    def ask(self, max_points):
        return [self.problem.from_unit(self._sobol.random(1)[0])]

    def tell(self, points, results):
        pass
