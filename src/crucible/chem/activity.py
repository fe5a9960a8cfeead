"""QSAR activity models: random forest on Morgan fingerprints, and Chemprop v2 (MPNN).

Both regress pChEMBL (or any -log10 activity) from SMILES and share one interface,
:class:`ActivityModel`: ``fit``, ``predict(smiles) -> np.ndarray`` (one value per SMILES;
NaN where a SMILES cannot be parsed), ``evaluate`` (RMSE, MAE, R²), ``save`` and
:func:`load_activity_model`. A saved model is a folder with ``model.json`` (kind, parameters,
metrics) and the weights, so the scoring component ``activity_model`` can load it by path.

* ``random_forest``: scikit-learn ``RandomForestRegressor`` on count-based Morgan
  fingerprints (radius 2, 2048 bits, ``max_features="sqrt"``). Fast on CPU (figures in
  ``docs/chem.md``).
* ``chemprop``: Chemprop 2 ``MPNN`` (bond message passing, mean aggregation, regression FFN
  with target scaling). Chemprop, Lightning and torch are imported only when this model is
  used (the import alone costs about 15-20 s here); torch runs with one intra-op thread unless
  ``CRUCIBLE_TORCH_THREADS`` says otherwise, and on CUDA when ``device`` allows it.

:func:`train_activity_model` fits a model on a train/valid/test split, evaluates it, saves it,
draws a parity plot and records everything in MLflow (``get_settings().mlflow_tracking_uri``).

Add a model family by subclassing :class:`ActivityModel` and calling
:func:`register_activity_model`.
"""

from __future__ import annotations

import json
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from crucible._imports import require
from crucible.chem.limits import smiles_too_long
from crucible.exceptions import (
    InvalidFileError,
    InvalidInputError,
    NotFoundError,
    UnsafeFileError,
)
from crucible.settings import get_settings
from crucible.tracking import MlflowTracker
from crucible.validation import DeviceName, Seed, check_order, strict_config

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    #: Activities: a list of floats or a 1-D array, shape ``(n,)``.
    Values = Sequence[float] | np.ndarray

MANIFEST = "model.json"
FOREST_FILE = "forest.skops"
LEGACY_FOREST_FILE = "forest.joblib"
CHEMPROP_FILE = "chemprop_state.pt"
LEGACY_CHEMPROP_FILE = "chemprop.pt"
CHEMPROP_FORMAT = "crucible-chemprop-state-1"
_RETRAIN = "retrain the model with train_activity_model, or pass the folder it saved"
SMILES_COLUMN = "smiles"
ACTIVITY_COLUMN = "pchembl_value"
EpochCallback = Callable[[int, int, Mapping[str, float]], None]


# --------------------------------------------------------------------------------------------
# Features and metrics


def morgan_counts(
    smiles: Sequence[str], radius: int = 2, n_bits: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Count-based Morgan fingerprints.

    Args:
        smiles: Molecules.
        radius: Morgan radius (2 ~ ECFP4).
        n_bits: Folded length.

    Returns:
        ``(features, valid)``: ``features`` of shape ``(n, n_bits)`` (float32; zero rows for
        invalid SMILES) and the boolean mask ``valid`` of shape ``(n,)``.
    """
    import numpy as np
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    from crucible.data.standardise import quiet_rdkit

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    features = np.zeros((len(smiles), n_bits), dtype=np.float32)
    valid = np.zeros(len(smiles), dtype=bool)
    with quiet_rdkit():
        for row, smi in enumerate(smiles):
            usable = isinstance(smi, str) and smi and not smiles_too_long(smi)
            mol = Chem.MolFromSmiles(smi) if usable else None
            if mol is not None:
                features[row] = generator.GetCountFingerprintAsNumPy(mol)
                valid[row] = True
    return features, valid


def regression_metrics(y_true: Values, y_pred: Values) -> dict[str, float]:
    """RMSE, MAE, R² and Pearson r of predictions (pairs with a NaN are skipped).

    Args:
        y_true: Measured values, shape ``(n,)``.
        y_pred: Predicted values, shape ``(n,)``.

    Returns:
        ``{"rmse", "mae", "r2", "pearson_r", "n"}``; R² and r are NaN below two points.
    """
    import numpy as np

    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    keep = np.isfinite(true) & np.isfinite(pred)
    true, pred = true[keep], pred[keep]
    if len(true) == 0:
        return {"rmse": math.nan, "mae": math.nan, "r2": math.nan, "pearson_r": math.nan, "n": 0}
    error = pred - true
    total = float(np.sum((true - true.mean()) ** 2))
    r2 = 1.0 - float(np.sum(error**2)) / total if len(true) > 1 and total > 0 else math.nan
    pearson = (
        float(np.corrcoef(true, pred)[0, 1])
        if len(true) > 1 and true.std() > 0 and pred.std() > 0
        else math.nan
    )
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": r2,
        "pearson_r": pearson,
        "n": len(true),
    }


# --------------------------------------------------------------------------------------------
# The model interface and registry


class ActivityModel(ABC):
    """A regression model from SMILES to activity (e.g. pChEMBL)."""

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        if params is None:
            params = self.Params()
        elif not isinstance(params, self.Params):
            params = self.Params.model_validate(dict(params))
        self.params = params
        self.info: dict[str, Any] = {}

    @abstractmethod
    def fit(
        self,
        smiles: Sequence[str],
        y: Values,
        valid_smiles: Sequence[str] | None = None,
        valid_y: Values | None = None,
        on_epoch: EpochCallback | None = None,
    ) -> ActivityModel:
        """Train on ``smiles`` with targets ``y`` (shape ``(n,)``); returns ``self``."""

    @abstractmethod
    def predict(self, smiles: Sequence[str]) -> np.ndarray:
        """Predicted activity, shape ``(len(smiles),)``; NaN for unparsable SMILES."""

    @abstractmethod
    def _save_weights(self, folder: Path) -> None:
        """Write the fitted weights into ``folder``."""

    @classmethod
    @abstractmethod
    def _load_weights(cls, folder: Path, params: BaseModel) -> ActivityModel:
        """Rebuild a fitted model from ``folder``."""

    def evaluate(self, smiles: Sequence[str], y: Values) -> dict[str, float]:
        """:func:`regression_metrics` of this model's predictions."""
        return regression_metrics(y, self.predict(smiles))

    def save(self, folder: str | Path) -> Path:
        """Save into ``folder`` (``model.json`` + weights); returns the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._save_weights(folder)
        manifest = {"kind": self.name, "params": self.params.model_dump(mode="json")}
        manifest["info"] = self.info
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        return folder


_MODELS: dict[str, type[ActivityModel]] = {}


def register_activity_model(cls: type[ActivityModel]) -> type[ActivityModel]:
    """Register a model class under ``cls.name`` (usable as a decorator)."""
    _MODELS[cls.name] = cls
    return cls


def available_activity_models() -> list[str]:
    """Names of the registered activity model families."""
    return sorted(_MODELS)


def get_activity_model(
    kind: str, params: BaseModel | Mapping[str, Any] | None = None
) -> ActivityModel:
    """A new, unfitted model of the registered family ``kind``."""
    if kind not in _MODELS:
        raise InvalidInputError(
            "model.kind", f"unknown activity model {kind!r}", f"use one of {sorted(_MODELS)}"
        )
    return _MODELS[kind](params)


def load_activity_model(folder: str | Path) -> ActivityModel:
    """Load a model saved by :meth:`ActivityModel.save` (any registered family).

    Raises:
        NotFoundError: The folder has no ``model.json``.
        InvalidFileError: The manifest or the weights are unreadable or do not fit together.
        UnsafeFileError: The weights are in an old pickle-based format or hold types outside
            the allow-list (convert old files with ``crucible convert-legacy activity-model``).
    """
    from pydantic import ValidationError

    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise NotFoundError(f"no activity model at {folder} (missing {MANIFEST}); train one first")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidFileError(
            manifest_path, f"is not JSON ({exc})", _RETRAIN, field="model_dir"
        ) from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("kind"), str):
        raise InvalidFileError(manifest_path, "has no 'kind' string", _RETRAIN, field="model_dir")
    cls = _MODELS.get(manifest["kind"])
    if cls is None:
        raise InvalidInputError(
            "model.kind",
            f"{folder} holds a {manifest['kind']!r} model, which is not registered",
            f"register it or use one of {sorted(_MODELS)}",
        )
    try:
        params = cls.Params.model_validate(manifest.get("params", {}))
    except ValidationError as exc:
        from crucible.serialization import describe_error

        problem = f"has invalid 'params' ({describe_error(exc)})"
        raise InvalidFileError(manifest_path, problem, _RETRAIN, field="model_dir") from exc
    model = cls._load_weights(folder, params)
    info = manifest.get("info", {})
    model.info = info if isinstance(info, dict) else {}
    return model


def _check_training_data(smiles: Sequence[str], y: Values) -> np.ndarray:
    import numpy as np

    targets = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(smiles) != len(targets):
        raise InvalidInputError(
            "y", f"{len(targets)} targets for {len(smiles)} SMILES", "give one target per SMILES"
        )
    if len(targets) < 2 or not np.isfinite(targets).all():
        raise InvalidInputError(
            "y",
            "fewer than 2 molecules, or missing/non-finite targets",
            "standardise the data (it drops rows without activity) and give at least 2",
        )
    return targets


# --------------------------------------------------------------------------------------------
# Random forest


class RandomForestParams(BaseModel):
    """Random forest on count Morgan fingerprints."""

    model_config = strict_config()

    n_estimators: int = Field(default=300, ge=1)
    max_features: Annotated[float, Field(gt=0, le=1)] | Literal["sqrt", "log2"] = Field(
        default="sqrt", description="Share of features per split (0, 1], 'sqrt' or 'log2'."
    )
    min_samples_leaf: int = Field(default=1, ge=1)
    radius: int = Field(default=2, ge=0)
    n_bits: int = Field(default=2048, ge=64)
    n_jobs: int = Field(default=1, ge=-1, description="Worker processes; -1 uses every core.")
    seed: Seed = 0

    @field_validator("n_jobs")
    @classmethod
    def _some_workers(cls, value: int) -> int:
        if value == 0:
            raise ValueError("n_jobs=0 runs nothing; use 1 (one process) or -1 (every core)")
        return value


@register_activity_model
class RandomForestActivityModel(ActivityModel):
    """scikit-learn ``RandomForestRegressor`` on count Morgan fingerprints."""

    name = "random_forest"
    Params = RandomForestParams
    params: RandomForestParams

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self.forest: Any = None

    def fit(
        self,
        smiles: Sequence[str],
        y: Values,
        valid_smiles: Sequence[str] | None = None,
        valid_y: Values | None = None,
        on_epoch: EpochCallback | None = None,
    ) -> RandomForestActivityModel:
        """Fit the forest (the validation set is not needed and ignored)."""
        ensemble = require("sklearn.ensemble")
        targets = _check_training_data(smiles, y)
        features, valid = morgan_counts(smiles, self.params.radius, self.params.n_bits)
        _reject_invalid(smiles, valid)
        self.forest = ensemble.RandomForestRegressor(
            n_estimators=self.params.n_estimators,
            max_features=self.params.max_features,
            min_samples_leaf=self.params.min_samples_leaf,
            n_jobs=self.params.n_jobs,
            random_state=self.params.seed,
        ).fit(features, targets)
        if on_epoch is not None:
            on_epoch(1, 1, {})
        return self

    def predict(self, smiles: Sequence[str]) -> np.ndarray:
        """Mean tree prediction per SMILES, shape ``(n,)``; NaN for unparsable SMILES."""
        import numpy as np

        if self.forest is None:
            raise InvalidInputError("model", "the forest is not fitted", "call fit() first")
        out = np.full(len(smiles), np.nan)
        features, valid = morgan_counts(list(smiles), self.params.radius, self.params.n_bits)
        if valid.any():
            out[valid] = self.forest.predict(features[valid])
        return out

    def _save_weights(self, folder: Path) -> None:
        from crucible.serialization import dump_skops

        (folder / FOREST_FILE).write_bytes(dump_skops(self.forest))

    @classmethod
    def _load_weights(cls, folder: Path, params: BaseModel) -> RandomForestActivityModel:
        from crucible.serialization import check_forest, load_skops

        path = _weights_file(folder, FOREST_FILE, LEGACY_FOREST_FILE)
        forest = load_skops(path, field="model_dir", kind="activity-model", fix=_RETRAIN)
        assert isinstance(params, RandomForestParams)
        check_forest(forest, params.n_bits, field="model_dir", label=str(path))
        model = cls(params)
        model.forest = forest
        return model


def _weights_file(folder: Path, name: str, legacy_name: str) -> Path:
    """``folder / name``; refuses a folder that only holds the old pickle-based file."""
    from crucible.serialization import convert_hint

    path = folder / name
    if not path.is_file() and (folder / legacy_name).is_file():
        raise UnsafeFileError(
            folder / legacy_name,
            "is an old-format pickle, which Crucible no longer loads (unpickling can run code)",
            convert_hint("activity-model"),
            field="model_dir",
        )
    if not path.is_file():
        raise InvalidFileError(folder, f"has no {name}", _RETRAIN, field="model_dir")
    return path


def _reject_invalid(smiles: Sequence[str], valid: np.ndarray) -> None:
    if not valid.all():
        bad = [smiles[i] for i in range(len(smiles)) if not valid[i]][:3]
        raise InvalidInputError(
            "smiles",
            f"{int((~valid).sum())} training SMILES cannot be parsed (e.g. {bad})",
            "standardise the data first (crucible.data.standardise.standardise_frame)",
        )


# --------------------------------------------------------------------------------------------
# Chemprop


class ChempropParams(BaseModel):
    """Chemprop 2 MPNN regression (defaults follow Chemprop's CLI)."""

    model_config = strict_config()

    epochs: int = Field(default=30, ge=1)
    batch_size: int = Field(default=64, ge=1)
    message_hidden_dim: int = Field(default=300, ge=1)
    depth: int = Field(default=3, ge=1)
    ffn_hidden_dim: int = Field(default=300, ge=1)
    ffn_num_layers: int = Field(default=1, ge=1)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    warmup_epochs: int = Field(default=2, ge=0)
    init_lr: float = Field(default=1e-4, gt=0)
    max_lr: float = Field(default=1e-3, gt=0)
    final_lr: float = Field(default=1e-4, gt=0)
    device: DeviceName = "auto"
    seed: Seed = 0

    @model_validator(mode="after")
    def _rates_below_peak(self) -> ChempropParams:
        check_order("init_lr", self.init_lr, "max_lr", self.max_lr)
        check_order("final_lr", self.final_lr, "max_lr", self.max_lr)
        return self


def _chemprop_runtime(device_name: str) -> Any:
    """Import torch (one intra-op thread unless configured) and resolve the device."""
    from crucible.device import resolve_device

    torch = require("torch", extra="chemprop")
    threads = get_settings().torch_threads or 1
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    require("chemprop")
    return resolve_device(device_name)


def _datapoints(smiles: Sequence[str], y: Values | None) -> list[Any]:
    from chemprop import data

    if y is None:
        return [data.MoleculeDatapoint.from_smi(s) for s in smiles]
    return [data.MoleculeDatapoint.from_smi(s, [float(v)]) for s, v in zip(smiles, y, strict=True)]


@register_activity_model
class ChempropActivityModel(ActivityModel):
    """Chemprop 2 message-passing neural network regressing one target."""

    name = "chemprop"
    Params = ChempropParams
    params: ChempropParams

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self.model: Any = None

    def _build(self, scaler: Any) -> Any:
        from chemprop import models, nn

        p = self.params
        message_passing = nn.BondMessagePassing(
            d_h=p.message_hidden_dim, depth=p.depth, dropout=p.dropout
        )
        ffn = nn.RegressionFFN(
            input_dim=message_passing.output_dim,
            hidden_dim=p.ffn_hidden_dim,
            n_layers=p.ffn_num_layers,
            dropout=p.dropout,
            output_transform=nn.UnscaleTransform.from_standard_scaler(scaler),
        )
        return models.MPNN(
            message_passing,
            nn.MeanAggregation(),
            ffn,
            metrics=[nn.metrics.RMSE()],
            warmup_epochs=p.warmup_epochs,
            init_lr=p.init_lr,
            max_lr=p.max_lr,
            final_lr=p.final_lr,
        )

    def fit(
        self,
        smiles: Sequence[str],
        y: Values,
        valid_smiles: Sequence[str] | None = None,
        valid_y: Values | None = None,
        on_epoch: EpochCallback | None = None,
    ) -> ChempropActivityModel:
        """Train for ``params.epochs`` epochs; ``on_epoch(epoch, epochs, metrics)`` each epoch."""
        device = _chemprop_runtime(self.params.device)
        from chemprop import data, featurizers
        from lightning import pytorch as pl

        targets = _check_training_data(smiles, y)
        _reject_invalid(smiles, morgan_counts(smiles, 0, 64)[1])
        pl.seed_everything(self.params.seed, verbose=False)
        featurizer = featurizers.SimpleMoleculeMolGraphFeaturizer()
        train_set = data.MoleculeDataset(_datapoints(smiles, targets), featurizer)
        scaler = train_set.normalize_targets()
        train_set.cache = True
        loaders = [
            data.build_dataloader(
                train_set, batch_size=self.params.batch_size, num_workers=0, seed=self.params.seed
            )
        ]
        if valid_smiles is not None and valid_y is not None and len(valid_smiles) > 0:
            valid_set = data.MoleculeDataset(_datapoints(valid_smiles, valid_y), featurizer)
            valid_set.normalize_targets(scaler)
            valid_set.cache = True
            loaders.append(
                data.build_dataloader(
                    valid_set, batch_size=self.params.batch_size, num_workers=0, shuffle=False
                )
            )
        self.model = self._build(scaler)
        with _quiet_lightning():
            trainer = pl.Trainer(
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                accelerator="gpu" if device.type == "cuda" else "cpu",
                devices=1,
                max_epochs=self.params.epochs,
                callbacks=[_epoch_callback(on_epoch, self.params.epochs)],
            )
        with _quiet_lightning():
            trainer.fit(self.model, *loaders)
        self.model.eval()
        return self

    def predict(self, smiles: Sequence[str]) -> np.ndarray:
        """Predictions (already unscaled), shape ``(n,)``; NaN for unparsable SMILES."""
        import numpy as np

        if self.model is None:
            raise InvalidInputError("model", "the network is not trained", "call fit() first")
        device = _chemprop_runtime(self.params.device)
        import torch
        from chemprop import data, featurizers

        out = np.full(len(smiles), np.nan)
        valid = morgan_counts(list(smiles), 0, 64)[1]
        rows = np.flatnonzero(valid)
        if len(rows) == 0:
            return out
        dataset = data.MoleculeDataset(
            _datapoints([smiles[int(i)] for i in rows], None),
            featurizers.SimpleMoleculeMolGraphFeaturizer(),
        )
        loader = data.build_dataloader(dataset, batch_size=256, num_workers=0, shuffle=False)
        model = self.model.to(device).eval()
        chunks = []
        with torch.inference_mode():
            for batch in loader:
                batch_graph = batch.bmg
                batch_graph.to(device)
                chunks.append(model(batch_graph, batch.V_d, batch.X_d).cpu())
        out[rows] = torch.cat(chunks).numpy().reshape(-1)
        return out

    def _save_weights(self, folder: Path) -> None:
        import torch

        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        torch.save({"format": CHEMPROP_FORMAT, "state_dict": state}, folder / CHEMPROP_FILE)

    @classmethod
    def _load_weights(cls, folder: Path, params: BaseModel) -> ChempropActivityModel:
        from crucible.serialization import load_torch

        _chemprop_runtime("cpu")
        path = _weights_file(folder, CHEMPROP_FILE, LEGACY_CHEMPROP_FILE)
        blob = load_torch(path, field="model_dir", kind="activity-model", fix=_RETRAIN)
        if not isinstance(blob, dict) or blob.get("format") != CHEMPROP_FORMAT:
            raise InvalidFileError(
                path, f"is not a {CHEMPROP_FORMAT} weights file", _RETRAIN, field="model_dir"
            )
        model = cls(params)
        model.model = model._build(_UnitScaler())  # the scaler's values are in the state
        try:
            model.model.load_state_dict(blob["state_dict"])
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise InvalidFileError(
                path,
                f"the weights do not fit the parameters in {MANIFEST}: {str(exc)[:200]}",
                _RETRAIN,
                field="model_dir",
            ) from exc
        model.model.eval()
        return model


class _UnitScaler:
    """Placeholder target scaler (mean 0, scale 1) until the saved state overwrites it."""

    mean_ = (0.0,)
    scale_ = (1.0,)


@contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Hide Lightning's start-up banners and tips (warnings and errors still show)."""
    import logging
    import warnings

    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*treespec.*")
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _epoch_callback(on_epoch: EpochCallback | None, epochs: int) -> Any:
    from lightning import pytorch as pl

    class _Report(pl.Callback):
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
            if on_epoch is not None:
                on_epoch(trainer.current_epoch + 1, epochs, metrics)

    return _Report()


# --------------------------------------------------------------------------------------------
# Training on a split, reporting, tracking


@dataclass
class TrainedActivityModel:
    """Output of :func:`train_activity_model`.

    Attributes:
        model: The fitted model.
        metrics: Per split (``train``, ``valid``, ``test``): RMSE, MAE, R², r, n.
        model_dir: Where the model was saved.
        parity_plot: PNG of predicted vs measured activity on the test set.
        run_id: MLflow run id (None when tracking is off).
        seconds: Fit time.
        history: Per-epoch metrics (Chemprop).
        registered_version: Model Registry version when ``register_as`` was given.
    """

    model: ActivityModel
    metrics: dict[str, dict[str, float]]
    model_dir: Path
    parity_plot: Path
    run_id: str | None = None
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)
    registered_version: str | None = None

    def flat_metrics(self) -> dict[str, float]:
        """``{"test_r2": ..., "test_rmse": ..., ...}`` for MLflow and artifacts."""
        return {
            f"{split}_{name}": float(value)
            for split, values in self.metrics.items()
            for name, value in values.items()
        }

    def summary(self) -> ActivityModelSummary:
        """The files, metrics and ids, without the fitted model (small, serialisable)."""
        return ActivityModelSummary(
            model_dir=str(self.model_dir),
            parity_plot=str(self.parity_plot),
            run_id=self.run_id,
            registered_version=self.registered_version,
            metrics=self.metrics,
            fit_seconds=self.seconds,
        )


class ActivityModelSummary(BaseModel):
    """A trained activity model as a stage result.

    Attributes:
        model_dir: Where the model was saved (what ``activity_model`` scoring loads).
        parity_plot: Predicted vs measured PNG on the test set.
        run_id: MLflow run id (None when tracking is off).
        registered_version: Model Registry version (None unless registered).
        metrics: Per split (``train``, ``valid``, ``test``): RMSE, MAE, R², r, n.
        fit_seconds: Fit time.
    """

    model_dir: str
    parity_plot: str
    run_id: str | None = None
    registered_version: str | None = None
    metrics: dict[str, dict[str, float]]
    fit_seconds: float = 0.0


def parity_plot(y_true: Values, y_pred: Values, path: str | Path, title: str) -> Path:
    """Scatter of predicted vs measured activity with the identity line, as PNG."""
    import numpy as np

    from crucible.viz.figures import pyplot, save_figure

    plt = pyplot()
    true = np.asarray(y_true, dtype=float)
    pred = np.asarray(y_pred, dtype=float)
    metrics = regression_metrics(true, pred)
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=110)
    ax.scatter(true, pred, s=8, alpha=0.5, edgecolors="none")
    finite = np.concatenate([true[np.isfinite(true)], pred[np.isfinite(pred)]])
    low, high = (finite.min() - 0.3, finite.max() + 0.3) if len(finite) else (0.0, 1.0)
    ax.plot([low, high], [low, high], color="black", linewidth=0.8)
    ax.set(xlim=(low, high), ylim=(low, high), xlabel="measured pChEMBL", ylabel="predicted")
    ax.set_title(
        f"{title}\nR² {metrics['r2']:.3f}  RMSE {metrics['rmse']:.3f}  n {metrics['n']}",
        fontsize=9,
    )
    return save_figure(fig, path)


def train_activity_model(
    kind: str,
    train: pd.DataFrame,
    test: pd.DataFrame,
    out_dir: str | Path,
    valid: pd.DataFrame | None = None,
    params: BaseModel | Mapping[str, Any] | None = None,
    track: bool = True,
    experiment: str = "crucible-activity-models",
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    on_epoch: EpochCallback | None = None,
    register_as: str | None = None,
    parent_run_id: str | None = None,
) -> TrainedActivityModel:
    """Fit, evaluate, save, plot and (optionally) track an activity model.

    Args:
        kind: Registered model family (``random_forest``, ``chemprop``).
        train: Training table (``smiles``, ``pchembl_value``).
        test: Test table (same columns).
        out_dir: Folder for ``model/`` and ``parity_test.png``.
        valid: Validation table (Chemprop monitors it; optional).
        params: Model parameters (the family's ``Params`` or a dict).
        track: Record params, metrics, the plot and the model in MLflow.
        experiment: MLflow experiment name.
        run_name: MLflow run name (default: the model kind).
        tags: Extra MLflow tags (e.g. target, split method).
        on_epoch: Progress callback ``(epoch, epochs, metrics)``.
        register_as: Also log an MLflow ``pyfunc`` model and register it under this name
            in the Model Registry (needs ``track``).
        parent_run_id: Nest the MLflow run under this run, in its experiment (e.g. a
            design run's; ``experiment`` is then not used).

    Returns:
        The fitted model with per-split metrics, paths and the MLflow run id.
    """
    model = get_activity_model(kind, params)
    splits = {"train": train, "valid": valid, "test": test}
    for name, frame in splits.items():
        if frame is not None and not {SMILES_COLUMN, ACTIVITY_COLUMN} <= set(frame.columns):
            raise InvalidInputError(
                name, "needs 'smiles' and 'pchembl_value' columns", "pass a standardised split"
            )
    if not len(test):
        raise InvalidInputError("test", "the test set is empty", "give the test split a fraction")
    history: list[dict[str, float]] = []

    def record(epoch: int, epochs: int, metrics: Mapping[str, float]) -> None:
        history.append({"epoch": float(epoch), **metrics})
        if on_epoch is not None:
            on_epoch(epoch, epochs, metrics)

    start = time.perf_counter()
    model.fit(
        train[SMILES_COLUMN].tolist(),
        train[ACTIVITY_COLUMN].to_numpy(),
        valid[SMILES_COLUMN].tolist() if valid is not None and len(valid) else None,
        valid[ACTIVITY_COLUMN].to_numpy() if valid is not None and len(valid) else None,
        on_epoch=record,
    )
    seconds = time.perf_counter() - start
    metrics, test_pred = {}, None
    for name, frame in splits.items():
        if frame is None or not len(frame):
            continue
        predictions = model.predict(frame[SMILES_COLUMN].tolist())
        metrics[name] = regression_metrics(frame[ACTIVITY_COLUMN].to_numpy(), predictions)
        if name == "test":
            test_pred = predictions
    model.info = {"metrics": metrics, "fit_seconds": seconds, "n_train": len(train)}
    out = Path(out_dir)
    model_dir = model.save(out / "model")
    assert test_pred is not None
    plot = parity_plot(
        test[ACTIVITY_COLUMN].to_numpy(), test_pred, out / "parity_test.png", f"{kind}: test set"
    )
    result = TrainedActivityModel(model, metrics, model_dir, plot, None, seconds, history)
    if track:
        result.run_id = log_to_mlflow(
            result, experiment, run_name or kind, tags or {}, parent_run_id
        )
        if register_as:
            result.registered_version = register_model(result, register_as)
    return result


def log_to_mlflow(
    result: TrainedActivityModel,
    experiment: str,
    run_name: str,
    tags: Mapping[str, str],
    parent_run_id: str | None = None,
) -> str:
    """Record a trained model in MLflow: params, metrics, per-epoch history, plot, model files.

    One run of :mod:`crucible.tracking` at ``get_settings().mlflow_tracking_uri`` (SQLite by
    default), written in one batch; new experiments put artifacts under
    ``<mlflow_artifact_location>/<experiment>``. With ``parent_run_id`` the run is nested
    under that run, in its experiment.

    Returns:
        The run id.
    """
    settings = get_settings()
    tracker = MlflowTracker(
        artifact_location=f"{settings.mlflow_artifact_location}/{experiment}", flush_s=math.inf
    )
    all_tags = {"crucible.role": "activity-model", "model_kind": result.model.name, **tags}
    run = (
        tracker.get_run(parent_run_id).start_child(run_name, all_tags)
        if parent_run_id
        else tracker.start_run(experiment, run_name, tags=all_tags)
    )
    run.log_params(
        {
            "kind": result.model.name,
            **{k: str(v) for k, v in result.model.params.model_dump().items()},
        }
    )
    run.log_metrics({**result.flat_metrics(), "fit_seconds": result.seconds})
    for row in result.history:
        run.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))
    run.flush()
    run.log_artifact(result.parity_plot)
    run.log_artifacts(result.model_dir, artifact_path="model")
    run.end()
    assert run.run_id is not None
    return run.run_id


def _pip_requirements(kind: str) -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    packages = ["rdkit", "scikit-learn", "skops", "pandas", "numpy"]
    if kind == "chemprop":
        packages += ["chemprop", "torch", "lightning"]
    pins = []
    for package in packages:
        try:
            pins.append(f"{package}=={version(package).split('+')[0]}")
        except PackageNotFoundError:
            pins.append(package)
    return pins


def register_model(result: TrainedActivityModel, name: str) -> str:
    """Log the model as an MLflow ``pyfunc`` model in its run and register it as ``name``.

    The pyfunc takes a DataFrame with a ``smiles`` column and returns predictions, so
    ``mlflow.pyfunc.load_model(f"models:/{name}/<version>")`` works without Crucible's API
    (Crucible itself must be importable). Requirements are pinned explicitly (no inference).

    Returns:
        The new registered model version.
    """
    if result.run_id is None:
        raise InvalidInputError("track", "the model was not tracked", "train with track=True")
    test = result.metrics.get("test", {})
    tags = {
        f"test_{key}": f"{test[key]:.4f}"
        for key in ("r2", "rmse")
        if key in test and math.isfinite(test[key])
    }

    def log_model(mlflow: Any) -> Any:
        return mlflow.pyfunc.log_model(
            name="activity_model",
            python_model=str(Path(__file__).with_name("_activity_pyfunc.py")),
            artifacts={"model": str(result.model_dir)},
            pip_requirements=_pip_requirements(result.model.name),
            registered_model_name=name,
        )

    version = MlflowTracker().register_model(
        result.run_id, name, log_model, version_tags={**tags, "kind": result.model.name}
    )
    assert version is not None
    return version
