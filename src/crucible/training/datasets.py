"""Datasets for training: scikit-learn's bundled sets (no download) and arrays you bring.

=============== ============== ======= ========= ==========================
name            task           rows    features  image / sequence layout
=============== ============== ======= ========= ==========================
digits          10 classes     1797    64        1 x 8 x 8 / 8 steps x 8
wine            3 classes      178     13        — / 13 steps x 1
breast_cancer   2 classes      569     30        — / 30 steps x 1
diabetes        regression     442     10        — / 10 steps x 1
egfr            regression     5568    n_bits    — / n_bits steps x 1
=============== ============== ======= ========= ==========================

Features are standardised with the training split's mean and standard deviation (fit on
train only); regression targets likewise, so losses are comparable across datasets.
``egfr`` is the ligand-data stage's bundled ChEMBL EGFR set (Morgan count fingerprints →
pIC50; needs RDKit); other molecular data goes through :func:`from_arrays`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import TensorDataset

from crucible.exceptions import InvalidInputError
from crucible.training.config import DataConfig, DatasetLayout

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class DatasetSplit:
    """A train/valid pair of tensor datasets and what a network needs to know about them.

    Attributes:
        train: ``TensorDataset(x: n_train x *input_shape, y: n_train [x targets])``.
        valid: Same layout for the validation rows.
        input_shape: Shape of one example, without the batch dimension.
        output_dim: Classes (classification) or targets (regression).
        task: ``"classification"`` (integer labels) or ``"regression"`` (float targets).
        name: Human-readable dataset name.
    """

    train: TensorDataset
    valid: TensorDataset
    input_shape: tuple[int, ...]
    output_dim: int
    task: Task
    name: str = "arrays"

    def example_input(self, rows: int = 2) -> np.ndarray:
        """A few training inputs as float32 numpy (an MLflow ``input_example``)."""
        return self.train.tensors[0][:rows].numpy()


def _sklearn_loader(name: str) -> Callable[[], Any]:
    from sklearn import datasets

    loaders: dict[str, Callable[[], Any]] = {
        "digits": datasets.load_digits,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "diabetes": datasets.load_diabetes,
    }
    if name not in loaders:
        raise InvalidInputError(
            "data.name", f"unknown dataset {name!r}", f"use one of {[*sorted(loaders), 'egfr']}"
        )
    return loaders[name]


BUNDLED_DATASETS = ("digits", "wine", "breast_cancer", "diabetes")


def _load_egfr(config: DataConfig) -> DatasetSplit:
    """Bundled EGFR ligands: Morgan count fingerprints (radius 2) → pIC50."""
    from crucible.chem.activity import morgan_counts
    from crucible.data.datasets import load_egfr

    frame = load_egfr(limit=config.limit, seed=config.split_seed)
    features, valid = morgan_counts(frame["smiles"].tolist(), n_bits=config.n_bits)
    targets = frame["pchembl_value"].to_numpy(dtype=float)
    return from_arrays(
        features[valid],
        targets[valid],
        task="regression",
        layout=config.layout,
        valid_fraction=config.valid_fraction,
        seed=config.split_seed,
        name="egfr",
    )


def load_dataset(config: DataConfig | None = None) -> DatasetSplit:
    """Load a bundled scikit-learn dataset, split and standardise it.

    Args:
        config: Dataset name, layout, validation fraction and split seed.

    Returns:
        The split, with inputs laid out as ``config.layout`` asks.
    """
    config = config or DataConfig()
    if config.name == "egfr":
        return _load_egfr(config)
    bunch = _sklearn_loader(config.name)()
    x, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)
    task: Task = "regression" if config.name == "diabetes" else "classification"
    image_side = 8 if config.name == "digits" else None
    return from_arrays(
        x,
        y,
        task=task,
        layout=config.layout,
        valid_fraction=config.valid_fraction,
        seed=config.split_seed,
        image_side=image_side,
        name=config.name,
    )


def from_arrays(
    x: np.ndarray,
    y: np.ndarray,
    *,
    task: Task,
    layout: DatasetLayout = "flat",
    valid_fraction: float = 0.2,
    seed: int = 0,
    image_side: int | None = None,
    name: str = "arrays",
) -> DatasetSplit:
    """Split arrays into train/valid tensor datasets (stratified for classification).

    Args:
        x: Features, ``n x F``.
        y: Integer labels (classification) or targets, ``n`` or ``n x k`` (regression).
        task: ``"classification"`` or ``"regression"``.
        layout: ``flat``, ``image`` (needs ``image_side**2 == F``) or ``sequence``
            (``T = image_side`` steps when given, else ``F`` steps of one feature).
        valid_fraction: Fraction of rows held out for validation.
        seed: Split seed.
        image_side: Side of the square image the features form, if any.
        name: Name for reports.

    Returns:
        The split.

    Raises:
        InvalidInputError: If shapes do not match or the layout cannot apply.
    """
    from sklearn.model_selection import train_test_split

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    if x.ndim != 2 or len(x) != len(y) or len(x) < 4:
        raise InvalidInputError(
            "x",
            f"need x of shape n x F (n >= 4) matching y; got {x.shape} and {y.shape}",
            "pass a 2-D feature matrix and one target row per example",
        )
    stratify = y if task == "classification" else None
    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, test_size=valid_fraction, random_state=seed, stratify=stratify
    )
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
    std[std == 0] = 1.0
    x_tr, x_va = (x_tr - mean) / std, (x_va - mean) / std
    if task == "classification":
        output_dim = int(y.max()) + 1
        t_tr, t_va = (
            torch.as_tensor(y_tr, dtype=torch.long),
            torch.as_tensor(y_va, dtype=torch.long),
        )
    else:
        y_tr2, y_va2 = y_tr.reshape(len(y_tr), -1), y_va.reshape(len(y_va), -1)
        y_mean, y_std = y_tr2.mean(axis=0), y_tr2.std(axis=0) + 1e-12
        output_dim = y_tr2.shape[1]
        t_tr = torch.as_tensor((y_tr2 - y_mean) / y_std, dtype=torch.float32)
        t_va = torch.as_tensor((y_va2 - y_mean) / y_std, dtype=torch.float32)
    shape = _layout_shape(x.shape[1], layout, image_side)
    f_tr = torch.as_tensor(x_tr, dtype=torch.float32).reshape(-1, *shape)
    f_va = torch.as_tensor(x_va, dtype=torch.float32).reshape(-1, *shape)
    return DatasetSplit(
        TensorDataset(f_tr, t_tr), TensorDataset(f_va, t_va), shape, output_dim, task, name
    )


def _layout_shape(features: int, layout: DatasetLayout, side: int | None) -> tuple[int, ...]:
    if layout == "flat":
        return (features,)
    if layout == "image":
        if side is None or side * side != features:
            raise InvalidInputError(
                "data.layout",
                "'image' needs square image features (e.g. digits)",
                "use layout='flat' or 'sequence' for tabular data",
            )
        return (1, side, side)
    if side is not None and features % side == 0:
        return (side, features // side)
    return (features, 1)
