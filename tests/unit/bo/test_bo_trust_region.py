"""Tests for crucible.bo.trust_region and the trust-region path of the optimiser."""

from __future__ import annotations

import numpy as np
import pytest

from crucible.bo.optimize import AcqfOptions, _starting_pool, search_bounds
from crucible.bo.strategy import Strategy, propose
from crucible.bo.trust_region import LENGTH_INIT, replay_length, trust_region
from crucible.design import make_design
from crucible.space import Space


def test_replay_shrinks_after_failures_and_grows_after_successes() -> None:
    design = [0.0, 1.0, 0.5]
    assert replay_length(design, 3, dim=6) == LENGTH_INIT  # the design alone
    # d = 6: six failures in a row halve the side; five do not
    assert replay_length(design + [0.9] * 5, 3, dim=6) == LENGTH_INIT
    assert replay_length(design + [0.9] * 6, 3, dim=6) == LENGTH_INIT / 2
    assert replay_length(design + [0.9] * 12, 3, dim=6) == LENGTH_INIT / 4
    # failure tolerance is max(4, d): at d = 2, four failures halve it
    assert replay_length(design + [0.9] * 4, 3, dim=2) == LENGTH_INIT / 2
    # ten improvements (each by more than 1e-3 |best|) double it, up to 1.6
    rising = design + [1.0 + 0.1 * k for k in range(1, 11)]
    assert replay_length(rising, 3, dim=6) == pytest.approx(1.6)
    assert replay_length(rising + [3.0 + 0.1 * k for k in range(10)], 3, dim=6) == 1.6
    # an improvement below the 1e-3 relative threshold is a failure
    tiny = design + [1.0 + 1e-5 * k for k in range(1, 7)]
    assert replay_length(tiny, 3, dim=6) == LENGTH_INIT / 2


def test_replay_resets_when_the_region_collapses() -> None:
    stalls = [1.0] + [0.0] * (4 * 7)  # seven halvings at d = 4 reach 0.8 / 128 < 0.5**7
    assert replay_length(stalls[:-4], 1, dim=4) == LENGTH_INIT / 64
    assert replay_length(stalls, 1, dim=4) == LENGTH_INIT


def test_region_is_stretched_by_lengthscales_and_clipped() -> None:
    center = np.array([0.5, 0.5, 0.95, 0.0])
    free = np.array([True, True, True, False])
    region = trust_region(center, np.array([1.0, 4.0, 1.0]), 0.2, free)
    side = region.upper - region.lower
    # weights [1, 4, 1] / their geometric mean 4**(1/3): the product of the weights is 1
    weights = np.array([1.0, 4.0, 1.0]) / 4 ** (1 / 3)
    assert side[:2] == pytest.approx(0.2 * weights[:2])
    assert region.upper[2] == 1.0  # clipped at the cube
    assert region.lower[2] == pytest.approx(0.95 - 0.1 * weights[2])
    assert (region.lower[3], region.upper[3]) == (0.0, 1.0)  # the categorical column is free
    assert region.length == 0.2 and region.center is not None


def test_starting_pool_and_bounds_stay_in_the_region() -> None:
    space = Space.from_dict(
        {
            **{f"x{i}": {"type": "continuous", "low": -5, "high": 10} for i in range(25)},
            "c": {"type": "categorical", "choices": ["a", "b"]},
        }
    )
    center = np.full(27, 0.3)
    center[25:] = [1.0, 0.0]
    free = np.array([True] * 25 + [False, False])
    region = trust_region(center, np.ones(25), 0.2, free)
    options = AcqfOptions(raw_samples=128, region=region)
    rng = np.random.default_rng(0)
    X_obs = np.tile(center, (3, 1))
    pool = _starting_pool(space, "onehot", X_obs, np.zeros(3), options, rng)
    lower, upper = search_bounds(space, "onehot", region)
    assert np.all(pool >= lower - 1e-12) and np.all(pool <= upper + 1e-12)
    assert np.allclose(lower[:25], 0.2) and np.allclose(upper[:25], 0.4)
    assert (lower[25:] == 0).all() and (upper[25:] == 1).all()
    sparse = pool[64:128, :25]  # TuRBO perturbations: about 20 of 25 coordinates move
    moved = (np.abs(sparse - 0.3) > 1e-12).sum(axis=1)
    assert moved.min() >= 1 and 15 < moved.mean() < 25
    assert search_bounds(space, "onehot", None)[1].tolist() == [1.0] * 27


def test_off_by_default_and_proposals_respect_the_region() -> None:
    small = Space.from_dict(
        {f"x{i}": {"type": "continuous", "low": 0, "high": 1} for i in range(6)}
    )
    assert not Strategy().uses_trust_region(small, 1)
    assert Strategy(trust_region="on").uses_trust_region(small, 1)
    assert not Strategy(trust_region="on").uses_trust_region(small, 2)  # one objective only
    space = Space.from_dict(
        {f"x{i}": {"type": "continuous", "low": 0, "high": 1} for i in range(12)}
    )
    from crucible.bo.objectives import Objective

    def sphere(p: dict) -> dict:
        return {"y": float(sum((v - 0.3) ** 2 for v in p.values()))}

    points = make_design("sobol", space, 8, seed=0)
    values = [sphere(p) for p in points]
    values += [{"y": 10.0 + k} for k in range(24)]  # 24 failures: the side halves twice
    points += make_design("random", space, 24, seed=1)
    strategy = Strategy(
        trust_region="on", n_init=8, num_restarts=2, raw_samples=64, fit_maxiter=50
    )
    proposal = propose(space, [Objective(name="y")], [], strategy, points, values, 1)
    assert proposal.info["trust_region_length"] == LENGTH_INIT / 4
    best = space.encode([points[int(np.argmin([v["y"] for v in values]))]])[0]
    chosen = space.encode(proposal.points)[0]
    # the whole region's side is 0.2 before the lengthscale weights, which spread it
    assert np.max(np.abs(chosen - best)) < 0.2 * 12
    assert np.median(np.abs(chosen - best)) < 0.2
    off = propose(
        space, [Objective(name="y")], [], Strategy(trust_region="off"), points, values, 1
    )
    assert "trust_region_length" not in off.info


def test_optimizer_effort_is_higher_from_twenty_parameters_only() -> None:
    def box(d: int) -> Space:
        return Space.from_dict(
            {f"x{i}": {"type": "continuous", "low": 0, "high": 1} for i in range(d)}
        )

    assert Strategy().optimizer_effort(box(6)) == (3, 256)
    assert Strategy().optimizer_effort(box(19)) == (3, 256)
    assert Strategy().optimizer_effort(box(20)) == (10, 1024)
    assert Strategy(num_restarts=2, raw_samples=64).optimizer_effort(box(30)) == (2, 64)
    assert Strategy(raw_samples=512).optimizer_effort(box(6)) == (3, 512)
