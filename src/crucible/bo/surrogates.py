"""Surrogate models: Gaussian processes (BoTorch) and random forests (scikit-learn).

Every surrogate is a :class:`Surrogate` registered by name in :data:`SURROGATES`. It is
fitted on encoded inputs ``X`` (``n x d``, see :mod:`crucible.space`) and outcomes ``Y``
(``n x m``, any scale; the models standardise internally), predicts a mean and a standard
deviation anywhere, exposes a BoTorch model for the acquisition functions, and saves to /
loads from bytes with identical predictions.

* ``gp``: ``SingleTaskGP`` (RBF ARD kernel with BoTorch's dimension-scaled priors) on
  continuous/integer spaces; ``MixedSingleTaskGP`` (continuous x categorical kernel) when
  the space has categoricals (index encoding). Hyperparameters can be warm-started from a
  previous fit, which makes refits in a campaign loop cheap.
* ``rf``: ``RandomForestRegressor``; the spread of the trees' predictions is the
  uncertainty, and the trees form a BoTorch ``EnsembleModel`` so the Monte-Carlo
  acquisition functions work unchanged (optimised without gradients).
"""

from __future__ import annotations

import abc
import io
import math
from typing import Any, ClassVar, Literal

import numpy as np

from crucible._imports import require
from crucible.bo.fast import mll_loss, numpy_batched_optimizer, numpy_closure
from crucible.exceptions import InvalidInputError

#: Format tag of :meth:`RandomForestSurrogate.to_bytes` blobs.
RF_FORMAT = "crucible-rf-surrogate-1"

__all__ = [
    "SURROGATES",
    "GPSurrogate",
    "RandomForestSurrogate",
    "Surrogate",
    "make_surrogate",
]


class Surrogate(abc.ABC):
    """A probabilistic regression model over the encoded space.

    Attributes:
        name: Registry name.
        differentiable: Whether gradient-based acquisition optimisation works.
    """

    name: ClassVar[str]
    differentiable: ClassVar[bool] = True

    @abc.abstractmethod
    def fit(self, X: np.ndarray, Y: np.ndarray, warm_start: bytes | None = None) -> None:
        """Fit to ``X`` (``n x d``) and ``Y`` (``n x m``).

        Args:
            X: Encoded inputs.
            Y: Outcomes, one column per modelled metric.
            warm_start: Bytes from :meth:`hyperparameters` of an earlier fit, used as the
                starting point (ignored when incompatible).
        """

    @abc.abstractmethod
    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation (no observation noise), each ``n x m``."""

    @property
    @abc.abstractmethod
    def model(self) -> Any:
        """The fitted BoTorch model (for acquisition functions)."""

    @abc.abstractmethod
    def to_bytes(self) -> bytes:
        """Serialise the fitted model (training data included)."""

    @classmethod
    @abc.abstractmethod
    def from_bytes(cls, data: bytes) -> Surrogate:
        """Rebuild a fitted model saved with :meth:`to_bytes`."""

    def hyperparameters(self) -> bytes | None:
        """Small blob to warm-start the next fit; None when not supported."""
        return None


def _check_xy(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if X.ndim != 2 or len(X) != len(Y) or len(X) < 2:
        raise InvalidInputError(
            "X, Y", f"shapes {X.shape} and {Y.shape} do not fit", "give n x d and n x m, n >= 2"
        )
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        raise InvalidInputError("X, Y", "contain NaN or infinite values", "drop those rows")
    return X, Y


NoisePrior = Literal["gamma", "lognormal"]


def noise_prior(name: NoisePrior) -> Any:
    """The GPyTorch prior of the GP's noise variance (standardised outcome units).

    ``gamma`` is Gamma(1.1, rate 30), Optuna's GPSampler's: weakly informative (mean
    0.037), with a log-density that is nearly flat towards zero, so a deterministic
    objective's noise can fall to the floor and the GP interpolates the incumbent's
    neighbourhood. ``lognormal`` is BoTorch's LogNormal(-4, 1): it costs about 37 nats to
    move the noise from 1e-3 to 1e-6, so the GP keeps a noise standard deviation of ~1-3 %
    of the outcome's spread and cannot resolve improvements below it.

    Args:
        name: ``gamma`` or ``lognormal``.
    """
    gpytorch = require("gpytorch")
    if name == "gamma":
        return gpytorch.priors.GammaPrior(concentration=1.1, rate=30.0)
    if name == "lognormal":
        return gpytorch.priors.LogNormalPrior(loc=-4.0, scale=1.0)
    raise InvalidInputError("noise_prior", f"unknown prior {name!r}", "use 'gamma' or 'lognormal'")


class GPSurrogate(Surrogate):
    """BoTorch ``SingleTaskGP`` / ``MixedSingleTaskGP`` in float64.

    The likelihood lowers the noise floor from BoTorch's 1e-4 to ``min_noise`` (variance of
    the standardised outcome): with the default floor a deterministic objective cannot be
    resolved below ~1 % of its spread, which caps the attainable regret. The noise prior
    is ``gamma`` by default (see :func:`noise_prior`).

    Args:
        cat_dims: Columns holding categorical indices (``MixedSingleTaskGP`` when set).
        fit_maxiter: L-BFGS-B iterations of the marginal-likelihood fit.
        min_noise: Lower bound of the inferred noise variance (standardised units).
        kernel: ``rbf`` (BoTorch's default) or ``matern`` (Matern-5/2), both ARD with
            BoTorch's dimension-scaled lengthscale prior (continuous columns).
        refit_maxiter: Iterations when warm-started (the previous optimum is close).
        fast: Fit with :func:`crucible.bo.fast.mll_loss` (same loss and gradients as
            BoTorch's default closure, without GPyTorch's overhead), in NumPy where
            supported (:func:`crucible.bo.fast.numpy_closure` for one output,
            :func:`crucible.bo.fast.numpy_batched_optimizer` for several).
        noise_prior: Prior of the noise variance, ``gamma`` or ``lognormal``.
        pessimistic_outputs: How many leading outputs get a pessimistic prior mean: their
            constant mean is pinned at the lowest standardised training value instead of
            being fitted (see :func:`pin_pessimistic_mean`). The campaign's proposals use
            it for the (maximised) objectives; constraint slacks keep a fitted mean.
    """

    name = "gp"

    def __init__(
        self,
        cat_dims: list[int] | None = None,
        fit_maxiter: int = 200,
        min_noise: float = 1e-6,
        kernel: str = "rbf",
        refit_maxiter: int = 50,
        fast: bool = True,
        noise_prior: NoisePrior = "gamma",
        pessimistic_outputs: int = 0,
    ) -> None:
        self.cat_dims = list(cat_dims or [])
        self.pessimistic_outputs = pessimistic_outputs
        self.fit_maxiter = fit_maxiter
        self.min_noise = min_noise
        self.kernel = kernel
        self.refit_maxiter = refit_maxiter
        self.fast = fast
        self.noise_prior = noise_prior
        self._model: Any = None
        self._data: tuple[np.ndarray, np.ndarray] | None = None
        self.tags: dict[str, int] = {}  # saved with the hyperparameters, ignored on load

    def _build(self, X: np.ndarray, Y: np.ndarray) -> Any:
        torch = require("torch")
        models = require("botorch.models")
        transforms = require("botorch.models.transforms.outcome")
        train_X = torch.as_tensor(X, dtype=torch.float64)
        train_Y = torch.as_tensor(Y, dtype=torch.float64)
        outcome = transforms.Standardize(m=train_Y.shape[-1])
        likelihood = self._likelihood(train_Y.shape[-1])
        if self.cat_dims:
            return models.MixedSingleTaskGP(
                train_X,
                train_Y,
                cat_dims=self.cat_dims,
                outcome_transform=outcome,
                likelihood=likelihood,
            )
        modules = require("botorch.models.utils.gpytorch_modules")
        covar = modules.get_covar_module_with_dim_scaled_prior(
            ard_num_dims=train_X.shape[-1],
            batch_shape=torch.Size([train_Y.shape[-1]]) if train_Y.shape[-1] > 1 else None,
            use_rbf_kernel=self.kernel == "rbf",
        )
        return models.SingleTaskGP(
            train_X, train_Y, outcome_transform=outcome, likelihood=likelihood, covar_module=covar
        )

    def _likelihood(self, n_outputs: int) -> Any:
        torch = require("torch")
        gpytorch = require("gpytorch")
        prior = noise_prior(self.noise_prior)
        return gpytorch.likelihoods.GaussianLikelihood(
            noise_prior=prior,
            batch_shape=torch.Size([n_outputs]) if n_outputs > 1 else torch.Size(),
            noise_constraint=gpytorch.constraints.GreaterThan(
                self.min_noise, transform=None, initial_value=prior.mode
            ),
        )

    def fit(self, X: np.ndarray, Y: np.ndarray, warm_start: bytes | None = None) -> None:
        """Fit the GP hyperparameters by maximising the marginal likelihood."""
        X, Y = _check_xy(X, Y)
        botorch = require("botorch")
        gpytorch = require("gpytorch")
        model = self._build(X, Y)
        maxiter = self.fit_maxiter
        if warm_start is not None:
            state = _load_state(warm_start, "warm_start")
            if _load_compatible(model, state):
                maxiter = min(maxiter, self.refit_maxiter)
        pin_pessimistic_mean(model, self.pessimistic_outputs)
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
        loss = mll_loss(mll) if self.fast else None
        if loss is not None:
            mll.compute_custom_loss = loss  # used by BoTorch's get_loss_closure
        closure = numpy_closure(mll) if self.fast else None
        batched = numpy_batched_optimizer(mll) if self.fast else None
        try:
            botorch.fit.fit_gpytorch_mll(
                mll,
                closure=closure,
                optimizer_kwargs={"options": {"maxiter": maxiter}},
                **({"optimizer": batched} if batched is not None else {}),
            )
        except Exception:  # ill-conditioned warm start: refit from the defaults
            model = self._build(X, Y)
            pin_pessimistic_mean(model, self.pessimistic_outputs)
            mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
            botorch.fit.fit_gpytorch_mll(mll)
        model.eval()
        self._model = model
        self._data = (X, Y)

    @property
    def model(self) -> Any:
        """The fitted BoTorch GP."""
        if self._model is None:
            raise InvalidInputError("surrogate", "is not fitted", "call fit(X, Y) first")
        return self._model

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and std of the latent function, each ``n x m``."""
        torch = require("torch")
        with torch.no_grad():
            post = self.model.posterior(torch.as_tensor(np.atleast_2d(X), dtype=torch.float64))
            mean = post.mean.numpy()
            std = post.variance.clamp_min(0).sqrt().numpy()
        return mean, std

    def log_evidence(self, column: int = 0) -> float:
        """Log marginal likelihood of one output's training values, in the fitted units.

        The GP models standardised values; the standardisation's Jacobian is included,
        so evidences of models fitted to differently transformed data are comparable
        once each transform's own log-Jacobian is added.

        Args:
            column: The output (column of the fitted ``Y``).

        Returns:
            ``log p(Y[:, column])`` under the fitted hyperparameters.
        """
        torch = require("torch")
        model = self.model
        with torch.no_grad():
            x = model.train_inputs[0]
            n = x.shape[-2]
            residual = (model.train_targets - model.mean_module(x)).reshape(-1, n)
            covariance = model.covar_module(x).to_dense().reshape(-1, n, n)
            noise = model.likelihood.noise.reshape(-1, 1, 1)
            eye = torch.eye(n, dtype=x.dtype)
            chol = torch.linalg.cholesky(covariance[column] + noise[column] * eye)
            alpha = torch.cholesky_solve(residual[column].unsqueeze(-1), chol)
            log_det = 2 * torch.log(torch.diagonal(chol)).sum()
            log_p = -0.5 * (
                residual[column] @ alpha.squeeze(-1) + log_det + n * math.log(2 * math.pi)
            )
            stdv = model.outcome_transform.stdvs.reshape(-1)[column]
        return float(log_p - n * torch.log(stdv))

    def noise_variance(self, column: int = 0) -> float:
        """The fitted noise variance of one output, in standardised outcome units.

        The share of the outcome's variance the GP attributes to noise: about 1e-6 (the
        floor) for a deterministic smooth objective, ~0.01 where the GP smooths ripples it
        cannot resolve (Ackley5). With the default Gamma(1.1, 30) noise prior it
        underestimates real measurement noise, most on few points (``docs/bo.md``, "Noisy
        measurements").
        """
        noise = self.model.likelihood.noise.detach().reshape(-1)
        return float(noise[column] if noise.numel() > column else noise[0])

    def hyperparameters(self) -> bytes:
        """The model's ``state_dict`` without training data (for warm starts)."""
        torch = require("torch")
        buffer = io.BytesIO()
        state = {k: v for k, v in self.model.state_dict().items() if "train" not in k}
        state.update({key: torch.tensor(value) for key, value in self.tags.items()})
        torch.save(state, buffer)
        return buffer.getvalue()

    @staticmethod
    def read_tag(hyperparameters: bytes, key: str) -> int | None:
        """A tag saved in a :meth:`hyperparameters` blob (``None`` when absent)."""
        state = _load_state(hyperparameters, "model_state")
        return int(state[key]) if key in state else None

    def to_bytes(self) -> bytes:
        """Training data, configuration and ``state_dict``."""
        torch = require("torch")
        assert self._data is not None
        buffer = io.BytesIO()
        torch.save(
            {
                "X": torch.as_tensor(self._data[0]),
                "Y": torch.as_tensor(self._data[1]),
                "cat_dims": self.cat_dims,
                "fit_maxiter": self.fit_maxiter,
                "min_noise": self.min_noise,
                "kernel": self.kernel,
                "noise_prior": self.noise_prior,
                "pessimistic_outputs": self.pessimistic_outputs,
                "state": self.model.state_dict(),
            },
            buffer,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> GPSurrogate:
        """Rebuild a fitted GP (no refit): identical predictions."""
        blob = _load_state(data, "surrogate_state")
        surrogate = cls(
            blob["cat_dims"],
            blob["fit_maxiter"],
            blob["min_noise"],
            blob["kernel"],
            noise_prior=blob.get("noise_prior", "lognormal"),  # files from before the option
            pessimistic_outputs=int(blob.get("pessimistic_outputs", 0)),
        )
        model = surrogate._build(blob["X"].numpy(), blob["Y"].numpy())
        model.load_state_dict(blob["state"])
        model.eval()
        surrogate._model = model
        surrogate._data = (blob["X"].numpy(), blob["Y"].numpy())
        return surrogate


def _load_state(data: bytes, field: str) -> dict[str, Any]:
    """A GP blob written by ``torch.save`` (tensors and plain types only)."""
    from crucible.exceptions import InvalidFileError
    from crucible.serialization import load_torch

    fix = "refit the surrogate (drop the stored state) and save it again"
    state = load_torch(data, field=field, kind="gp-state", fix=fix)
    if not isinstance(state, dict):
        raise InvalidFileError("<bytes>", "is not a GP state dict", fix, field=field)
    return state


def pin_pessimistic_mean(model: Any, n_outputs: int) -> None:
    """Pin the constant prior mean of the first ``n_outputs`` outputs at their worst value.

    A pessimistic prior mean (De Ath, Fieldsend and Everson, "What do you mean? The role
    of the mean function in Bayesian optimisation", GECCO 2020): far from the data the GP
    reverts to the lowest (maximisation convention) standardised training value instead
    of a fitted constant near the data's average, so expected improvement no longer
    rewards the box corners merely for being far from every observation; near the data
    nothing changes. The other outputs' constants stay free; the pinned ones receive
    no gradient during the fit (with L-BFGS-B from an identity Hessian, a coordinate
    whose gradient is always zero does not move).

    Args:
        model: A BoTorch GP with a ``ConstantMean`` (batched over outputs when several)
            and standardised ``train_targets``.
        n_outputs: Number of leading outputs to pin (0: none).
    """
    if n_outputs <= 0:
        return
    torch = require("torch")
    targets = model.train_targets.reshape(-1, model.train_targets.shape[-1])  # (M, n)
    raw = model.mean_module.raw_constant
    pinned = torch.zeros(raw.numel(), dtype=torch.bool)
    pinned[:n_outputs] = True
    constant = model.mean_module.constant.detach().reshape(-1).clone()
    constant[pinned] = targets[pinned].min(-1).values
    with torch.no_grad():
        model.mean_module.constant = constant.reshape(raw.shape)
    free = (~pinned).to(raw.dtype).reshape(raw.shape)
    raw.register_hook(lambda grad: grad * free)
    model.crucible_pinned_outputs = n_outputs  # read by crucible.bo.fast.mll


def _load_compatible(model: Any, state: dict[str, Any]) -> bool:
    """Copy the entries of ``state`` whose names and shapes match ``model``'s.

    Returns:
        Whether every hyperparameter was matched (a full warm start).
    """
    own = model.state_dict()
    compatible = {
        k: v
        for k, v in state.items()
        if k in own and own[k].shape == v.shape and "outcome_transform" not in k
    }
    model.load_state_dict(compatible, strict=False)
    wanted = [k for k in own if "train" not in k and "outcome_transform" not in k]
    return all(k in compatible for k in wanted)


class RandomForestSurrogate(Surrogate):
    """Random forest with the spread of its trees as uncertainty.

    Args:
        n_estimators: Number of trees (= ensemble size of the BoTorch model).
        min_samples_leaf: Minimum samples per leaf (smooths the trees).
        seed: Random seed.
    """

    name = "rf"
    differentiable = False

    def __init__(self, n_estimators: int = 100, min_samples_leaf: int = 1, seed: int = 0) -> None:
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.seed = seed
        self._forests: list[Any] = []

    def fit(self, X: np.ndarray, Y: np.ndarray, warm_start: bytes | None = None) -> None:
        """Fit one forest per outcome column (``warm_start`` is ignored)."""
        X, Y = _check_xy(X, Y)
        ensemble = require("sklearn.ensemble")
        self._forests = []
        for j in range(Y.shape[1]):
            forest = ensemble.RandomForestRegressor(
                n_estimators=self.n_estimators,
                min_samples_leaf=self.min_samples_leaf,
                random_state=self.seed + j,
                n_jobs=1,
            )
            forest.fit(X, Y[:, j])
            self._forests.append(forest)

    def tree_predictions(self, X: np.ndarray) -> np.ndarray:
        """Each tree's prediction, shape ``s x n x m`` (``s`` trees)."""
        if not self._forests:
            raise InvalidInputError("surrogate", "is not fitted", "call fit(X, Y) first")
        X = np.atleast_2d(np.asarray(X, dtype=float))
        return np.stack(
            [np.stack([t.predict(X) for t in f.estimators_]) for f in self._forests], axis=-1
        )

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation across trees, each ``n x m``."""
        per_tree = self.tree_predictions(X)
        return per_tree.mean(axis=0), per_tree.std(axis=0)

    @property
    def model(self) -> Any:
        """A BoTorch ``EnsembleModel`` whose members are the trees."""
        return _forest_ensemble_model(self)

    def to_bytes(self) -> bytes:
        """Forests and settings in skops format (no pickle)."""
        from crucible.serialization import dump_skops

        return dump_skops(
            {
                "format": RF_FORMAT,
                "n_estimators": self.n_estimators,
                "min_samples_leaf": self.min_samples_leaf,
                "seed": self.seed,
                "forests": list(self._forests),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> RandomForestSurrogate:
        """Rebuild the fitted forests from :meth:`to_bytes` output (skops, trusted types only).

        Raises:
            InvalidFileError: The blob is unreadable or not a random-forest surrogate.
            UnsafeFileError: The blob holds types outside the allow-list (e.g. a pickle).
        """
        from crucible.exceptions import InvalidFileError
        from crucible.serialization import check_forest, load_skops

        field, fix = "surrogate_state", "refit the surrogate and save it again"
        blob = load_skops(data, field=field, kind="rf-surrogate", fix=fix)
        keys = {"n_estimators", "min_samples_leaf", "seed", "forests"}
        if not isinstance(blob, dict) or blob.get("format") != RF_FORMAT or keys - set(blob):
            raise InvalidFileError("<bytes>", f"is not a {RF_FORMAT} blob", fix, field=field)
        forests = blob["forests"]
        if not isinstance(forests, list) or not forests:
            raise InvalidFileError("<bytes>", "holds no fitted forest", fix, field=field)
        for forest in forests:
            check_forest(forest, None, field=field, label="<bytes>")
        surrogate = cls(
            int(blob["n_estimators"]), int(blob["min_samples_leaf"]), int(blob["seed"])
        )
        surrogate._forests = forests
        return surrogate


def _forest_ensemble_model(surrogate: RandomForestSurrogate) -> Any:
    torch = require("torch")
    ensemble = require("botorch.models.ensemble")

    class _ForestModel(ensemble.EnsembleModel):  # type: ignore[name-defined]
        """Trees as ensemble members: ``batch x n x d`` -> ``batch x s x n x m``."""

        def __init__(self) -> None:
            super().__init__()
            self._num_outputs = len(surrogate._forests)

        def forward(self, X: Any) -> Any:
            flat = X.reshape(-1, X.shape[-1]).detach().cpu().numpy()
            per_tree = surrogate.tree_predictions(flat)  # s x (b*n) x m
            values = torch.as_tensor(per_tree, dtype=X.dtype)
            s, m = values.shape[0], values.shape[-1]
            values = values.reshape(s, *X.shape[:-1], m)
            return values.movedim(0, -3)

    return _ForestModel()


#: Registry: surrogate name -> class.
SURROGATES: dict[str, type[Surrogate]] = {"gp": GPSurrogate, "rf": RandomForestSurrogate}


def make_surrogate(name: str, **options: Any) -> Surrogate:
    """Build a surrogate by registry name (``gp``, ``rf``)."""
    if name not in SURROGATES:
        raise InvalidInputError(
            "surrogate", f"unknown surrogate {name!r}", f"use one of {list(SURROGATES)}"
        )
    return SURROGATES[name](**options)
