"""Bundled datasets and array splits."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from crucible.exceptions import InvalidInputError
from crucible.training.config import DataConfig
from crucible.training.datasets import BUNDLED_DATASETS, from_arrays, load_dataset


@pytest.mark.parametrize("name", BUNDLED_DATASETS)
def test_bundled_datasets_load_standardised(name: str) -> None:
    split = load_dataset(DataConfig(name=name))
    x = split.train.tensors[0]
    assert len(split.train) + len(split.valid) > 100
    assert abs(float(x.mean())) < 1e-4  # standardised on the training split
    assert split.task == ("regression" if name == "diabetes" else "classification")


def test_layouts_for_digits() -> None:
    assert load_dataset(DataConfig(layout="image")).input_shape == (1, 8, 8)
    assert load_dataset(DataConfig(layout="sequence")).input_shape == (8, 8)
    assert load_dataset(DataConfig(name="wine", layout="sequence")).input_shape == (13, 1)
    with pytest.raises(InvalidInputError, match="image"):
        load_dataset(DataConfig(name="wine", layout="image"))


def test_split_is_stratified_and_disjoint() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100, 3)), np.repeat([0, 1], 50)
    split = from_arrays(x, y, task="classification", valid_fraction=0.2)
    assert len(split.valid) == 20 and int(split.valid.tensors[1].sum()) == 10
    assert split.output_dim == 2


def test_unknown_dataset_is_refused_where_the_config_enters() -> None:
    with pytest.raises(ValidationError, match="name"):
        DataConfig(name="mnist")


def test_egfr_fingerprints_to_pic50_trains() -> None:
    from crucible.training.config import TrainConfig
    from crucible.training.engine import fit

    data = DataConfig(name="egfr", limit=300, n_bits=256)
    split = load_dataset(data)
    assert split.task == "regression" and split.input_shape == (256,)
    assert len(split.train) + len(split.valid) == 300
    result = fit(TrainConfig(epochs=15, data=data).with_overrides({"optimizer.lr": 3e-3}))
    assert result.best_metrics["valid_rmse"] < 1.0  # standardised pIC50: predicting 0 gives ~1
