"""Tests for crucible.bo.surrogates: fit/predict quality, save/load, mixed inputs."""

from __future__ import annotations

import numpy as np
import pytest

from crucible.bo.surrogates import GPSurrogate, RandomForestSurrogate, make_surrogate
from crucible.exceptions import InvalidInputError


def _data(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, 2))
    return X, np.sin(6 * X[:, :1]) + X[:, 1:] ** 2


@pytest.mark.parametrize("name", ["gp", "rf"])
def test_fit_predict_interpolates_and_roundtrips(name: str) -> None:
    X, Y = _data()
    surrogate = make_surrogate(name)
    surrogate.fit(X, Y)
    mean, std = surrogate.predict(X)
    assert mean.shape == std.shape == (30, 1) and (std >= 0).all()
    assert np.corrcoef(mean[:, 0], Y[:, 0])[0, 1] > 0.95
    Xt, Yt = _data(50, seed=1)
    test_mean, _ = surrogate.predict(Xt)
    assert np.sqrt(np.mean((test_mean - Yt) ** 2)) < 0.5 * Yt.std()
    again = type(surrogate).from_bytes(surrogate.to_bytes())
    m2, s2 = again.predict(Xt)
    np.testing.assert_allclose(m2, test_mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(s2, surrogate.predict(Xt)[1], rtol=1e-10, atol=1e-12)


def test_gp_uncertainty_grows_away_from_data_and_warm_start() -> None:
    X, Y = _data(10)
    gp = GPSurrogate()
    gp.fit(X * 0.3, Y)  # data in [0, 0.3]^2
    _, std_near = gp.predict(np.array([[0.15, 0.15]]))
    _, std_far = gp.predict(np.array([[1.0, 1.0]]))
    assert std_far[0, 0] > 2 * std_near[0, 0]
    warm = GPSurrogate()
    warm.fit(X * 0.3, Y, warm_start=gp.hyperparameters())
    np.testing.assert_allclose(warm.predict(X)[0], gp.predict(X)[0], atol=0.05)


def test_gamma_noise_prior_lets_a_deterministic_objective_interpolate() -> None:
    """BoTorch's LogNormal(-4, 1) holds the noise up; Gamma(1.1, 30) lets it fall to the floor."""
    X, Y = _data(40)
    noise = {}
    for name in ("gamma", "lognormal"):
        gp = GPSurrogate(kernel="matern", noise_prior=name)
        gp.fit(X, Y)
        noise[name] = float(gp.model.likelihood.noise.detach().mean())
        assert gp.noise_variance() == noise[name]
        again = GPSurrogate.from_bytes(gp.to_bytes())
        assert again.noise_prior == name
        np.testing.assert_allclose(again.predict(X)[0], gp.predict(X)[0], atol=1e-10)
    # gamma: at the 1e-6 floor; lognormal: ~8e-5, two orders of magnitude above it
    assert noise["gamma"] < 2e-6 and noise["lognormal"] > 20 * noise["gamma"]
    with pytest.raises(InvalidInputError, match="noise_prior"):
        GPSurrogate(noise_prior="flat").fit(X, Y)  # type: ignore[arg-type]


def test_mixed_gp_and_multi_output() -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.random(24), rng.integers(0, 3, 24)])
    Y = np.column_stack([X[:, 0] + X[:, 1], -X[:, 0]])
    gp = GPSurrogate(cat_dims=[1])
    gp.fit(X, Y)
    assert type(gp.model).__name__ == "MixedSingleTaskGP"
    mean, _ = gp.predict(X)
    assert mean.shape == (24, 2) and np.abs(mean - Y).max() < 0.2
    again = GPSurrogate.from_bytes(gp.to_bytes())
    np.testing.assert_allclose(again.predict(X)[0], mean, atol=1e-10)


def test_rf_is_a_botorch_ensemble_model() -> None:
    import torch

    X, Y = _data()
    rf = RandomForestSurrogate(n_estimators=20)
    rf.fit(X, Y)
    post = rf.model.posterior(torch.as_tensor(X[:5]).unsqueeze(1))
    assert post.mean.shape == (5, 1, 1)
    np.testing.assert_allclose(post.mean.reshape(-1).numpy(), rf.predict(X[:5])[0][:, 0])


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInputError, match="NaN"):
        GPSurrogate().fit(np.zeros((3, 1)), np.array([1.0, np.nan, 2.0]))
    with pytest.raises(InvalidInputError, match="unknown surrogate"):
        make_surrogate("svm")
    with pytest.raises(InvalidInputError, match="not fitted"):
        RandomForestSurrogate().predict(np.zeros((1, 1)))


@pytest.mark.parametrize("cat_dims", [[], [2]])
def test_pessimistic_prior_mean_pins_the_objective_and_fits_the_constraint(
    cat_dims: list[int],
) -> None:
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.random((30, 2)) * 0.4, rng.integers(0, 3, 30)])
    objective = np.sin(6 * X[:, 0]) + X[:, 1] + 0.1 * X[:, 2]
    slack = X[:, 0] - 0.2
    Y = np.column_stack([objective, slack])
    fitted = GPSurrogate(cat_dims=cat_dims)
    fitted.fit(X, Y)
    gp = GPSurrogate(cat_dims=cat_dims, pessimistic_outputs=1)
    gp.fit(X, Y, warm_start=fitted.hyperparameters())  # a warm start does not unpin it
    constant = gp.model.mean_module.constant.detach().reshape(-1).numpy()
    targets = gp.model.train_targets.reshape(2, -1).numpy()
    assert constant[0] == pytest.approx(targets[0].min())
    assert constant[1] > targets[1].min() + 0.1  # fitted, not pinned
    far = np.array([[1.0, 1.0, 1.0]])  # every observation has x0, x1 <= 0.4
    mean_far, _ = gp.predict(far)
    assert mean_far[0, 0] < objective.min() + 0.2 * np.ptp(objective)
    assert mean_far[0, 0] < fitted.predict(far)[0][0, 0] - 0.05 * np.ptp(objective)
    again = GPSurrogate.from_bytes(gp.to_bytes())
    assert again.pessimistic_outputs == 1
    np.testing.assert_allclose(again.predict(far)[0], mean_far, atol=1e-10)


def test_pessimistic_prior_mean_single_output_is_the_worst_observation() -> None:
    X, Y = _data(20)
    gp = GPSurrogate(kernel="matern", pessimistic_outputs=1)
    gp.fit(X * 0.3, Y)
    assert float(gp.model.mean_module.constant.detach()) == pytest.approx(
        float(gp.model.train_targets.min())
    )
    mean_far, _ = gp.predict(np.array([[1.0, 1.0]]))
    assert mean_far[0, 0] == pytest.approx(Y.min(), abs=0.05 * np.ptp(Y))
