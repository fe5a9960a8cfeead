"""Campaign analysis: surrogate cross-validation, Pareto fronts, hypervolume, sensitivity.

All functions take plain arrays (``X``: ``n x d`` encoded inputs, ``Y``: ``n x m``
outcomes, maximised unless ``directions`` says otherwise) or a
:class:`~crucible.bo.campaign.Campaign`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from crucible._imports import require
from crucible.bo.pareto import _as_matrix, directions_signs, pareto_mask
from crucible.bo.surrogates import Surrogate
from crucible.exceptions import InvalidInputError
from crucible.space import Encoding, Space

if TYPE_CHECKING:
    from crucible.bo.trials import Trial

__all__ = [
    "CVResult",
    "Recommendation",
    "campaign_sensitivity",
    "cross_validate",
    "cross_validate_campaign",
    "directions_signs",
    "hypervolume",
    "pareto_mask",
    "recommend",
    "sensitivity",
]


@dataclass(frozen=True)
class CVResult:
    """Cross-validated accuracy of a surrogate on one outcome.

    Attributes:
        rmse: Root mean squared error of the held-out means.
        r2: Coefficient of determination of the held-out means.
        nlpd: Mean negative log predictive density (Gaussian; lower is better).
        coverage_95: Fraction of held-out values inside mean +- 1.96 std (ideal 0.95).
        n: Number of held-out predictions.
        y_true: Held-out values, shape ``n``.
        y_mean: Predicted means, shape ``n``.
        y_std: Predicted standard deviations, shape ``n``.
    """

    rmse: float
    r2: float
    nlpd: float
    coverage_95: float
    n: int
    y_true: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray

    def summary(self) -> dict[str, float]:
        """The scalar metrics as a dict."""
        return {k: v for k, v in asdict(self).items() if not isinstance(v, np.ndarray)}


def cross_validate(
    make_surrogate: Callable[[], Surrogate],
    X: np.ndarray,
    y: np.ndarray,
    folds: int = 5,
    seed: int = 0,
) -> CVResult:
    """K-fold cross-validation of a surrogate on one outcome.

    Args:
        make_surrogate: Factory of unfitted surrogates.
        X: Encoded inputs, ``n x d``.
        y: Outcome, shape ``n``.
        folds: Number of folds (``n`` for leave-one-out).
        seed: Shuffling seed.

    Returns:
        The metrics and the held-out predictions.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    n = len(y)
    if n < 3 or folds < 2:
        raise InvalidInputError(
            "X", f"has {n} rows for {folds} folds", "use >= 3 rows, >= 2 folds"
        )
    folds = min(folds, n)
    order = np.random.default_rng(seed).permutation(n)
    mean, std = np.zeros(n), np.zeros(n)
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        surrogate = make_surrogate()
        surrogate.fit(X[train], y[train, None])
        mu, sd = surrogate.predict(X[test])
        mean[test], std[test] = mu[:, 0], sd[:, 0]
    return _cv_metrics(y, mean, std)


def _cv_metrics(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> CVResult:
    resid = y - mean
    rmse = float(np.sqrt(np.mean(resid**2)))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else math.nan
    var = np.maximum(std, 1e-9 * max(float(np.std(y)), 1e-12)) ** 2
    nlpd = float(np.mean(0.5 * np.log(2 * math.pi * var) + 0.5 * resid**2 / var))
    coverage = float(np.mean(np.abs(resid) <= 1.96 * np.sqrt(var)))
    return CVResult(rmse, r2, nlpd, coverage, len(y), y, mean, std)


def cross_validate_campaign(campaign: Any, folds: int = 5) -> dict[str, CVResult]:
    """Cross-validate the campaign's surrogate on each modelled metric.

    Returns:
        Metric name -> :class:`CVResult` (objectives in their original sign, constraint
        metrics as slacks).
    """
    from crucible.bo.strategy import encoding_for, modelled_outcomes

    done = campaign.completed()
    space: Space = campaign.space
    X = space.encode([t.params for t in done], encoding_for(space, campaign.strategy))
    Y, slack = modelled_outcomes(
        [t.values for t in done], campaign.objectives, campaign.config.constraints
    )
    out: dict[str, CVResult] = {}
    columns = [(o.name, Y[:, j] * o.sign) for j, o in enumerate(campaign.objectives)]
    columns += [
        (f"{c.metric}_slack", slack[:, j]) for j, c in enumerate(campaign.config.constraints)
    ]
    for name, y in columns:

        def factory(y: np.ndarray = y) -> Surrogate:
            return _Prefit(space, campaign.strategy, y)

        out[name] = cross_validate(factory, X, y, folds=folds, seed=campaign.strategy.seed)
    return out


class _Prefit(Surrogate):
    """Adapter so :func:`cross_validate` can use the strategy's surrogate factory."""

    name = "strategy"

    def __init__(self, space: Space, strategy: Any, y: np.ndarray) -> None:
        self.space, self.strategy = space, strategy
        self._inner: Surrogate | None = None

    def fit(self, X: np.ndarray, Y: np.ndarray, warm_start: bytes | None = None) -> None:
        from crucible.bo.strategy import fit_surrogate

        self._inner = fit_surrogate(self.space, self.strategy, X, Y)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self._inner is not None
        return self._inner.predict(X)

    @property
    def model(self) -> Any:
        assert self._inner is not None
        return self._inner.model

    def to_bytes(self) -> bytes:
        assert self._inner is not None
        return self._inner.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Surrogate:
        raise NotImplementedError("use the inner surrogate's from_bytes")


def hypervolume(
    Y: np.ndarray, ref_point: np.ndarray | Sequence[float], directions: Sequence[str] | None = None
) -> float:
    """Hypervolume of the region that the rows of ``Y`` dominate, bounded by ``ref_point``.

    Values and reference point are in the objectives' own units: with
    ``directions=["minimize", "maximize"]`` a point counts where its first value is below
    and its second above the reference. Rows that are not strictly better than the
    reference in every objective add nothing. Computed with BoTorch's
    ``DominatedPartitioning`` (exact).

    Args:
        Y: Objective values, ``n x m`` (``n`` may be 0).
        ref_point: The reference point, ``m`` values (the worst acceptable values).
        directions: ``"minimize"`` or ``"maximize"`` per objective; None maximises every
            objective (the internal convention of
            :func:`~crucible.bo.objectives.objective_matrix`).

    Returns:
        The hypervolume (0.0 when no row beats the reference point).

    Raises:
        InvalidInputError: Shapes that disagree, non-finite values, or a bad direction.
    """
    Y = _as_matrix(Y)
    ref = _as_matrix(np.asarray(ref_point, dtype=float).reshape(1, -1), "ref_point")[0]
    if Y.shape[1] != len(ref) and len(Y):
        raise InvalidInputError(
            "ref_point",
            f"has {len(ref)} values for {Y.shape[1]} objectives",
            "give one per objective",
        )
    signs = directions_signs(directions, len(ref))
    Y_max, ref_max = Y.reshape(-1, len(ref)) * signs, ref * signs
    keep = np.all(Y_max > ref_max, axis=1)
    if not keep.any():
        return 0.0
    torch = require("torch")
    box = require("botorch.utils.multi_objective.box_decompositions.dominated")
    partitioning = box.DominatedPartitioning(
        ref_point=torch.as_tensor(ref_max, dtype=torch.float64),
        Y=torch.as_tensor(Y_max[keep], dtype=torch.float64),
    )
    return float(partitioning.compute_hypervolume())


def sensitivity(
    predict_mean: Callable[[np.ndarray], np.ndarray],
    space: Space,
    encoding: str = "onehot",
    n_samples: int = 256,
    n_levels: int = 16,
    seed: int = 0,
) -> dict[str, float]:
    """First-order (main-effect) sensitivity of a model's mean to each parameter.

    For each tunable parameter the main effect ``E[f | x_i]`` is estimated on
    ``n_levels`` values of ``x_i`` (every choice for categoricals), averaging over
    ``n_samples`` random settings of the other parameters; the index is
    ``Var(E[f | x_i]) / Var(f)`` (Sobol's first-order index, estimated).

    Args:
        predict_mean: ``n x d`` encoded inputs -> ``n`` predicted means.
        space: Parameter space.
        encoding: Encoding of the model's inputs.
        n_samples: Random settings of the other parameters.
        n_levels: Values per numeric parameter.
        seed: Seed.

    Returns:
        Parameter name -> index in ``[0, 1]`` (the numbers need not sum to 1).
    """
    from crucible.design import make_design

    base = make_design("random", space, n_samples, seed=seed)
    enc: Encoding = "index" if encoding == "index" else "onehot"
    total_var = float(np.var(predict_mean(space.encode(base, enc))))
    out: dict[str, float] = {}
    for p in space.tunable:
        if p.type == "categorical":
            values: list[Any] = list(p.choices)
        else:
            values = list(dict.fromkeys(p.from_unit(u) for u in np.linspace(0, 1, n_levels)))
        effects = []
        for v in values:
            rows = [{**b, p.name: v} for b in base]
            effects.append(float(np.mean(predict_mean(space.encode(rows, enc)))))
        out[p.name] = float(np.var(effects) / total_var) if total_var > 0 else 0.0
    return out


def campaign_sensitivity(campaign: Any, objective: int = 0) -> dict[str, float]:
    """:func:`sensitivity` of the campaign's surrogate for one objective."""
    from crucible.bo.strategy import encoding_for

    surrogate = campaign.fit_surrogate()
    encoding = encoding_for(campaign.space, campaign.strategy)

    def mean(X: np.ndarray) -> np.ndarray:
        return surrogate.predict(X)[0][:, objective]

    return sensitivity(mean, campaign.space, encoding, seed=campaign.strategy.seed)


@dataclass(frozen=True)
class Recommendation:
    """The trial a campaign recommends, with the surrogate's posterior there.

    Attributes:
        trial: The recommended completed trial (observed values in ``trial.values``).
        mean: Objective name -> posterior mean at the trial (the objective's own units).
        std: Objective name -> posterior standard deviation (no observation noise).
        source: ``model`` (best posterior mean) or ``observed`` (fewer than two completed
            trials, no model: the best observed trial, ``std`` 0).
    """

    trial: Trial
    mean: dict[str, float]
    std: dict[str, float]
    source: Literal["model", "observed"] = "model"


def recommend(campaign: Any) -> Recommendation | None:
    """The feasible completed trial with the best posterior mean (see ``Campaign.recommend``).

    One objective: the trial whose posterior mean of the objective is best. Several: the
    Pareto rule of ``Campaign.best`` (``Campaign.balanced_index``) applied to the posterior
    means. The surrogate is the campaign's strategy's, fitted on every completed trial with
    a fitted prior mean (``Campaign.fit_surrogate``).

    Returns:
        The recommendation; None when no feasible trial is completed.
    """
    from crucible.bo.strategy import encoding_for

    completed = campaign.completed()
    feasible = [t for t in completed if campaign.is_feasible(t.values)]
    names = [o.name for o in campaign.objectives]
    if not feasible:
        return None
    if len(completed) < 2:
        best = campaign.best()
        return Recommendation(
            best, {n: best.values[n] for n in names}, dict.fromkeys(names, 0.0), "observed"
        )
    surrogate = campaign.fit_surrogate()
    encoding = encoding_for(campaign.space, campaign.strategy)
    mean, std = surrogate.predict(campaign.space.encode([t.params for t in feasible], encoding))
    m = len(names)
    maximised = mean[:, :m]
    index = int(np.argmax(maximised[:, 0])) if m == 1 else campaign.balanced_index(maximised)
    return Recommendation(
        feasible[index],
        {o.name: float(o.sign * maximised[index, j]) for j, o in enumerate(campaign.objectives)},
        {n: float(std[index, j]) for j, n in enumerate(names)},
    )
