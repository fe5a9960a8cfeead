"""Optuna samplers behind ask/tell (study.ask with fixed distributions)."""

from __future__ import annotations

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from .base import Optimizer

optuna.logging.set_verbosity(optuna.logging.ERROR)


def _constraints_func(trial):
    return trial.user_attrs.get("constraints", [])


class _OptunaBase(Optimizer):
    name = "optuna"

    def make_sampler(self):
        raise NotImplementedError

    def __init__(self, problem, seed, n_init=8, **kw):
        super().__init__(problem, seed, n_init, **kw)
        self.dists = {}
        for p in problem.params:
            if p.kind == "float":
                self.dists[p.name] = FloatDistribution(p.low, p.high)
            elif p.kind == "int":
                self.dists[p.name] = IntDistribution(int(p.low), int(p.high))
            else:
                self.dists[p.name] = CategoricalDistribution(list(p.choices))
        self.study = optuna.create_study(direction="minimize", sampler=self.make_sampler())
        self._pending = {}

    def ask(self, max_points):
        trial = self.study.ask(fixed_distributions=self.dists)  # sampling happens here
        params = dict(trial.params)
        self._pending[id(params)] = trial
        return [params]

    def tell(self, points, results):
        for p, r in zip(points, results, strict=False):
            trial = self._pending.pop(id(p))
            if r.get("constraints"):
                trial.set_user_attr("constraints", list(r["constraints"]))
            self.study.tell(trial, r["objective"])


class OptunaTPE(_OptunaBase):
    """Independent (univariate) TPE: multivariate=False, the default before Optuna 5."""

    name = "optuna_tpe"
    supports_constraints = True

    def make_sampler(self):
        kw = {}
        if self.problem.is_constrained:
            kw["constraints_func"] = _constraints_func
        return optuna.samplers.TPESampler(
            seed=self.seed, n_startup_trials=self.n_init, multivariate=False, **kw
        )


class OptunaTPEMultivariate(_OptunaBase):
    """Multivariate TPE: multivariate=True, which is the default in Optuna >= 5 for a
    single objective (so this is also "TPESampler defaults")."""

    name = "optuna_tpe_mv"
    supports_constraints = True

    def make_sampler(self):
        kw = {}
        if self.problem.is_constrained:
            kw["constraints_func"] = _constraints_func
        return optuna.samplers.TPESampler(
            seed=self.seed,
            n_startup_trials=self.n_init,
            multivariate=True,
            warn_independent_sampling=False,
            **kw,
        )


class OptunaGP(_OptunaBase):
    name = "optuna_gp"
    supports_constraints = True

    def make_sampler(self):
        kw = {}
        if self.problem.is_constrained:
            kw["constraints_func"] = _constraints_func
        # deterministic_objective left at its default (False): like the BoTorch/Ax
        # GPs, the noise level is inferred.
        return optuna.samplers.GPSampler(seed=self.seed, n_startup_trials=self.n_init, **kw)


class OptunaCMAES(_OptunaBase):
    """Defaults (n_startup_trials=1, x0 = box centre, sigma0 = range/6); continuous only."""

    name = "optuna_cmaes"
    supports_mixed = False
    supports_constraints = False

    def make_sampler(self):
        return optuna.samplers.CmaEsSampler(seed=self.seed, warn_independent_sampling=False)
