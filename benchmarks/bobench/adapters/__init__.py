"""Registry of optimiser adapters: name -> (module, class, constructor kwargs).

Imports are lazy so that a missing optional package only disables its method.
"""

from __future__ import annotations

import importlib

REGISTRY = {
    "random_sobol": ("random_sobol", "SobolRandom", {}),
    "optuna_tpe": ("optuna_ad", "OptunaTPE", {}),
    "optuna_tpe_mv": ("optuna_ad", "OptunaTPEMultivariate", {}),
    "optuna_gp": ("optuna_ad", "OptunaGP", {}),
    "optuna_cmaes": ("optuna_ad", "OptunaCMAES", {}),
    "ax": ("ax_ad", "AxDefault", {}),
    "ax_saasbo": ("ax_ad", "AxSaasbo", {}),
    "botorch_q1": ("botorch_loop", "BoTorchQLogEI", {"q": 1}),
    "botorch_q4": ("botorch_loop", "BoTorchQLogEIBatch4", {"q": 4}),
    "smac_bb": ("smac_ad", "SMACBlackBox", {}),
    "crucible": ("crucible_ad", "CrucibleDefault", {}),
    "turbo": ("turbo", "Turbo1", {}),
}


def get_class(name: str):
    mod, cls, kw = REGISTRY[name]
    m = importlib.import_module(f"{__name__}.{mod}")
    return getattr(m, cls), dict(kw)


def make(name: str, problem, seed: int, n_init: int = 8, **extra):
    cls, kw = get_class(name)
    kw.update(extra)
    return cls(problem, seed, n_init=n_init, **kw)
