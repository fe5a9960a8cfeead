"""TuRBO-1 (one trust region, Thompson sampling) following BoTorch's tutorial recipe.

**Attribution.** ``TurboState``, ``update_state`` and the candidate generation in
``_thompson`` follow BoTorch's tutorial "High-dimensional Bayesian optimization with TuRBO"
(``tutorials/turbo_1``, BoTorch, MIT licence; the method is Eriksson et al., "Scalable Global
Optimization via Local Bayesian Optimization", NeurIPS 2019), re-typed for this ask/tell
harness. As in the tutorial: inputs in the unit cube, outcomes standardised and maximised
(``-objective``), a ``SingleTaskGP`` with a scaled ARD Matern-5/2 kernel (lengthscales in
[0.005, 4], noise in [1e-8, 1e-3]); the trust region is centred at the best point with
side ``length`` scaled per dimension by the lengthscales; candidates perturb a random subset
of dimensions (probability ``min(20 / d, 1)``) of the centre, and Thompson sampling
(``MaxPosteriorSampling``, exact Cholesky) picks the next point. ``success_tolerance`` 10 and
``failure_tolerance = ceil(max(4 / q, d / q))`` are the tutorial's.

Choices that differ from the tutorial: sequential (q=1) like the other methods; the harness's
``n_init`` scrambled Sobol points first; when the region falls below ``length_min`` (a
TuRBO restart), a fresh Sobol design of ``n_init`` points and a new region, as in the paper;
and ``min(100 d, 5000)`` Thompson candidates, the paper's reference implementation's number
(the tutorial's ``min(5000, max(2000, 200 d))`` costs 2.6 CPU-s per ask at d=30 for the
5000 x 5000 Cholesky factor against 0.8 s for 3000, measured on this machine;
``n_candidates="tutorial"`` restores it). Continuous problems only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .base import Optimizer


@dataclass
class TurboState:
    """Trust-region state (BoTorch tutorial: ``TurboState``)."""

    dim: int
    batch_size: int = 1
    length: float = 0.8
    length_min: float = 0.5**7
    length_max: float = 1.6
    failure_counter: int = 0
    failure_tolerance: int = 0
    success_counter: int = 0
    success_tolerance: int = 10
    best_value: float = -math.inf
    restart_triggered: bool = False

    def __post_init__(self) -> None:
        self.failure_tolerance = math.ceil(max(4.0 / self.batch_size, self.dim / self.batch_size))


def update_state(state: TurboState, y_next: torch.Tensor) -> TurboState:
    """Grow the region after successes, shrink it after failures (BoTorch tutorial)."""
    if max(y_next) > state.best_value + 1e-3 * math.fabs(state.best_value):
        state.success_counter += 1
        state.failure_counter = 0
    else:
        state.success_counter = 0
        state.failure_counter += 1
    if state.success_counter == state.success_tolerance:
        state.length = min(2.0 * state.length, state.length_max)
        state.success_counter = 0
    elif state.failure_counter == state.failure_tolerance:
        state.length /= 2.0
        state.failure_counter = 0
    state.best_value = max(state.best_value, max(y_next).item())
    if state.length < state.length_min:
        state.restart_triggered = True
    return state


class Turbo1(Optimizer):
    """TuRBO-1, q=1, Thompson sampling in the trust region."""

    name = "turbo"
    supports_mixed = False
    supports_constraints = False

    def __init__(self, problem, seed, n_init=8, n_candidates="paper", **kw):
        super().__init__(problem, seed, n_init, **kw)
        from torch.quasirandom import SobolEngine

        d = problem.dim
        self.n_candidates = (
            min(5000, max(2000, 200 * d)) if n_candidates == "tutorial" else min(100 * d, 5000)
        )
        if problem.is_mixed:
            raise RuntimeError("turbo: continuous problems only")
        self.dim = problem.dim
        self.bounds = torch.tensor(problem.raw_bounds(), dtype=torch.double)
        self._sobol = SobolEngine(self.dim, scramble=True, seed=seed)
        torch.manual_seed(seed)
        self.state = TurboState(self.dim)
        self.X = torch.empty(0, self.dim, dtype=torch.double)  # this region's points (unit)
        self.Y = torch.empty(0, 1, dtype=torch.double)  # their -objective
        self._design: list[torch.Tensor] = []
        self.restarts = 0
        self._new_design()

    def _new_design(self) -> None:
        self._design = list(self._sobol.draw(self.n_init).to(torch.double))

    def _to_params(self, u: torch.Tensor) -> dict:
        return self.problem.from_unit(u.tolist())

    def _to_unit(self, x: dict) -> torch.Tensor:
        raw = torch.tensor(self.problem.to_raw_vector(x), dtype=torch.double)
        return (raw - self.bounds[0]) / (self.bounds[1] - self.bounds[0])

    def _fit(self):
        import gpytorch
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from gpytorch.constraints import Interval
        from gpytorch.kernels import MaternKernel, ScaleKernel
        from gpytorch.likelihoods import GaussianLikelihood
        from gpytorch.mlls import ExactMarginalLogLikelihood

        y = (self.Y - self.Y.mean()) / self.Y.std()
        likelihood = GaussianLikelihood(noise_constraint=Interval(1e-8, 1e-3))
        covar = ScaleKernel(
            MaternKernel(
                nu=2.5, ard_num_dims=self.dim, lengthscale_constraint=Interval(0.005, 4.0)
            )
        )
        model = SingleTaskGP(self.X, y, covar_module=covar, likelihood=likelihood)
        with gpytorch.settings.max_cholesky_size(float("inf")):
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        return model

    def _thompson(self, model) -> torch.Tensor:
        """One point by Thompson sampling in the trust region (tutorial: ``generate_batch``)."""
        import gpytorch
        from botorch.generation import MaxPosteriorSampling
        from torch.quasirandom import SobolEngine

        dim, n_cand = self.dim, self.n_candidates
        x_center = self.X[self.Y.argmax(), :].clone()
        weights = model.covar_module.base_kernel.lengthscale.squeeze().detach()
        weights = weights / weights.mean()
        weights = weights / torch.prod(weights.pow(1.0 / len(weights)))
        lb = torch.clamp(x_center - weights * self.state.length / 2.0, 0.0, 1.0)
        ub = torch.clamp(x_center + weights * self.state.length / 2.0, 0.0, 1.0)
        sobol = SobolEngine(dim, scramble=True, seed=int(torch.randint(0, 2**30, (1,))))
        pert = lb + (ub - lb) * sobol.draw(n_cand).to(torch.double)
        prob_perturb = min(20.0 / dim, 1.0)
        mask = torch.rand(n_cand, dim, dtype=torch.double) <= prob_perturb
        ind = torch.where(mask.sum(dim=1) == 0)[0]
        mask[ind, torch.randint(0, dim - 1, size=(len(ind),))] = True
        x_cand = x_center.expand(n_cand, dim).clone()
        x_cand[mask] = pert[mask]
        sampler = MaxPosteriorSampling(model=model, replacement=False)
        with torch.no_grad(), gpytorch.settings.max_cholesky_size(float("inf")):
            return sampler(x_cand, num_samples=1)[0]

    def ask(self, max_points):
        if self._design:
            return [self._to_params(self._design.pop(0))]
        return [self._to_params(self._thompson(self._fit()))]

    def tell(self, points, results):
        for p, r in zip(points, results, strict=True):
            y = torch.tensor([[-float(r["objective"])]], dtype=torch.double)
            self.X = torch.cat([self.X, self._to_unit(p).unsqueeze(0)])
            self.Y = torch.cat([self.Y, y])
            if len(self.Y) > self.n_init:  # the design does not move the region
                update_state(self.state, y[0])
            elif len(self.Y) == self.n_init:
                self.state.best_value = self.Y.max().item()
        if self.state.restart_triggered:
            self.restarts += 1
            self.state = TurboState(self.dim)
            self.X, self.Y = self.X[:0], self.Y[:0]
            self._new_design()

    def info(self):
        return {
            "restarts": self.restarts,
            "length": self.state.length,
            "n_candidates": self.n_candidates,
        }
