"""Ax (ax.api.Client) with its default generation strategy.

Default "fast" strategy = Center point + Sobol + MBM (BoTorch modular:
SingleTaskGP/MixedSingleTaskGP + qLogNEI). initialization_budget=8 (the centre
point counts as one of the 8).
"""

from __future__ import annotations

import logging

from .base import Optimizer


def _quiet():
    # Ax sets INFO explicitly on each of its module loggers, so silence them one by one
    names = [n for n in logging.root.manager.loggerDict if n.startswith(("ax", "botorch"))]
    for name in [*names, "ax", "botorch"]:
        logging.getLogger(name).setLevel(logging.ERROR)


class AxDefault(Optimizer):
    name = "ax"
    supports_mixed = True
    supports_constraints = True

    def __init__(self, problem, seed, n_init=8, batch_size: int = 1, **kw):
        super().__init__(problem, seed, n_init, **kw)
        _quiet()
        from ax.api.client import Client
        from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

        self.batch_size = batch_size
        params = []
        for p in problem.params:
            if p.kind == "float":
                params.append(
                    RangeParameterConfig(
                        name=p.name, bounds=(float(p.low), float(p.high)), parameter_type="float"
                    )
                )
            elif p.kind == "int":
                params.append(
                    RangeParameterConfig(
                        name=p.name, bounds=(int(p.low), int(p.high)), parameter_type="int"
                    )
                )
            else:
                params.append(
                    ChoiceParameterConfig(
                        name=p.name, values=list(p.choices), parameter_type="str", is_ordered=False
                    )
                )
        self.client = Client(random_seed=seed)
        self.client.configure_experiment(parameters=params, name=f"{problem.name}_{seed}")
        cons = [f"g{i} <= 0" for i in range(problem.n_constraints)] or None
        self.client.configure_optimization(objective="-f", outcome_constraints=cons)
        if n_init is not None:
            self.client.configure_generation_strategy(
                initialization_budget=n_init, initialization_random_seed=seed
            )
        self._idx = {}
        _quiet()

    def ask(self, max_points):
        trials = self.client.get_next_trials(max_trials=min(self.batch_size, max_points))
        out = []
        for idx, params in trials.items():
            params = dict(params)
            self._idx[id(params)] = idx
            out.append(params)
        return out

    def tell(self, points, results):
        for p, r in zip(points, results, strict=False):
            raw = {"f": float(r["objective"])}
            for i, g in enumerate(r.get("constraints", [])):
                raw[f"g{i}"] = float(g)
            self.client.complete_trial(trial_index=self._idx.pop(id(p)), raw_data=raw)

    def info(self):
        gs = self.client._generation_strategy
        nodes = []
        try:
            for t in self.client._experiment.trials.values():
                gr = t.generator_runs[0]
                nodes.append(getattr(gr, "_generation_node_name", None) or gr._model_key)
        except Exception:
            pass
        from collections import Counter

        return {"generation_strategy": gs.name, "nodes_used": dict(Counter(nodes))}


class AxSaasbo(AxDefault):
    """Ax with SAASBO (fully Bayesian GP with sparse axis-aligned priors, NUTS in Pyro).

    ``n_init`` Sobol points (seeded), then ``Generators.SAASBO`` for every later trial, as in
    Ax's high-dimensional tutorial; the rest (objective, constraints, ask/tell) is
    :class:`AxDefault`'s. It needs ``pyro-ppl`` in Ax's environment; one suggestion costs
    20-40 CPU-s at 20-100 observations in 30-D (``benchmarks/saasbo_timing.py``).
    """

    name = "ax_saasbo"
    supports_mixed = False

    def __init__(self, problem, seed, n_init=8, batch_size: int = 1, **kw):
        super().__init__(problem, seed, n_init=None, batch_size=batch_size, **kw)
        from ax.adapter.registry import Generators
        from ax.generation_strategy.generation_node import GenerationStep
        from ax.generation_strategy.generation_strategy import GenerationStrategy

        self.n_init = n_init
        nodes = [
            GenerationStep(
                generator=Generators.SOBOL, num_trials=n_init, generator_kwargs={"seed": seed}
            ),
            GenerationStep(generator=Generators.SAASBO, num_trials=-1),
        ]
        self.client.set_generation_strategy(GenerationStrategy(name="Sobol+SAASBO", nodes=nodes))
        _quiet()
