"""An Optuna sampler driven by Crucible's own BO engine (:mod:`crucible.bo`).

Each proposal calls :func:`crucible.bo.strategy.propose`, the same model-based step a BO
campaign takes, on the completed trials of the study:

* GP surrogate (``MixedSingleTaskGP``, a categorical kernel added to and multiplied with
  the continuous one, when the space has categoricals; else ``SingleTaskGP``) with
  hyperparameters warm-started from the previous proposal. Hyperparameter spaces tend to
  have categoricals with large additive effects (optimiser, activation), which this
  kernel picks up faster than one-hot columns: on ``benchmarks/hpo.py``'s mixed test
  function (20 trials, 6 seeds) it found the right category in 5 of 6 runs, the one-hot
  GP (the BO campaigns' default) in 3 of 6;
* analytic LogEI for one objective; qLogEI when other workers have trials RUNNING (their
  parameters are passed as pending points, so parallel workers do not propose the same
  point); qLogNEHVI for several objectives;
* the BO engine's cheap multi-start acquisition optimiser, rounding onto the space
  (integers to their grid, categoricals exact).

The default :class:`~crucible.bo.strategy.Strategy` here spends less effort than a BO
campaign's (``num_restarts=4``, ``raw_samples=256``, 60 L-BFGS-B iterations), since a
training trial is cheap to re-run; pass your own for more. Until ``n_startup_trials``
trials have completed, and for parameters outside the space, Optuna's ``RandomSampler``
is used. Its cost per trial against ``optuna_integration.BoTorchSampler`` is in
``docs/hpo.md``.
"""

from __future__ import annotations

from typing import Any

from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from crucible.bo.objectives import Objective
from crucible.bo.strategy import Strategy, propose
from crucible.space import Space


class CrucibleBoTorchSampler(BaseSampler):
    """Optuna sampler that proposes every tunable parameter of ``space`` with ``crucible.bo``.

    Args:
        space: The search space (its tunable parameters are modelled jointly).
        seed: Seed of the random start-up sampler and of the BO strategy.
        n_startup_trials: Completed trials before the GP takes over (at least 2).
        strategy: BO settings (surrogate, acquisition, optimiser effort); a light default.
    """

    def __init__(
        self,
        space: Space,
        seed: int | None = None,
        n_startup_trials: int = 10,
        strategy: Strategy | None = None,
    ) -> None:
        self.space = space
        self._distributions = space.to_optuna_distributions()
        self._random = RandomSampler(seed=seed)
        self.n_startup_trials = max(int(n_startup_trials), 2)
        self.strategy = strategy or Strategy(
            num_restarts=4,
            raw_samples=256,
            acq_maxiter=60,
            categorical_kernel="mixed",
            seed=seed or 0,
        )
        self.warm_start: bytes | None = None
        self.last_info: dict[str, Any] = {}

    def reseed_rng(self) -> None:
        """Reseed the random start-up sampler (Optuna calls this for parallel workers)."""
        self._random.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        """The space's tunable parameters."""
        return dict(self._distributions)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        """Random values for parameters outside the relative proposal."""
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """Propose every tunable parameter with the BO engine (empty during start-up)."""
        if not search_space:
            return {}
        names = set(self._distributions)
        complete = _with_params(study, (TrialState.COMPLETE,), names)
        if len(complete) < self.n_startup_trials:
            return {}
        running = [
            t
            for t in _with_params(study, (TrialState.RUNNING,), names)
            if t.number != trial.number
        ]
        objectives = [
            Objective(
                name=f"objective_{i}",
                direction="maximize" if d == StudyDirection.MAXIMIZE else "minimize",
            )
            for i, d in enumerate(study.directions)
        ]
        values = [
            {o.name: float(v) for o, v in zip(objectives, t.values, strict=True)} for t in complete
        ]
        proposal = propose(
            self.space,
            objectives,
            [],
            self.strategy,
            [_tunable(t.params, names) for t in complete],
            values,
            n=1,
            pending=[_tunable(t.params, names) for t in running],
            warm_start=self.warm_start,
            seed=self.strategy.seed + len(complete),
        )
        self.warm_start = proposal.hyperparameters
        self.last_info = proposal.info
        point = proposal.points[0]
        return {name: point[name] for name in self._distributions}


def _with_params(study: Study, states: tuple[TrialState, ...], names: set[str]) -> list[Any]:
    trials = study.get_trials(deepcopy=False, states=states)
    return [t for t in trials if names <= set(t.params)]


def _tunable(params: dict[str, Any], names: set[str]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k in names}
