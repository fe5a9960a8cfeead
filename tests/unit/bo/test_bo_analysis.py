"""Tests for crucible.bo.analysis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crucible.bo import Campaign, Strategy
from crucible.bo.analysis import (
    campaign_sensitivity,
    cross_validate,
    cross_validate_campaign,
    hypervolume,
    pareto_mask,
    sensitivity,
)
from crucible.bo.surrogates import GPSurrogate
from crucible.space import Space


def test_cross_validation_metrics_on_a_smooth_function() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((30, 2))
    y = np.sin(4 * X[:, 0]) + X[:, 1]
    result = cross_validate(GPSurrogate, X, y, folds=5)
    assert result.n == 30 and result.r2 > 0.9 and result.rmse < 0.3 * y.std()
    assert 0.7 <= result.coverage_95 <= 1.0
    assert np.isfinite(result.nlpd)
    assert set(result.summary()) == {"rmse", "r2", "nlpd", "coverage_95", "n"}
    bad = cross_validate(GPSurrogate, X, rng.permutation(y), folds=5)
    assert bad.r2 < result.r2


def test_pareto_and_hypervolume() -> None:
    Y = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.4, 0.4]])
    assert pareto_mask(Y).tolist() == [True, True, True, False]
    assert hypervolume(Y, np.array([0.0, 0.0])) == pytest.approx(0.25)
    assert hypervolume(Y, np.array([2.0, 2.0])) == 0.0


def test_sensitivity_ranks_the_important_parameter() -> None:
    space = Space.from_dict(
        {
            "x": {"type": "continuous", "low": 0, "high": 1},
            "z": {"type": "continuous", "low": 0, "high": 1},
            "c": {"type": "categorical", "choices": ["a", "b"]},
        }
    )

    def mean(X: np.ndarray) -> np.ndarray:
        return 5 * X[:, 0] + 0.1 * X[:, 1] + 1.0 * X[:, 2]

    s = sensitivity(mean, space)
    assert s["x"] > 0.8 and s["z"] < 0.01 and 0.005 < s["c"] < 0.2


def test_campaign_level_analysis(tmp_path: Path) -> None:
    campaign = Campaign.create(
        "a",
        {
            "x": {"type": "continuous", "low": 0, "high": 1},
            "z": {"type": "continuous", "low": 0, "high": 1},
        },
        ["y"],
        strategy=Strategy(n_init=12),
        store_url=f"sqlite:///{tmp_path / 'c.db'}",
    )
    for trial in campaign.suggest(12):
        campaign.observe(trial.number, {"y": 3 * trial.params["x"] ** 2})
    cv = cross_validate_campaign(campaign, folds=4)
    assert cv["y"].r2 > 0.8
    s = campaign_sensitivity(campaign)
    assert s["x"] > 10 * s["z"]
