"""A plain BoTorch loop: SingleTaskGP + qLogExpectedImprovement.

* SingleTaskGP with BoTorch's default priors, Standardize(m=1) outcome transform,
  Normalize input transform (inputs mapped to the unit cube from the problem box).
* qLogExpectedImprovement, optimize_acqf(num_restarts=10, raw_samples=512);
  q=1 (sequential) or q=4 (joint batch recommendation).
* Initial design: n_init scrambled Sobol points (returned by the first ask).
* Mixed spaces: MixedSingleTaskGP (SingleTaskGP with a categorical kernel on the
  categorical dim) + optimize_acqf_mixed_alternating (same restarts/raw samples).
* Outcome constraints: one SingleTaskGP per outcome in a ModelListGP; the
  constraint enters qLogEI through ``constraints=`` (g <= 0 feasible); best_f is
  the best feasible value (the worst observed value if none is feasible yet).
"""

from __future__ import annotations

import warnings

import torch

from .base import Optimizer


class BoTorchQLogEI(Optimizer):
    name = "botorch_q1"
    supports_mixed = True
    supports_constraints = True

    def __init__(
        self,
        problem,
        seed,
        n_init=8,
        q: int = 1,
        num_restarts: int = 10,
        raw_samples: int = 512,
        **kw,
    ):
        super().__init__(problem, seed, n_init, **kw)
        from torch.quasirandom import SobolEngine

        self.q = q
        self.num_restarts = num_restarts
        self.raw_samples = raw_samples
        self.bounds = torch.tensor(problem.raw_bounds(), dtype=torch.double)
        self.X: list[list[float]] = []
        self.F: list[float] = []
        self.G: list[list[float]] = []
        self._sobol = SobolEngine(problem.dim, scramble=True, seed=seed)
        self.cat_dims = [i for i, p in enumerate(problem.params) if p.kind == "cat"]
        self.int_dims = [i for i, p in enumerate(problem.params) if p.kind == "int"]
        torch.manual_seed(seed)

    # ---------------------------------------------------------------------------
    def _fit(self, X, y):
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import MixedSingleTaskGP, SingleTaskGP
        from botorch.models.transforms import Normalize, Standardize
        from gpytorch.mlls import ExactMarginalLogLikelihood

        d = X.shape[-1]
        if self.cat_dims:
            model = MixedSingleTaskGP(
                X,
                y,
                cat_dims=self.cat_dims,
                input_transform=Normalize(d=d, bounds=self.bounds),
                outcome_transform=Standardize(m=1),
            )
        else:
            model = SingleTaskGP(
                X,
                y,
                input_transform=Normalize(d=d, bounds=self.bounds),
                outcome_transform=Standardize(m=1),
            )
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        return model

    def _acqf(self, X):
        from botorch.acquisition.logei import qLogExpectedImprovement
        from botorch.acquisition.objective import GenericMCObjective
        from botorch.models import ModelListGP

        f = -torch.tensor(self.F, dtype=torch.double).unsqueeze(-1)  # maximise -f
        if not self.problem.is_constrained:
            model = self._fit(X, f)
            return qLogExpectedImprovement(model=model, best_f=f.max())
        G = torch.tensor(self.G, dtype=torch.double)
        models = [self._fit(X, f)] + [self._fit(X, G[:, j : j + 1]) for j in range(G.shape[1])]
        model = ModelListGP(*models)
        feas = (G <= 0).all(dim=-1)
        best_f = f[feas].max() if feas.any() else f.min()
        ncon = G.shape[1]
        return qLogExpectedImprovement(
            model=model,
            best_f=best_f,
            objective=GenericMCObjective(lambda Z, X=None: Z[..., 0]),
            constraints=[(lambda Z, j=j: Z[..., 1 + j]) for j in range(ncon)],
        )

    def ask(self, max_points):
        n = len(self.X)
        if n < self.n_init:
            m = min(self.n_init - n, max_points)
            u = self._sobol.draw(m).double()
            return [self.problem.from_unit(row.tolist()) for row in u]
        q = min(self.q, max_points)
        X = torch.tensor(self.X, dtype=torch.double)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            acqf = self._acqf(X)
            if self.cat_dims or self.int_dims:
                from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating

                disc = {
                    i: [
                        float(v)
                        for v in range(
                            int(self.problem.params[i].low), int(self.problem.params[i].high) + 1
                        )
                    ]
                    for i in self.int_dims
                }
                cats = {
                    i: [float(v) for v in range(self.problem.params[i].n_choices)]
                    for i in self.cat_dims
                }
                cand, _ = optimize_acqf_mixed_alternating(
                    acqf,
                    bounds=self.bounds,
                    discrete_dims=disc,
                    cat_dims=cats,
                    q=q,
                    num_restarts=self.num_restarts,
                    raw_samples=self.raw_samples,
                )
            else:
                from botorch.optim import optimize_acqf

                cand, _ = optimize_acqf(
                    acqf,
                    bounds=self.bounds,
                    q=q,
                    num_restarts=self.num_restarts,
                    raw_samples=self.raw_samples,
                )
        return [self.problem.from_raw_vector(row.tolist()) for row in cand.detach()]

    def tell(self, points, results):
        for p, r in zip(points, results, strict=False):
            self.X.append(self.problem.to_raw_vector(p))
            self.F.append(float(r["objective"]))
            self.G.append([float(g) for g in r.get("constraints", [])])


class BoTorchQLogEIBatch4(BoTorchQLogEI):
    name = "botorch_q4"

    def __init__(self, problem, seed, n_init=8, **kw):
        kw.setdefault("q", 4)
        super().__init__(problem, seed, n_init, **kw)
