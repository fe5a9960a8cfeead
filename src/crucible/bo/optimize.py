"""Maximising an acquisition function over a (mixed, constrained) space.

The optimiser is deliberately cheap, because a suggestion should cost well under a
second on one CPU core:

1. **Starting points.** ``raw_samples`` space-filling points (every categorical choice
   and integer level covered evenly) plus Gaussian perturbations (σ = 0.05 of the range)
   of the best observations, filtered by the linear constraints; the acquisition is
   evaluated on all of them in one batch and ``num_restarts`` starts are drawn with
   BoTorch's Boltzmann rule (``initialize_q_batch``, which keeps the best one). Starting
   next to the incumbent is what lets the optimiser polish a basin it has found.
2. **Local search.** L-BFGS-B (``gen_candidates_scipy``; SLSQP when there are linear
   constraints) over continuous and integer columns, categorical columns held fixed at
   each start's choice (one group per distinct choice combination). Integers are relaxed
   and rounded afterwards. Without linear constraints all starts run in one batched
   L-BFGS-B call (per-start fixed categorical values).
3. **Rounding and selection.** Candidates are rounded onto the space
   (:meth:`Space.canonicalize`), re-scored, and the best one that is not a copy of an
   observed or pending point wins. Batches (q > 1) are built greedily: each chosen point
   becomes a pending point of the next pick (BoTorch's sequential strategy).

With a trust region (:mod:`crucible.bo.trust_region`, ``AcqfOptions.region``) steps 1 and 2
stay inside its box: the space-filling points are drawn in the box, half of them as
TuRBO's sparse perturbations of the incumbent (each coordinate replaced with probability
``min(20 / d, 1)``), and L-BFGS-B is bounded by it; categorical columns are not restricted.

Non-differentiable surrogates (random forests) skip step 2 and take the best of a larger
candidate pool. One-shot acquisitions (knowledge gradient) use BoTorch's
``optimize_acqf`` directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from crucible._imports import require
from crucible.bo.fast import maximize_batched, numpy_acquisition_of
from crucible.bo.trust_region import TrustRegion
from crucible.space import CategoricalParameter, Encoding, IntegerParameter, Space

__all__ = ["AcqfOptions", "encode_unit_samples", "optimize_acquisition"]


@dataclass(frozen=True)
class AcqfOptions:
    """Effort settings of the acquisition optimiser."""

    num_restarts: int = 3
    raw_samples: int = 256
    maxiter: int = 200
    n_perturbed: int = 64
    seed: int = 0
    start_at_incumbent: bool = False
    region: TrustRegion | None = None


def optimize_acquisition(
    build_acqf: Callable[[Any], Any],
    space: Space,
    encoding: Encoding,
    q: int,
    X_observed: np.ndarray,
    Y_rank: np.ndarray,
    X_pending: np.ndarray | None = None,
    options: AcqfOptions | None = None,
    differentiable: bool = True,
    one_shot: bool = False,
) -> np.ndarray:
    """Pick ``q`` encoded points that maximise the acquisition.

    Args:
        build_acqf: ``X_pending -> AcquisitionFunction`` (``X_pending``: ``p x d`` tensor or
            None); called once per greedy step.
        space: The parameter space.
        encoding: Encoding of the model's inputs.
        q: Number of points.
        X_observed: Observed encoded points, ``n x d`` (perturbation centres, duplicates).
        Y_rank: Score per observed point (higher = better), shape ``n``; the top points
            seed the local starts.
        X_pending: Already pending encoded points, ``p x d``.
        options: Effort settings.
        differentiable: Whether the acquisition has gradients.
        one_shot: Use BoTorch's ``optimize_acqf`` (one-shot knowledge gradient).

    Returns:
        ``q x d`` encoded points on the space (rounded, feasible).
    """
    torch = require("torch")
    options = options or AcqfOptions()
    rng = np.random.default_rng(options.seed)
    pending = [] if X_pending is None else list(np.atleast_2d(X_pending))
    if one_shot:
        acqf = build_acqf(_as_tensor(pending))
        return _optimize_one_shot(acqf, space, encoding, q, options)
    chosen: list[np.ndarray] = []
    taken = [np.asarray(x) for x in X_observed] + pending
    for _ in range(q):
        acqf = build_acqf(_as_tensor(pending + chosen))
        candidates = _starting_pool(space, encoding, X_observed, Y_rank, options, rng)
        with torch.no_grad():
            values = _evaluate(acqf, candidates)
        if differentiable:
            incumbent = _incumbent(X_observed, Y_rank) if options.start_at_incumbent else None
            candidates, values = _local_search(
                acqf, space, encoding, candidates, values, options, incumbent
            )
        best = _best_new(space, encoding, candidates, values, acqf, taken + chosen)
        chosen.append(best)
    return np.stack(chosen)


def _incumbent(X_observed: np.ndarray, Y_rank: np.ndarray) -> np.ndarray | None:
    """The best observed encoded point, ``d`` (None before any observation).

    Starting one local search there refines around the best point found so far, as
    Optuna's GPSampler does; the other starts keep exploring.
    """
    if not len(X_observed):
        return None
    return np.asarray(X_observed, dtype=float)[int(np.argmax(Y_rank))]


def _as_tensor(rows: list[np.ndarray]) -> Any:
    torch = require("torch")
    if not rows:
        return None
    return torch.as_tensor(np.stack(rows), dtype=torch.float64)


def _evaluate(acqf: Any, candidates: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Acquisition values of ``n x d`` candidates (each a q=1 batch), shape ``n``."""
    evaluator = numpy_acquisition_of(acqf)
    if evaluator is not None:
        return np.concatenate(
            [
                evaluator(candidates[i : i + chunk], grad=False)[0]
                for i in range(0, len(candidates), chunk)
            ]
        )
    torch = require("torch")
    X = torch.as_tensor(candidates, dtype=torch.float64).unsqueeze(-2)
    out = [acqf(X[i : i + chunk]) for i in range(0, len(X), chunk)]
    return torch.cat(out).detach().numpy()


def _starting_pool(
    space: Space,
    encoding: Encoding,
    X_observed: np.ndarray,
    Y_rank: np.ndarray,
    options: AcqfOptions,
    rng: np.random.Generator,
) -> np.ndarray:
    """Space-filling points plus perturbations of the best observations, ``N x d``."""
    from scipy.stats import qmc

    n_raw = options.raw_samples
    U = qmc.Sobol(d=len(space.tunable), scramble=True, seed=rng).random(n_raw)
    pool = [encode_unit_samples(space, U, encoding)]
    lower, upper = search_bounds(space, encoding, options.region)
    if options.region is not None:
        pool = [_in_region(space, encoding, pool[0], options.region, rng)]
    if len(X_observed) and options.n_perturbed:
        top = np.argsort(-np.asarray(Y_rank))[: min(5, len(X_observed))]
        centres = np.asarray(X_observed)[rng.choice(top, size=options.n_perturbed)]
        noise = rng.normal(0.0, 0.05, size=centres.shape)
        noise[:, _categorical_mask(space, encoding)] = 0.0
        pool.append(np.clip(centres + noise, lower, upper))
    candidates = np.vstack(pool)
    if space.constraints:
        feasible = space.feasible_mask(candidates, encoding)
        candidates = candidates[feasible] if feasible.any() else candidates
    return candidates


def search_bounds(
    space: Space, encoding: Encoding, region: TrustRegion | None
) -> tuple[np.ndarray, np.ndarray]:
    """The optimiser's box: the space's bounds, the trust region's on non-categorical columns."""
    lower, upper = (np.array(b, dtype=float) for b in space.bounds(encoding))
    if region is not None:
        free = ~_categorical_mask(space, encoding)
        lower[free] = np.maximum(lower[free], region.lower[free])
        upper[free] = np.minimum(upper[free], region.upper[free])
    return lower, upper


def _in_region(
    space: Space,
    encoding: Encoding,
    samples: np.ndarray,
    region: TrustRegion,
    rng: np.random.Generator,
) -> np.ndarray:
    """Space-filling ``samples`` moved into the region.

    Half are scaled into its box, half are TuRBO's sparse perturbations of its centre (each
    non-categorical coordinate taken from the scaled sample with probability
    ``min(20 / d, 1)``, at least one per point).
    """
    free = np.flatnonzero(~_categorical_mask(space, encoding))
    lower, upper = search_bounds(space, encoding, region)
    base_lo, base_hi = (np.asarray(b, dtype=float) for b in space.bounds(encoding))
    scaled = samples.copy()
    span = np.where(base_hi > base_lo, base_hi - base_lo, 1.0)
    u = (samples[:, free] - base_lo[free]) / span[free]
    scaled[:, free] = lower[free] + u * (upper[free] - lower[free])
    sparse = scaled[len(scaled) // 2 :]
    if len(free):
        mask = rng.random((len(sparse), len(free))) <= min(20.0 / len(free), 1.0)
        mask[np.arange(len(sparse)), rng.integers(0, len(free), len(sparse))] = True
        centre = np.broadcast_to(region.center[free], (len(sparse), len(free)))
        sparse[:, free] = np.where(mask, sparse[:, free], centre)
    return np.vstack([scaled[: len(scaled) // 2], sparse])


def encode_unit_samples(space: Space, U: np.ndarray, encoding: Encoding) -> np.ndarray:
    """``space.encode(from_unit_per_parameter(space, U), encoding)``, vectorised.

    ``U`` is ``n x p`` (one column per tunable parameter); the result is ``n x d``.
    Continuous values are scaled (log-scaled) and clipped to the bounds, integer levels
    and categorical choices take equal-width bins, exactly as in
    :func:`crucible.design.from_unit_per_parameter`; the per-point parameter dicts are
    not built (the optimiser only needs the array).
    """
    U = np.clip(np.atleast_2d(np.asarray(U, dtype=float)), 0.0, 1.0)
    out = np.zeros((len(U), space.dim(encoding)))
    slices = space.column_slices(encoding)
    for j, p in enumerate(space.tunable):
        u, start = U[:, j], slices[p.name].start
        if isinstance(p, CategoricalParameter):
            k = np.minimum((u * len(p.choices)).astype(int), len(p.choices) - 1)
            if encoding == "onehot":
                out[np.arange(len(U)), start + k] = 1.0
            else:
                out[:, start] = k
            continue
        if isinstance(p, IntegerParameter):
            value = p.level_at(u).astype(float)
        elif p.log:
            lo, hi = math.log(p.low), math.log(p.high)
            value = np.clip(np.exp(lo + u * (hi - lo)), p.low, p.high)
        else:
            value = np.clip(p.low + u * (p.high - p.low), p.low, p.high)
        if p.log:
            lo, hi = math.log(p.low), math.log(p.high)
            out[:, start] = (np.log(value) - lo) / (hi - lo)
        else:
            out[:, start] = (value - p.low) / (p.high - p.low)
    return out


def _categorical_mask(space: Space, encoding: Encoding) -> np.ndarray:
    mask = np.zeros(space.dim(encoding), dtype=bool)
    slices = space.column_slices(encoding)
    for p in space.tunable:
        if p.type == "categorical":
            mask[slices[p.name]] = True
    return mask


def _local_search(
    acqf: Any,
    space: Space,
    encoding: Encoding,
    candidates: np.ndarray,
    values: np.ndarray,
    options: AcqfOptions,
    incumbent: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """L-BFGS-B from Boltzmann-selected starts (plus the incumbent, ``d``, when given).

    Returns:
        The starts' optima and values, followed by the candidates and their values.
    """
    torch = require("torch")
    init = require("botorch.optim.initializers")
    gen = require("botorch.generation.gen")
    X = torch.as_tensor(candidates, dtype=torch.float64).unsqueeze(-2)
    n_starts = min(options.num_restarts, len(X))
    starts = init.initialize_q_batch(X, torch.as_tensor(values), n=n_starts)[0]
    if incumbent is not None:
        best = torch.as_tensor(incumbent, dtype=torch.float64).reshape(1, 1, -1)
        starts = torch.cat([starts, best])
    cat_mask = _categorical_mask(space, encoding)
    cat_cols = [int(i) for i in np.flatnonzero(cat_mask)]
    inequality = [
        (torch.tensor(idx), torch.tensor(coef, dtype=torch.float64), rhs)
        for idx, coef, rhs in space.inequality_constraints(encoding)
    ] or None
    evaluator = numpy_acquisition_of(acqf)
    lower_np, upper_np = search_bounds(space, encoding, options.region)
    if evaluator is not None and inequality is None:
        Xg, vg = maximize_batched(
            evaluator, starts[:, 0, :].numpy(), lower_np, upper_np, cat_cols, options.maxiter
        )
        return np.vstack([Xg, candidates]), np.concatenate([vg, values])
    lower, upper = (torch.as_tensor(b, dtype=torch.float64) for b in (lower_np, upper_np))
    out_X, out_v = [], []
    if cat_cols and inequality is None:
        # BoTorch's batched L-BFGS-B takes per-start fixed features (a value per start):
        # one call instead of one per categorical combination, each start still its own
        # independent L-BFGS-B over the continuous columns.
        Xg, vg = gen.gen_candidates_scipy(
            initial_conditions=starts,
            acquisition_function=acqf,
            lower_bounds=lower,
            upper_bounds=upper,
            options={"maxiter": options.maxiter},
            fixed_features={c: starts[:, 0, c].clone() for c in cat_cols},
        )
        out_X.append(Xg.detach().reshape(len(starts), -1).numpy())
        out_v.append(vg.detach().reshape(-1).numpy())
        return np.vstack([*out_X, candidates]), np.concatenate([*out_v, values])
    groups: dict[tuple[float, ...], list[int]] = {}
    for i, start in enumerate(starts):
        groups.setdefault(tuple(start[0, cat_cols].tolist()), []).append(i)
    for combo, idx in groups.items():
        fixed = dict(zip(cat_cols, combo, strict=True)) or None
        Xg, vg = gen.gen_candidates_scipy(
            initial_conditions=starts[idx],
            acquisition_function=acqf,
            lower_bounds=lower,
            upper_bounds=upper,
            inequality_constraints=inequality,
            options={"maxiter": options.maxiter},
            fixed_features=fixed,
        )
        out_X.append(Xg.detach().reshape(len(idx), -1).numpy())
        out_v.append(vg.detach().reshape(-1).numpy())
    return np.vstack([*out_X, candidates]), np.concatenate([*out_v, values])


def _best_new(
    space: Space,
    encoding: Encoding,
    candidates: np.ndarray,
    values: np.ndarray,
    acqf: Any,
    taken: list[np.ndarray],
) -> np.ndarray:
    """Round the best candidates onto the space and return the best non-duplicate."""
    torch = require("torch")
    order = np.argsort(-values)[:64]
    rounded = space.canonicalize(candidates[order], encoding)
    if space.constraints:
        feasible = space.feasible_mask(rounded, encoding)
        rounded = rounded[feasible] if feasible.any() else rounded
    with torch.no_grad():
        scores = _evaluate(acqf, rounded)
    taken_arr = np.asarray(taken).reshape(-1, rounded.shape[1]) if taken else None
    for i in np.argsort(-scores):
        if taken_arr is None or not np.any(np.all(np.isclose(taken_arr, rounded[i]), axis=1)):
            return rounded[i]
    return rounded[int(np.argmax(scores))]


def _optimize_one_shot(
    acqf: Any, space: Space, encoding: Encoding, q: int, options: AcqfOptions
) -> np.ndarray:
    torch = require("torch")
    optim = require("botorch.optim")
    bounds = torch.as_tensor(space.bounds(encoding), dtype=torch.float64)
    X, _ = optim.optimize_acqf(
        acqf,
        bounds=bounds,
        q=q,
        num_restarts=max(2, options.num_restarts // 2),
        raw_samples=max(64, options.raw_samples // 4),
        options={"maxiter": options.maxiter},
    )
    return space.canonicalize(X.detach().numpy(), encoding)
