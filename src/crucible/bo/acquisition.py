"""Acquisition functions: which points to evaluate next.

Every acquisition is an :class:`Acquisition` registered by name in :data:`ACQUISITIONS`;
``build(context)`` returns a BoTorch ``AcquisitionFunction`` over the encoded space.

Conventions (BoTorch's): the model's outputs are ``m`` objectives, all **maximised**
(minimised objectives are negated upstream), followed by ``c`` constraint slacks
(feasible iff ``<= 0``). Shapes: ``X_baseline`` is ``n x d``, ``Y`` is ``n x m``, ``slack``
is ``n x c``, ``X_pending`` is ``p x d`` (suggested, not yet observed).

| name | single objective | batch / pending | constraints |
|---|---|---|---|
| ``logei`` | ``Log(Constrained)ExpectedImprovement`` (q=1), else ``qLogEI`` (*) | yes | yes |
| ``lognei`` | ``qLogNoisyExpectedImprovement`` (``prune_baseline``) | yes | yes |
| ``ucb`` | ``UpperConfidenceBound`` (q=1), else ``qUpperConfidenceBound`` | yes | no |
| ``pi`` | ``LogProbabilityOfImprovement`` (q=1), else ``qProbabilityOfImprovement`` | yes | yes |
| ``kg`` | ``qKnowledgeGradient`` (one-shot) | yes | no |
| ``lognehvi`` | multi-objective ``qLogNoisyExpectedHypervolumeImprovement`` (**) | yes | yes |

(*) With pending points and ``pending_points="believer"`` (one objective, no outcome
constraints, a model the fast paths support): analytic LogEI on the Kriging-believer
fantasy model (:meth:`~crucible.bo.fast.FastPosterior.condition_on_mean`), improving on
the best of the incumbent and the pending points' posterior means.

(**) For q=1 without pending points, with ``fast_posterior`` and a GP the NumPy paths
support: ``qLogExpectedHypervolumeImprovement`` over the Pareto front of the posterior
means at the feasible observations, evaluated and optimised in NumPy
(:mod:`crucible.bo.fast.ehvi`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from crucible._imports import require
from crucible.bo.fast import (
    FastPosterior,
    accelerate,
    attach_numpy_logehvi,
    numpy_logehvi_of,
)
from crucible.exceptions import ConfigurationError, InvalidInputError

__all__ = [
    "ACQUISITIONS",
    "Acquisition",
    "AcquisitionContext",
    "default_acquisition",
    "make_acquisition",
]


@dataclass
class AcquisitionContext:
    """Everything an acquisition needs.

    Attributes:
        model: Fitted BoTorch model with ``m + c`` outputs.
        X_baseline: Observed encoded inputs, ``n x d`` (torch, float64).
        Y: Objective values (maximised), ``n x m`` (numpy).
        slack: Constraint slacks (``<= 0`` feasible), ``n x c`` (numpy).
        X_pending: Pending encoded inputs, ``p x d`` (torch) or None.
        q: Batch size that will be optimised jointly (1 for sequential greedy).
        ref_point: Maximisation reference point (``m``) for hypervolume, or None.
        mc_samples: Quasi-MC samples for Monte-Carlo acquisitions.
        seed: Seed of the quasi-MC sampler.
        ucb_beta: Exploration weight of UCB.
        fast_posterior: Evaluate analytic (q=1) acquisitions with
            :class:`~crucible.bo.fast.FastPosterior` where it is exact.
        incumbent: What EI and PI improve on: ``observed`` (the best feasible observed
            value) or ``posterior_mean`` (the best posterior mean at the feasible
            observed points, the "plug-in" incumbent of noisy EI).
        pending_points: How LogEI accounts for pending points: ``believer`` (Kriging
            believer: the GP conditioned on them at its posterior mean, then analytic
            LogEI; needs ``fast_posterior``) or ``mc`` (Monte-Carlo qLogEI integrating
            over their outcomes).
    """

    model: Any
    X_baseline: Any
    Y: np.ndarray
    slack: np.ndarray
    X_pending: Any = None
    q: int = 1
    ref_point: np.ndarray | None = None
    mc_samples: int = 128
    seed: int = 0
    ucb_beta: float = 2.0
    fast_posterior: bool = True
    incumbent: str = "observed"
    pending_points: str = "mc"

    @property
    def n_objectives(self) -> int:
        """``m``."""
        return int(self.Y.shape[1])

    @property
    def n_constraints(self) -> int:
        """``c``."""
        return int(self.slack.shape[1])

    @property
    def analytic_ok(self) -> bool:
        """Whether an analytic (closed-form, q=1) acquisition applies."""
        return (
            self.q == 1
            and self.X_pending is None
            and self.n_constraints == 0
            and self.n_objectives == 1
        )

    @property
    def believer_ok(self) -> bool:
        """Whether pending points may be handled by Kriging-believer fantasies (q=1)."""
        return (
            self.q == 1
            and self.X_pending is not None
            and self.pending_points == "believer"
            and self.fast_posterior
            and self.n_constraints == 0
            and self.n_objectives == 1
        )

    @property
    def analytic_constrained_ok(self) -> bool:
        """Whether the analytic constrained LogEI applies (q=1, one objective)."""
        return self.q == 1 and self.X_pending is None and self.n_objectives == 1

    @property
    def logehvi_ok(self) -> bool:
        """Whether several objectives may take the NumPy LogEHVI path (q=1, nothing pending)."""
        return self.q == 1 and self.X_pending is None and self.fast_posterior

    def feasible(self) -> np.ndarray:
        """Boolean mask (``n``) of observations that satisfy every outcome constraint."""
        return np.all(self.slack <= 0, axis=1)

    def best_f(self) -> float:
        """The incumbent value EI and PI improve on (objective 0, maximised).

        ``observed``: the best feasible observed value. ``posterior_mean``: the best
        posterior mean of the objective at the feasible observed points; where the GP
        interpolates this is the observed best, where it smooths (a rugged or noisy
        objective) it is the model's own best value, so points the model predicts to
        beat its incumbent keep a useful improvement. With nothing feasible: the worst
        observed value.
        """
        values = self.Y[:, 0]
        feasible = self.feasible()
        if not feasible.any():
            return float(values.min())
        if self.incumbent == "posterior_mean":
            values = self.posterior_mean_at_baseline()
        return float(values[feasible].max())

    def posterior_mean_at_baseline(self) -> np.ndarray:
        """Posterior mean of objective 0 at the observed points, ``n``."""
        torch = require("torch")
        with torch.no_grad():
            mean = self.model.posterior(self.X_baseline).mean
        return mean[..., 0].reshape(-1).numpy()

    def sampler(self) -> Any:
        """A seeded Sobol quasi-MC sampler."""
        torch = require("torch")
        sampling = require("botorch.sampling")
        ensemble = require("botorch.models.ensemble")
        shape = torch.Size([self.mc_samples])
        if isinstance(self.model, ensemble.EnsembleModel):  # random forest: sample trees
            index_sampler = require("botorch.sampling.index_sampler")
            return index_sampler.IndexSampler(shape, seed=self.seed)
        return sampling.SobolQMCNormalSampler(shape, seed=self.seed)

    def constraint_callables(self) -> list[Any] | None:
        """BoTorch outcome-constraint callables (``Z -> slack``), or None."""
        m = self.n_objectives
        if not self.n_constraints:
            return None
        return [_slack_of(m + j) for j in range(self.n_constraints)]

    def objective(self) -> Any:
        """MC objective selecting the objective outputs when constraints are modelled."""
        if not self.n_constraints:
            return None
        objective = require("botorch.acquisition.objective")
        if self.n_objectives == 1:
            return objective.GenericMCObjective(lambda Z, X=None: Z[..., 0])
        mo = require("botorch.acquisition.multi_objective.objective")
        return mo.IdentityMCMultiOutputObjective(outcomes=list(range(self.n_objectives)))


def _slack_of(index: int) -> Any:
    return lambda Z: Z[..., index]


def _believer_logei(ctx: AcquisitionContext) -> Any:
    """Analytic LogEI on the Kriging-believer fantasy model, or None where not exact.

    The model is conditioned on the pending points at its posterior mean (hyperparameters
    kept, :meth:`~crucible.bo.fast.FastPosterior.condition_on_mean`); as if they had been
    observed, the incumbent is the best of :meth:`AcquisitionContext.best_f` and their
    posterior means.
    """
    torch = require("torch")
    analytic = require("botorch.acquisition.analytic")
    fast = FastPosterior.from_model(ctx.model)
    if fast is None or fast.n_outputs != 1:
        return None
    X_pending = torch.as_tensor(ctx.X_pending, dtype=torch.float64)
    believer = fast.condition_on_mean(X_pending)
    if believer is None:
        return None
    with torch.no_grad():
        pending_mean = float(fast.mean_variance(X_pending)[0].max())
    best_f = torch.tensor(max(ctx.best_f(), pending_mean), dtype=torch.float64)
    acqf = analytic.LogExpectedImprovement(ctx.model, best_f=best_f)
    return accelerate(acqf, believer)


def _analytic(acqf: Any, ctx: AcquisitionContext) -> Any:
    """An analytic acquisition, with the fast GP posterior when enabled and exact."""
    return accelerate(acqf) if ctx.fast_posterior else acqf


#: ``qLogNoisyExpectedHypervolumeImprovement``'s smoothing (its defaults), kept by the
#: NumPy LogEHVI path: fatmoid temperature of the constraints, fat-max temperature.
_NEHVI_ETA, _NEHVI_TAU_MAX = 1e-3, 1e-3


def _numpy_logehvi(ctx: AcquisitionContext) -> Any:
    """BoTorch's qLogEHVI over the posterior-mean front with a NumPy evaluator, or None.

    The front is the Pareto front of the GP's posterior means at the feasible observed
    points, the plug-in counterpart of qLogNEHVI's integral over the unknown front (and
    of the single-objective ``posterior_mean`` incumbent): where the GP interpolates
    (noiseless experiments) it is the observed front. The observed front itself (Optuna's
    ``GPSampler``'s choice) left two of ten BraninCurrin runs far from the true front
    (``benchmarks/LOG.md``). Cells: BoTorch's
    ``FastNondominatedPartitioning`` against the reference point; values and gradients
    from :class:`~crucible.bo.fast.ehvi.NumpyLogEHVI`.
    """
    torch = require("torch")
    mo = require("botorch.acquisition.multi_objective.logei")
    boxes = require("botorch.utils.multi_objective.box_decompositions.non_dominated")
    fast = FastPosterior.from_model(ctx.model)
    if fast is None:
        return None
    with torch.no_grad():
        baseline = torch.as_tensor(ctx.X_baseline, dtype=torch.float64)
        mean = fast.mean_variance(baseline[torch.as_tensor(ctx.feasible())])[0]
    ref_point = torch.as_tensor(ctx.ref_point, dtype=torch.float64)
    front = mean[:, : ctx.n_objectives]
    partitioning = boxes.FastNondominatedPartitioning(ref_point=ref_point, Y=front)
    acqf = mo.qLogExpectedHypervolumeImprovement(
        ctx.model,
        ref_point=ref_point.tolist(),
        partitioning=partitioning,
        sampler=ctx.sampler(),
        objective=ctx.objective(),
        constraints=ctx.constraint_callables(),
        eta=_NEHVI_ETA,
        tau_max=_NEHVI_TAU_MAX,
    )
    return acqf if numpy_logehvi_of(attach_numpy_logehvi(acqf, fast)) is not None else None


class Acquisition(abc.ABC):
    """Builds a BoTorch acquisition function from an :class:`AcquisitionContext`."""

    name: ClassVar[str]
    multi_objective: ClassVar[bool] = False
    supports_constraints: ClassVar[bool] = True
    one_shot: ClassVar[bool] = False

    @abc.abstractmethod
    def build(self, ctx: AcquisitionContext) -> Any:
        """Return a BoTorch ``AcquisitionFunction``."""

    def check(self, ctx: AcquisitionContext) -> None:
        """Raise :class:`ConfigurationError` when the acquisition cannot handle ``ctx``."""
        if ctx.n_objectives > 1 and not self.multi_objective:
            raise ConfigurationError(
                f"acquisition '{self.name}' handles one objective, the campaign has "
                f"{ctx.n_objectives}. Fix: use acquisition='lognehvi' (or 'auto')"
            )
        if ctx.n_objectives == 1 and self.multi_objective:
            raise ConfigurationError(
                f"acquisition '{self.name}' needs several objectives. Fix: use 'logei' or 'auto'"
            )
        if ctx.n_constraints and not self.supports_constraints:
            raise ConfigurationError(
                f"acquisition '{self.name}' does not handle outcome constraints. Fix: use "
                "'logei', 'lognei', 'pi' or 'auto'"
            )


class LogEI(Acquisition):
    """Log expected improvement over the best feasible observation."""

    name = "logei"

    def build(self, ctx: AcquisitionContext) -> Any:
        """Analytic LogEI for q=1 (pending points: Kriging believer), else qLogEI."""
        analytic = require("botorch.acquisition.analytic")
        if ctx.analytic_ok:
            return _analytic(analytic.LogExpectedImprovement(ctx.model, best_f=ctx.best_f()), ctx)
        if ctx.believer_ok and (believer := _believer_logei(ctx)) is not None:
            return believer
        if ctx.analytic_constrained_ok:
            acqf = analytic.LogConstrainedExpectedImprovement(
                ctx.model,
                best_f=ctx.best_f(),
                objective_index=0,
                constraints={1 + j: (None, 0.0) for j in range(ctx.n_constraints)},
            )
            return _analytic(acqf, ctx)
        logei = require("botorch.acquisition.logei")
        return logei.qLogExpectedImprovement(
            ctx.model,
            best_f=ctx.best_f(),
            sampler=ctx.sampler(),
            objective=ctx.objective(),
            constraints=ctx.constraint_callables(),
            X_pending=ctx.X_pending,
        )


class LogNEI(Acquisition):
    """Log noisy expected improvement (integrates over the noisy incumbent)."""

    name = "lognei"

    def build(self, ctx: AcquisitionContext) -> Any:
        """``qLogNoisyExpectedImprovement`` with ``prune_baseline``."""
        logei = require("botorch.acquisition.logei")
        return logei.qLogNoisyExpectedImprovement(
            ctx.model,
            X_baseline=ctx.X_baseline,
            sampler=ctx.sampler(),
            objective=ctx.objective(),
            constraints=ctx.constraint_callables(),
            X_pending=ctx.X_pending,
            prune_baseline=True,
            cache_root=False,
        )


class UCB(Acquisition):
    """Upper confidence bound ``mean + sqrt(beta) * std``."""

    name = "ucb"
    supports_constraints = False

    def build(self, ctx: AcquisitionContext) -> Any:
        """Analytic UCB for q=1, else qUCB."""
        if ctx.analytic_ok:
            analytic = require("botorch.acquisition.analytic")
            return _analytic(analytic.UpperConfidenceBound(ctx.model, beta=ctx.ucb_beta), ctx)
        mc = require("botorch.acquisition.monte_carlo")
        return mc.qUpperConfidenceBound(
            ctx.model, beta=ctx.ucb_beta, sampler=ctx.sampler(), X_pending=ctx.X_pending
        )


class PI(Acquisition):
    """Probability of improvement over the best feasible observation."""

    name = "pi"

    def build(self, ctx: AcquisitionContext) -> Any:
        """Analytic LogPI for q=1, else qPI with constraints and pending points."""
        if ctx.analytic_ok:
            analytic = require("botorch.acquisition.analytic")
            acqf = analytic.LogProbabilityOfImprovement(ctx.model, best_f=ctx.best_f())
            return _analytic(acqf, ctx)
        mc = require("botorch.acquisition.monte_carlo")
        return mc.qProbabilityOfImprovement(
            ctx.model,
            best_f=ctx.best_f(),
            sampler=ctx.sampler(),
            objective=ctx.objective(),
            constraints=ctx.constraint_callables(),
            X_pending=ctx.X_pending,
        )


class KnowledgeGradient(Acquisition):
    """One-shot knowledge gradient (value of information about the maximiser)."""

    name = "kg"
    supports_constraints = False
    one_shot = True

    def build(self, ctx: AcquisitionContext) -> Any:
        """``qKnowledgeGradient`` with 16 fantasies."""
        kg = require("botorch.acquisition.knowledge_gradient")
        return kg.qKnowledgeGradient(ctx.model, num_fantasies=16, X_pending=ctx.X_pending)


class LogNEHVI(Acquisition):
    """Log noisy expected hypervolume improvement (several objectives)."""

    name = "lognehvi"
    multi_objective = True

    def build(self, ctx: AcquisitionContext) -> Any:
        """``qLogNoisyExpectedHypervolumeImprovement`` over the reference point."""
        torch = require("torch")
        mo = require("botorch.acquisition.multi_objective.logei")
        if ctx.ref_point is None:
            raise InvalidInputError("ref_point", "is missing", "set objective thresholds")
        if ctx.logehvi_ok and (fast := _numpy_logehvi(ctx)) is not None:
            return fast
        return mo.qLogNoisyExpectedHypervolumeImprovement(
            ctx.model,
            ref_point=torch.as_tensor(ctx.ref_point, dtype=torch.float64).tolist(),
            X_baseline=ctx.X_baseline,
            sampler=ctx.sampler(),
            objective=ctx.objective(),
            constraints=ctx.constraint_callables(),
            X_pending=ctx.X_pending,
            prune_baseline=True,
            cache_root=False,
        )


#: Registry: acquisition name -> class.
ACQUISITIONS: dict[str, type[Acquisition]] = {
    cls.name: cls for cls in (LogEI, LogNEI, UCB, PI, KnowledgeGradient, LogNEHVI)
}


def default_acquisition(n_objectives: int) -> str:
    """``logei`` for one objective, ``lognehvi`` for several."""
    return "logei" if n_objectives == 1 else "lognehvi"


def make_acquisition(name: str) -> Acquisition:
    """An acquisition by registry name."""
    if name not in ACQUISITIONS:
        raise InvalidInputError(
            "acquisition", f"unknown acquisition {name!r}", f"use one of {list(ACQUISITIONS)}"
        )
    return ACQUISITIONS[name]()
