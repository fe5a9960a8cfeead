"""The BO strategy: initial design, then fit a surrogate and maximise an acquisition.

:class:`Strategy` is the pydantic configuration stored with a campaign;
:func:`propose` is the pure function the campaign calls with the observed data. The
defaults are the benchmarked "Crucible default": scrambled Sobol initial design, a GP
(``SingleTaskGP``, categoricals one-hot encoded; ``MixedSingleTaskGP`` on request) with
warm-started hyperparameters, fitted to the objective or, when that explains the data
better, to its Yeo-Johnson warp (:mod:`crucible.bo.warping`), analytic LogEI for one
objective without constraints (with pending points: on the Kriging-believer fantasy
model, ``Strategy.pending_points``), qLogEI with outcome constraints and pending points,
qLogNEHVI for several objectives, and the cheap multi-start optimiser of
:mod:`crucible.bo.optimize`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from crucible._imports import require
from crucible.bo.acquisition import (
    AcquisitionContext,
    default_acquisition,
    make_acquisition,
)
from crucible.bo.objectives import (
    Objective,
    OutcomeConstraint,
    constraint_slack,
    objective_matrix,
)
from crucible.bo.optimize import AcqfOptions, optimize_acquisition
from crucible.bo.surrogates import GPSurrogate, NoisePrior, Surrogate, make_surrogate
from crucible.bo.trust_region import TrustRegion, replay_length, trust_region
from crucible.bo.warping import OutcomeWarp, power_warp
from crucible.space import Encoding, Space
from crucible.validation import schema_help

__all__ = ["Proposal", "Strategy", "fit_surrogate", "import_model_stack", "propose"]


class Strategy(BaseModel):
    """How a campaign chooses its next experiments.

    Attributes:
        n_init: Initial-design size; ``None`` means ``max(5, 2 * number of tunable
            parameters)``.
        init_design: Space-filling design used first.
        surrogate: ``gp`` or ``rf``.
        acquisition: ``auto`` or a registry name. ``auto`` is LogNEHVI for several
            objectives; for one it is LogEI, or LogNEI (qLogNoisyExpectedImprovement,
            which integrates over the noisy incumbent) at a proposal whose GP attributes
            more than ``noisy_threshold`` of the outcome's variance to noise (from then
            on for the campaign: the choice is kept in the warm-start state). On noisy
            Branin and Hartmann6 LogNEI lowered the recommended point's regret at 5-7x the
            CPU per suggestion (``benchmarks/bo_scenarios.py``, ``docs/bo.md``).
        noisy_threshold: Fitted noise share (noise variance over the standardised
            outcome's, in [0, 1]) above which ``auto`` switches to LogNEI for one
            objective; 1 keeps LogEI. At 0.1 the switch never fired on the 70 noise-free
            benchmark runs (largest share 0.069) and fired on noisy Branin and on
            Hartmann6 with noise of 20 % of the range (``docs/bo.md``).
        num_restarts: Local-search starts of the acquisition optimiser; ``None`` (default)
            means 3, or 10 from :data:`HIGH_DIM` tunable parameters (see
            :meth:`optimizer_effort`).
        raw_samples: Space-filling candidates scored to pick the starts; ``None`` (default)
            means 256, or 1024 from :data:`HIGH_DIM` tunable parameters.
        acq_maxiter: L-BFGS-B iterations per start.
        fit_maxiter: L-BFGS-B iterations of the GP hyperparameter fit.
        kernel: GP kernel on continuous columns, ``rbf`` or ``matern`` (5/2).
        refit_maxiter: GP fit iterations when warm-started from the previous fit.
        min_noise: GP noise-variance floor (standardised outcome units); 1e-6 suits
            deterministic or low-noise experiments, 1e-4 is BoTorch's default.
        noise_prior: Prior of the GP noise variance: ``gamma`` (Gamma(1.1, 30), as
            Optuna's GPSampler; lets the noise of a deterministic objective fall to
            ``min_noise``) or ``lognormal`` (BoTorch's LogNormal(-4, 1), which keeps it
            near 1e-3 and stalls the final polishing). See
            :func:`crucible.bo.surrogates.noise_prior`.
        mc_samples: Quasi-MC samples of Monte-Carlo acquisitions.
        warm_start: Start each GP fit from the previous hyperparameters (at most
            ``refit_maxiter`` steps). ``None`` (default): on for one objective below
            :data:`HIGH_DIM` tunable parameters; from it every fit starts from BoTorch's
            initial values, which lowered the median final regret on Hartmann6 in 30-D
            from 1.7e-3 to 1.4e-4 (10 seeds; see :meth:`warm_start_for`). With several
            objectives each proposal fits from BoTorch's initial values and from the
            previous hyperparameters and keeps the higher marginal likelihood
            (:meth:`fits_twice`), which lowered DTLZ2's median log10 hypervolume regret
            from -0.83 to -1.14 (``benchmarks/LOG.md``).
        start_at_incumbent: Also start one acquisition local search at the best
            observed point, as Optuna's GPSampler does (measured in
            ``benchmarks/LOG.md``).
        acquisition_reference: With several objectives and no thresholds, the reference
            point of the hypervolume acquisition: ``current`` (default) infers it from the
            completed trials at each proposal, so it follows the front as it improves (as
            Ax re-infers its objective thresholds); ``stored`` uses the campaign's stored
            point (:meth:`~crucible.bo.campaign.Campaign.reference_point`, inferred once
            after the initial design). The stored point stays what the campaign reports in
            either case. ``current`` lowered the median log10 hypervolume regret on
            BraninCurrin from 0.39 to 0.18 and on DTLZ2 from -1.14 to -1.28
            (``benchmarks/LOG.md``).
        ucb_beta: Exploration weight of UCB.
        outcome_warp: Monotone warp of a single objective before the GP fit (see
            :func:`fit_warped_surrogate`): ``auto`` uses the Yeo-Johnson warp when it
            raises the marginal likelihood, ``power`` whenever it compresses the bad
            tail, ``none`` never.
        categorical_kernel: How the GP treats categorical parameters: ``onehot`` (one
            continuous column per choice and a Matern kernel over all columns, as Ax
            does) or ``mixed`` (BoTorch's ``MixedSingleTaskGP``: index columns with a
            categorical kernel). ``onehot`` suits categories that change the landscape
            (``benchmarks/bo.py``'s mixed problem), ``mixed`` an additive category effect
            at half the CPU per suggestion, so Crucible's Optuna sampler uses ``mixed``.
        incumbent: The value EI and PI improve on: ``posterior_mean`` (the best posterior
            mean at the feasible observed points, the plug-in incumbent of noisy EI) or
            ``observed`` (the best feasible observed value). Where the GP interpolates
            the two agree; where it smooths a rugged objective (Ackley5 in
            ``benchmarks/bo.py``: a smooth bowl under ripples) the observed best lies
            below the model's whole surface, so EI expects nothing anywhere the model
            is confident and spends the budget on the box corners.
        prior_mean: The GP's constant prior mean of each objective in proposals:
            ``worst`` pins it at the worst observed value (a pessimistic mean, see
            :func:`crucible.bo.surrogates.pin_pessimistic_mean`), ``fitted`` learns it
            with the other hyperparameters, ``auto`` (default) resolves by the number of
            objectives (:meth:`prior_mean_for`): ``worst`` for one objective, where far
            from the data the model then expects the worst, so EI stops choosing box
            corners for distance alone; ``fitted`` for several, where a pessimistic mean
            held qLogNEHVI back (``benchmarks/bo_moo.py``, ``docs/bo.md``). Constraint
            slacks, predictions and cross-validation always use a fitted mean.
        fast_posterior: Use :mod:`crucible.bo.fast`, an exact re-implementation of
            the GP prediction and marginal likelihood without GPyTorch's per-call
            overhead, for analytic acquisitions (q=1; with pending points see
            ``pending_points``), for several objectives (q=1, nothing pending: LogEHVI
            over the posterior-mean Pareto front in NumPy instead of qLogNEHVI,
            :mod:`crucible.bo.fast.ehvi`) and for the GP fits (:mod:`crucible.bo.fast.mll`'s
            NumPy loss and closed-form gradient, one output or several).
        pending_points: How a suggestion accounts for pending points (trials still
            running, or earlier picks of a batch) with one objective and no outcome
            constraints: ``believer`` conditions the fitted GP on them at its posterior
            mean (Kriging believer, hyperparameters kept, a Cholesky block update) and
            maximises analytic LogEI over the best of the incumbent and their means, on
            the NumPy fast path; ``mc`` uses BoTorch's Monte-Carlo qLogEI, which
            integrates over their outcomes (3-4x the CPU per suggestion; measured with 4
            asynchronous workers in ``benchmarks/bo_scenarios.py``, ``docs/bo.md``).
            Other cases (several objectives, constraints, ``fast_posterior=False``,
            other acquisitions) always use the Monte-Carlo acquisition.
        trust_region: ``on`` searches a TuRBO-style trust region around the best point
            instead of the whole space (:mod:`crucible.bo.trust_region`); one objective, GP
            surrogate with one-hot categoricals, ignored otherwise. ``off`` (default): on
            Hartmann6 in 30-D and Ackley in 20-D it did not beat the whole-space search
            (``benchmarks/LOG.md``).
        seed: Seed of the design, samplers and optimiser.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=schema_help)

    n_init: int | None = Field(default=None, ge=1, le=100_000, strict=True)
    init_design: Literal["sobol", "lhs", "random"] = "sobol"
    surrogate: Literal["gp", "rf"] = "gp"
    acquisition: Literal["auto", "logei", "lognei", "ucb", "pi", "kg", "lognehvi"] = "auto"
    num_restarts: int | None = Field(default=None, ge=1, le=1_000, strict=True)
    raw_samples: int | None = Field(default=None, ge=8, le=100_000, strict=True)
    acq_maxiter: int = Field(default=200, ge=1, le=100_000, strict=True)
    fit_maxiter: int = Field(default=200, ge=1, le=100_000, strict=True)
    min_noise: float = Field(default=1e-6, gt=0, le=1, strict=True)
    noise_prior: NoisePrior = "gamma"
    kernel: Literal["rbf", "matern"] = "matern"
    refit_maxiter: int = Field(default=15, ge=1, le=100_000, strict=True)
    mc_samples: int = Field(default=128, ge=8, le=100_000, strict=True)
    warm_start: bool | None = Field(default=None, strict=True)
    start_at_incumbent: bool = Field(default=True, strict=True)
    ucb_beta: float = Field(default=2.0, gt=0, allow_inf_nan=False, strict=True)
    fast_posterior: bool = Field(default=True, strict=True)
    outcome_warp: OutcomeWarp = "auto"
    categorical_kernel: Literal["onehot", "mixed"] = "onehot"
    incumbent: Literal["observed", "posterior_mean"] = "posterior_mean"
    prior_mean: Literal["auto", "worst", "fitted"] = "auto"
    trust_region: Literal["off", "on"] = "off"
    pending_points: Literal["believer", "mc"] = "believer"
    acquisition_reference: Literal["current", "stored"] = "current"
    noisy_threshold: float = Field(default=0.1, ge=0, le=1, allow_inf_nan=False, strict=True)
    seed: int = Field(default=0, ge=0, le=2**32 - 1, strict=True)

    def initial_size(self, space: Space) -> int:
        """Number of initial-design points for ``space``."""
        return self.n_init if self.n_init is not None else max(5, 2 * len(space.tunable))

    def prior_mean_for(self, n_objectives: int) -> Literal["worst", "fitted"]:
        """The resolved prior mean: ``auto`` is ``worst`` for one objective, else ``fitted``."""
        if self.prior_mean == "auto":
            return "worst" if n_objectives == 1 else "fitted"
        return self.prior_mean

    def warm_start_for(self, n_objectives: int, space: Space) -> bool:
        """Whether GP fits start from the previous ones.

        The set value, else: one objective and fewer than :data:`HIGH_DIM` tunable
        parameters. In many dimensions a warm start's few steps (``refit_maxiter``) keep
        the lengthscales an early fit gave the inactive parameters: on Hartmann6 in
        30-D, fits from BoTorch's initial values at every proposal gave a median final
        regret of 1.4e-4 against 1.7e-3 (lower on 8 of 10 seeds), at 0.36 instead of
        0.14 CPU-s per proposal (``benchmarks/LOG.md``).
        """
        if self.warm_start is not None:
            return self.warm_start
        return n_objectives == 1 and not is_high_dim(space)

    def fits_twice(self, n_objectives: int) -> bool:
        """Whether a proposal fits the GP cold and warm and keeps the higher likelihood.

        ``warm_start=None`` with several objectives: a fit from BoTorch's initial values
        and one from the previous hyperparameters, the one with the higher log marginal
        likelihood (summed over the objectives) is kept.
        """
        return self.warm_start is None and n_objectives > 1 and self.surrogate == "gp"

    def optimizer_effort(self, space: Space) -> tuple[int, int]:
        """``(num_restarts, raw_samples)`` for ``space``: the set values, else by dimension.

        Below :data:`HIGH_DIM` tunable parameters 3 starts from 256 candidates; from it 10
        from 1024, which on Hartmann6 in 30-D and Ackley in 20-D lowered the median final
        regret (0.0017 vs 0.0022, 2.63 vs 2.93, 10 seeds; ``benchmarks/LOG.md``) for
        0.14 instead of 0.09 CPU-s per suggestion.
        """
        high = is_high_dim(space)
        restarts = self.num_restarts or (10 if high else 3)
        raw = self.raw_samples or (1024 if high else 256)
        return restarts, raw

    def uses_trust_region(self, space: Space, n_objectives: int) -> bool:
        """Whether proposals search a trust region (see ``trust_region``)."""
        applicable = (
            n_objectives == 1 and self.surrogate == "gp" and encoding_for(space, self) == "onehot"
        )
        return applicable and self.trust_region == "on"

    def acquisition_name(self, n_objectives: int, noisy: bool = False) -> str:
        """The resolved acquisition name.

        ``auto`` is LogNEHVI for several objectives; for one, LogEI, or LogNEI when the
        measurements are ``noisy`` (the proposal's GP attributes more than
        ``noisy_threshold`` of the outcome's variance to noise, see :func:`propose`).
        """
        if self.acquisition != "auto":
            return self.acquisition
        return "lognei" if n_objectives == 1 and noisy else default_acquisition(n_objectives)


#: From this many tunable parameters the optimiser's default effort is higher
#: (:meth:`Strategy.optimizer_effort`) and one objective's GP fits start from BoTorch's
#: initial values (:meth:`Strategy.warm_start_for`); measured at 20 and 30, not between 7
#: and 19.
HIGH_DIM = 20


def is_high_dim(space: Space) -> bool:
    """Whether ``space`` has at least :data:`HIGH_DIM` tunable parameters."""
    return len(space.tunable) >= HIGH_DIM


@dataclass
class Proposal:
    """Result of :func:`propose`.

    Attributes:
        points: Suggested parameter dicts.
        hyperparameters: Warm-start blob for the next fit (GP only).
        info: What was used (surrogate, acquisition, encoded dimension).
    """

    points: list[dict[str, Any]]
    hyperparameters: bytes | None = None
    info: dict[str, Any] = field(default_factory=dict)


def import_model_stack(strategy: Strategy) -> None:
    """Import what a model-based proposal needs (torch, BoTorch, SciPy, scikit-learn for ``rf``).

    A campaign calls this before it takes the store lock, so a fresh process does not hold
    the lock for the seconds these imports take.

    Raises:
        MissingDependencyError: The ``bo`` extra is not installed.
    """
    require("botorch")
    require("scipy.stats")
    if strategy.surrogate == "rf":
        require("sklearn.ensemble")


def encoding_for(space: Space, strategy: Strategy | None = None) -> Encoding:
    """``index`` for a GP with ``categorical_kernel="mixed"`` on categoricals, else ``onehot``."""
    mixed = (
        strategy is not None
        and strategy.surrogate == "gp"
        and strategy.categorical_kernel == "mixed"
    )
    return "index" if mixed and space.has_categorical else "onehot"


def modelled_outcomes(
    values: Sequence[Mapping[str, float]],
    objectives: Sequence[Objective],
    constraints: Sequence[OutcomeConstraint],
) -> tuple[np.ndarray, np.ndarray]:
    """Maximised objectives ``n x m`` and constraint slacks ``n x c``."""
    return objective_matrix(values, objectives), constraint_slack(values, constraints)


def fit_surrogate(
    space: Space,
    strategy: Strategy,
    X: np.ndarray,
    outcomes: np.ndarray,
    warm_start: bytes | None = None,
    pessimistic_outputs: int = 0,
) -> Surrogate:
    """Fit the strategy's surrogate on encoded ``X`` (``n x d``) and ``outcomes`` (``n x k``).

    ``warm_start``: hyperparameters to start from, or None; the caller resolves
    ``strategy.warm_start`` (:func:`fit_warped_surrogate`).

    ``pessimistic_outputs``: leading outputs whose GP prior mean is pinned at their worst
    value (:func:`crucible.bo.surrogates.pin_pessimistic_mean`); proposals pass the number
    of objectives when ``strategy.prior_mean_for(m) == "worst"``, analysis keeps fitted means.
    """
    encoding = encoding_for(space, strategy)
    if strategy.surrogate == "gp":
        cat_dims = list(space.categorical_columns("index")) if encoding == "index" else []
        surrogate: Surrogate = GPSurrogate(
            cat_dims,
            strategy.fit_maxiter,
            strategy.min_noise,
            strategy.kernel,
            strategy.refit_maxiter,
            strategy.fast_posterior,
            strategy.noise_prior,
            pessimistic_outputs,
        )
    else:
        surrogate = make_surrogate("rf", seed=strategy.seed)
    surrogate.fit(X, outcomes, warm_start=warm_start)
    return surrogate


#: ``auto`` re-runs its raw-versus-warped comparison when the number of observations is a
#: multiple of this (and when no choice is stored yet); in between it reuses the choice
#: stored with the warm-start hyperparameters, so most steps fit one GP, not two.
WARP_RECHECK_EVERY = 5
_WARP_KEY = "crucible.outcome_warp"
_WARPS = ("none", "power")


def fit_warped_surrogate(
    space: Space,
    strategy: Strategy,
    X: np.ndarray,
    Y: np.ndarray,
    slack: np.ndarray,
    warm_start: bytes | None = None,
) -> tuple[Surrogate, np.ndarray, str]:
    """Fit the surrogate on the objective warped as ``strategy.outcome_warp`` says.

    ``auto`` fits the GP to the raw and to the :func:`~crucible.bo.warping.power_warp`-ed
    objective and keeps the one with the higher marginal likelihood of the raw values
    (the warp's log-Jacobian included): the warp is used when it explains the data
    better. The choice is re-checked every :data:`WARP_RECHECK_EVERY` observations.
    Warps apply to a single objective with the GP surrogate only.

    Args:
        space: Parameter space.
        strategy: Strategy settings.
        X: Encoded points, ``n x d``.
        Y: Maximised objectives, ``n x m``.
        slack: Constraint slacks, ``n x c`` (never warped).
        warm_start: Hyperparameter blob from the previous proposal.

    Returns:
        ``(surrogate, the objective values it was fitted to, "power" or "none")``.
    """
    applicable = Y.shape[1] == 1 and strategy.surrogate == "gp"
    warped = power_warp(Y[:, 0]) if applicable and strategy.outcome_warp != "none" else None
    pessimistic = Y.shape[1] if strategy.prior_mean_for(Y.shape[1]) == "worst" else 0
    start = warm_start if strategy.warm_start_for(Y.shape[1], space) else None

    def fit(Y_obj: np.ndarray, start: bytes | None = start) -> Surrogate:
        outcomes = np.hstack([Y_obj, slack])
        return fit_surrogate(space, strategy, X, outcomes, start, pessimistic)

    if warped is None and strategy.fits_twice(Y.shape[1]) and warm_start is not None:
        return _best_evidence([fit(Y), fit(Y, warm_start)], Y.shape[1]), Y, "none"
    if warped is None:
        return fit(Y), Y, "none"
    candidates = {"none": Y, "power": warped[0][:, None]}
    if strategy.outcome_warp == "power":
        choice = "power"
    elif len(Y) % WARP_RECHECK_EVERY and (stored := _stored_warp(warm_start)):
        choice = stored  # between rechecks, and only once a choice is stored
    else:
        fits = {w: fit(v) for w, v in candidates.items()}
        evidence = {w: _gp(f).log_evidence(0) for w, f in fits.items()}
        choice = "power" if evidence["power"] + warped[1] > evidence["none"] else "none"
        return _tag(fits[choice], choice), candidates[choice], choice
    return _tag(fit(candidates[choice]), choice), candidates[choice], choice


def _best_evidence(fits: list[Surrogate], n_objectives: int) -> Surrogate:
    """The fit with the highest log marginal likelihood summed over the objectives."""
    evidence = [sum(_gp(f).log_evidence(j) for j in range(n_objectives)) for f in fits]
    return fits[int(np.argmax(evidence))]


def _gp(surrogate: Surrogate) -> GPSurrogate:
    assert isinstance(surrogate, GPSurrogate)
    return surrogate


def _stored_warp(warm_start: bytes | None) -> str | None:
    """The warp recorded in a warm-start blob by :func:`_tag`, if any."""
    code = GPSurrogate.read_tag(warm_start, _WARP_KEY) if warm_start is not None else None
    return None if code is None else _WARPS[code]


def _tag(surrogate: Surrogate, warp: str) -> Surrogate:
    """Record ``warp`` in the surrogate's warm-start blob (its hyperparameters)."""
    _gp(surrogate).tags[_WARP_KEY] = _WARPS.index(warp)
    return surrogate


def front_reference_point(Y: np.ndarray, slack: np.ndarray | None = None) -> np.ndarray:
    """The nadir of the feasible Pareto front, moved back by 10% of the observed range.

    ``Y`` is maximised (``n x m``, ``n >= 1``); rows with a positive ``slack`` are
    infeasible, and every row is used when none is feasible. The result, in the
    maximisation convention, is ``nadir(front) - 0.1 * (max - min over the feasible
    rows)`` per objective. It follows BoTorch's ``infer_reference_point`` (nadir minus
    10% of the range, Ishibuchi et al. 2011) but takes the range over every feasible
    observation rather than over the front alone: an early front of one or two points has
    almost no range, and its box then shrank to a corner that the acquisition could not
    leave (measured in ``benchmarks/LOG.md``). An objective with no spread falls back to
    10% of its magnitude (BoTorch's rule for a single point).
    """
    from crucible.bo.pareto import pareto_mask

    feasible = np.ones(len(Y), dtype=bool)
    if slack is not None and slack.shape[1]:
        feasible = np.all(slack <= 0, axis=1)
    rows = Y[feasible] if feasible.any() else Y
    nadir = rows[pareto_mask(rows)].min(axis=0)
    span = rows.max(axis=0) - rows.min(axis=0)
    span = np.where(span > 0, span, np.maximum(np.abs(nadir), _MIN_SPAN))
    return nadir - 0.1 * span


#: Smallest spread used for an objective whose observations are all equal (BoTorch's).
_MIN_SPAN = 1e-7


def reference_point(
    Y: np.ndarray, objectives: Sequence[Objective], slack: np.ndarray | None = None
) -> np.ndarray:
    """Maximisation reference point: thresholds where given, else inferred from the data.

    The inferred part is :func:`front_reference_point`: the nadir of the feasible Pareto
    front minus 10% of its range in each objective.

    Args:
        Y: Maximised objectives, ``n x m`` (``n >= 1``).
        objectives: The objectives (their thresholds are used where set).
        slack: Constraint slacks, ``n x c``; rows with a positive slack are infeasible.

    Returns:
        The reference point, ``m`` values in the maximisation convention.
    """
    thresholds = [o.threshold for o in objectives]
    given = np.array(
        [
            o.sign * t if t is not None else np.nan
            for o, t in zip(objectives, thresholds, strict=True)
        ]
    )
    if not np.isnan(given).any():
        return given
    inferred = front_reference_point(Y, slack)
    return np.where(np.isnan(given), inferred, given)


def propose(
    space: Space,
    objectives: Sequence[Objective],
    constraints: Sequence[OutcomeConstraint],
    strategy: Strategy,
    points: Sequence[Mapping[str, Any]],
    values: Sequence[Mapping[str, float]],
    n: int,
    pending: Sequence[Mapping[str, Any]] = (),
    warm_start: bytes | None = None,
    seed: int = 0,
    ref_point: np.ndarray | None = None,
) -> Proposal:
    """Suggest ``n`` new points from the observations (model-based step).

    Args:
        space: Parameter space.
        objectives: The objectives.
        constraints: Outcome constraints.
        strategy: Strategy settings.
        points: Observed parameter dicts (``n_obs >= 2``).
        values: Their metric dicts.
        n: Number of points to suggest.
        pending: Suggested points still running (not suggested again, accounted for).
        warm_start: Hyperparameter blob from the previous proposal.
        seed: Seed of this step (the campaign passes strategy seed + step number).
        ref_point: Hypervolume reference point of several objectives (maximisation
            convention, see :func:`reference_point`); inferred from the data when None.
            A campaign passes the one it stored once its initial design was complete.

    Returns:
        The proposal.

    The step runs under ``torch`` seeded with ``seed`` (BoTorch draws the optimiser's
    starts and refit restarts from the global generator), so a proposal depends only on
    its inputs; the caller's random state is restored afterwards.
    """
    sampling = require("botorch.utils.sampling")
    with sampling.manual_seed(seed):
        return _propose(
            space,
            objectives,
            constraints,
            strategy,
            points,
            values,
            n,
            pending,
            warm_start,
            seed,
            ref_point,
        )


def _propose(
    space: Space,
    objectives: Sequence[Objective],
    constraints: Sequence[OutcomeConstraint],
    strategy: Strategy,
    points: Sequence[Mapping[str, Any]],
    values: Sequence[Mapping[str, float]],
    n: int,
    pending: Sequence[Mapping[str, Any]],
    warm_start: bytes | None,
    seed: int,
    ref_point: np.ndarray | None,
) -> Proposal:
    """:func:`propose` without the seeding (same arguments)."""
    torch = require("torch")
    encoding = encoding_for(space, strategy)
    X = space.encode(points, encoding)
    Y, slack = modelled_outcomes(values, objectives, constraints)
    Y_raw = Y
    surrogate, Y, warp = fit_warped_surrogate(space, strategy, X, Y, slack, warm_start)
    region = None
    if strategy.uses_trust_region(space, len(objectives)):
        region = _trust_region(space, encoding, strategy, X, Y_raw, slack, surrogate)
    noise_share, noisy = _noise_check(surrogate, strategy, len(objectives), warm_start)
    acquisition = make_acquisition(strategy.acquisition_name(len(objectives), noisy))
    ref = None
    if acquisition.multi_objective:
        ref = ref_point if ref_point is not None else reference_point(Y, objectives, slack)
    X_pending = space.encode(pending, encoding) if len(pending) else None
    restarts, raw_samples = strategy.optimizer_effort(space)

    def build(X_pend: Any) -> Any:
        ctx = AcquisitionContext(
            model=surrogate.model,
            X_baseline=torch.as_tensor(X, dtype=torch.float64),
            Y=Y,
            slack=slack,
            X_pending=X_pend,
            q=1,
            ref_point=ref,
            mc_samples=strategy.mc_samples,
            seed=seed,
            ucb_beta=strategy.ucb_beta,
            fast_posterior=strategy.fast_posterior,
            incumbent=strategy.incumbent,
            pending_points=strategy.pending_points,
        )
        acquisition.check(ctx)
        return acquisition.build(ctx)

    chosen = optimize_acquisition(
        build,
        space,
        encoding,
        q=n,
        X_observed=X,
        Y_rank=_rank_score(Y, slack),
        X_pending=X_pending,
        options=AcqfOptions(
            num_restarts=restarts,
            raw_samples=raw_samples,
            maxiter=strategy.acq_maxiter,
            seed=seed,
            start_at_incumbent=strategy.start_at_incumbent,
            region=region,
        ),
        differentiable=surrogate.differentiable,
        one_shot=acquisition.one_shot,
    )
    return Proposal(
        points=space.decode(chosen, encoding),
        hyperparameters=surrogate.hyperparameters(),
        info={
            "surrogate": type(surrogate.model).__name__
            if strategy.surrogate == "gp"
            else "RandomForest",
            "acquisition": acquisition.name,
            "encoding": encoding,
            "outcome_warp": warp,
            "n_observations": len(points),
            **({"noise_share": noise_share} if noise_share is not None else {}),
            **({"trust_region_length": region.length} if region is not None else {}),
        },
    )


_NOISY_KEY = "crucible.noisy"


def _noise_check(
    surrogate: Surrogate, strategy: Strategy, n_objectives: int, warm_start: bytes | None
) -> tuple[float | None, bool]:
    """``(fitted noise share, noisy)`` for ``auto`` with one objective and a GP.

    ``(None, False)`` where ``auto`` does not decide by noise. Noisy means the GP's
    fitted noise share is above ``noisy_threshold``, now or at an earlier proposal of
    the campaign (recorded in the warm-start blob, read as a share of 1): measurement
    noise is a property of the experiment, so the switch to LogNEI is kept rather than
    re-decided from an estimate that fluctuates around the threshold.
    """
    if strategy.acquisition != "auto" or n_objectives != 1 or strategy.surrogate != "gp":
        return None, False
    gp = _gp(surrogate)
    fitted = gp.noise_variance(0)
    seen = warm_start is not None and GPSurrogate.read_tag(warm_start, _NOISY_KEY) == 1
    noisy = (1.0 if seen else fitted) > strategy.noisy_threshold
    if noisy:
        gp.tags[_NOISY_KEY] = 1
    return fitted, noisy


def _trust_region(
    space: Space,
    encoding: Encoding,
    strategy: Strategy,
    X: np.ndarray,
    Y: np.ndarray,
    slack: np.ndarray,
    surrogate: Surrogate,
) -> TrustRegion:
    """The trust region of this step.

    Its side is replayed from the observations, its centre is the best (feasible) one, and
    it is stretched by the GP's lengthscales on the non-categorical columns.
    """
    free = np.ones(X.shape[1], dtype=bool)
    for p in space.tunable:
        if p.type == "categorical":
            free[space.column_slices(encoding)[p.name]] = False
    kernel = _gp(surrogate).model.covar_module
    kernel = getattr(kernel, "base_kernel", kernel)
    lengthscales = kernel.lengthscale.detach().numpy().reshape(-1)[free]
    length = replay_length(Y[:, 0], strategy.initial_size(space), int(free.sum()))
    center = X[int(np.argmax(_rank_score(Y, slack)))]
    return trust_region(center, lengthscales, length, free)


def _rank_score(Y: np.ndarray, slack: np.ndarray) -> np.ndarray:
    """Higher is better: the (first) objective, infeasible rows pushed below feasible ones.

    For several objectives the score is the sum of per-objective ranks, so Pareto-good
    points come first.
    """
    if Y.shape[1] == 1:
        score = Y[:, 0].copy()
    else:
        score = np.argsort(np.argsort(Y, axis=0), axis=0).sum(axis=1).astype(float)
    if slack.shape[1]:
        infeasible = np.any(slack > 0, axis=1)
        score[infeasible] = score.min() - 1.0 - slack[infeasible].clip(min=0).sum(axis=1)
    return score
