"""SMAC3 BlackBoxFacade (GP + EI, Sobol initial design) behind ask/tell.

SMAC has no black-box outcome constraints, so it is run on unconstrained
problems only.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from .base import Optimizer


class SMACBlackBox(Optimizer):
    name = "smac_bb"
    supports_mixed = True
    supports_constraints = False

    def __init__(self, problem, seed, n_init=8, **kw):
        super().__init__(problem, seed, n_init, **kw)
        from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer
        from smac import BlackBoxFacade, Scenario

        logging.getLogger("smac").setLevel(logging.ERROR)
        cs = ConfigurationSpace(seed=seed)
        hps = []
        for p in problem.params:
            if p.kind == "float":
                hps.append(Float(p.name, (float(p.low), float(p.high))))
            elif p.kind == "int":
                hps.append(Integer(p.name, (int(p.low), int(p.high))))
            else:
                hps.append(Categorical(p.name, list(p.choices)))
        cs.add(hps)
        self._dir = tempfile.mkdtemp(prefix="smac_")
        scen = Scenario(
            cs,
            deterministic=True,
            n_trials=problem.budget + 10,
            seed=seed,
            output_directory=Path(self._dir) / "out",
        )
        init = BlackBoxFacade.get_initial_design(scen, n_configs=n_init, max_ratio=1.0)

        def _unused(config, seed: int = 0) -> float:  # ask/tell only
            raise RuntimeError("not used")

        self.smac = BlackBoxFacade(
            scen, _unused, initial_design=init, overwrite=True, logging_level=logging.ERROR
        )
        self._info = {}

    def ask(self, max_points):
        info = self.smac.ask()
        params = dict(info.config)
        self._info[id(params)] = info
        return [params]

    def tell(self, points, results):
        from smac.runhistory.dataclasses import TrialValue

        for p, r in zip(points, results, strict=False):
            self.smac.tell(self._info.pop(id(p)), TrialValue(cost=float(r["objective"])))

    def close(self):
        shutil.rmtree(self._dir, ignore_errors=True)
