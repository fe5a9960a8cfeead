import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crucible.chem.activity import (
    ActivityModel,
    available_activity_models,
    get_activity_model,
    load_activity_model,
    morgan_counts,
    regression_metrics,
    train_activity_model,
)
from crucible.data import load_egfr
from crucible.data.splits import split_frame
from crucible.data.standardise import standardise_frame
from crucible.exceptions import InvalidInputError, NotFoundError
from crucible.settings import get_settings


@pytest.fixture(scope="module")
def egfr_split() -> dict[str, pd.DataFrame]:
    molecules = standardise_frame(load_egfr(limit=600, seed=0)).molecules
    return split_frame(molecules, "random", seed=0).frames


def test_metrics_match_hand_computed_values() -> None:
    metrics = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.5, 4.0])
    assert metrics["rmse"] == pytest.approx(math.sqrt(0.125))
    assert metrics["mae"] == pytest.approx(0.25)
    assert metrics["r2"] == pytest.approx(1 - 0.5 / 5.0)
    assert metrics["n"] == 4
    with_nan = regression_metrics([1.0, 2.0, np.nan], [1.0, 2.0, 5.0])
    assert with_nan["n"] == 2 and with_nan["rmse"] == 0.0


def test_morgan_counts_marks_invalid_smiles() -> None:
    features, valid = morgan_counts(["CCO", "nonsense", ""], n_bits=256)
    assert features.shape == (3, 256) and features.dtype == np.float32
    assert valid.tolist() == [True, False, False]
    assert features[0].sum() > 0 and features[1].sum() == 0


def test_registry_lists_both_families_and_rejects_unknown() -> None:
    assert {"random_forest", "chemprop"} <= set(available_activity_models())
    with pytest.raises(InvalidInputError, match="random_forest"):
        get_activity_model("svm")


def test_random_forest_learns_egfr_and_round_trips(
    egfr_split: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    train, test = egfr_split["train"], egfr_split["test"]
    model = get_activity_model("random_forest", {"n_estimators": 60, "seed": 1})
    model.fit(train["smiles"].tolist(), train["pchembl_value"].to_numpy())
    metrics = model.evaluate(test["smiles"].tolist(), test["pchembl_value"].to_numpy())
    assert metrics["r2"] > 0.3  # a constant predictor scores 0
    smiles = [*test["smiles"].head(5), "not a smiles"]
    before = model.predict(smiles)
    assert before.shape == (6,) and np.isnan(before[-1]) and np.isfinite(before[:-1]).all()
    loaded = load_activity_model(model.save(tmp_path / "rf"))
    np.testing.assert_array_equal(loaded.predict(smiles), before)
    assert isinstance(loaded, ActivityModel) and loaded.params == model.params


def test_training_rejects_unparsable_smiles_and_missing_targets() -> None:
    model = get_activity_model("random_forest", {"n_estimators": 5})
    with pytest.raises(InvalidInputError, match="cannot be parsed"):
        model.fit(["CCO", "xx"], [1.0, 2.0])
    with pytest.raises(InvalidInputError, match="non-finite"):
        model.fit(["CCO", "CCN"], [1.0, np.nan])


def test_loading_a_missing_model_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="train one first"):
        load_activity_model(tmp_path)


def test_train_activity_model_saves_plots_and_tracks_in_mlflow(
    egfr_split: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    result = train_activity_model(
        "random_forest",
        egfr_split["train"],
        egfr_split["test"],
        tmp_path / "run",
        valid=egfr_split["valid"],
        params={"n_estimators": 40},
        tags={"target": "CHEMBL203"},
        register_as="egfr-rf-test",
    )
    assert set(result.metrics) == {"train", "valid", "test"}
    assert result.metrics["train"]["r2"] > result.metrics["test"]["r2"]
    assert result.parity_plot.read_bytes()[:4] == b"\x89PNG"
    run = MlflowClient(get_settings().mlflow_tracking_uri).get_run(result.run_id)
    assert run.data.metrics["test_r2"] == pytest.approx(result.metrics["test"]["r2"])
    assert run.data.params["n_estimators"] == "40"
    assert run.data.tags["target"] == "CHEMBL203"
    artifacts = {
        a.path
        for a in MlflowClient(get_settings().mlflow_tracking_uri).list_artifacts(
            result.run_id, "model"
        )
    }
    assert artifacts == {"model/model.json", "model/forest.skops"}
    # registered as an MLflow pyfunc that predicts from a DataFrame of SMILES
    import mlflow

    mlflow.set_tracking_uri(get_settings().mlflow_tracking_uri)
    assert result.registered_version == "1"
    pyfunc = mlflow.pyfunc.load_model(f"models:/egfr-rf-test/{result.registered_version}")
    smiles = egfr_split["test"]["smiles"].head(3).tolist()
    np.testing.assert_allclose(
        pyfunc.predict(pd.DataFrame({"smiles": smiles})), result.model.predict(smiles)
    )


def test_chemprop_trains_one_epoch_predicts_and_round_trips(
    egfr_split: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    train = egfr_split["train"].head(60)
    epochs: list[int] = []
    result = train_activity_model(
        "chemprop",
        train,
        egfr_split["test"].head(20),
        tmp_path / "cp",
        valid=egfr_split["valid"].head(20),
        params={"epochs": 1, "batch_size": 32, "message_hidden_dim": 64, "ffn_hidden_dim": 64},
        track=False,
        on_epoch=lambda epoch, total, metrics: epochs.append(epoch),
    )
    assert epochs == [1]
    assert "val_loss" in result.history[0]
    smiles = [*train["smiles"].head(4), "C1CC"]
    predictions = result.model.predict(smiles)
    assert predictions.shape == (5,) and np.isnan(predictions[-1])
    assert np.isfinite(predictions[:-1]).all()
    # outputs are unscaled: near the training mean, not near 0
    assert abs(np.nanmean(predictions) - train["pchembl_value"].mean()) < 2.5
    loaded = load_activity_model(result.model_dir)
    np.testing.assert_allclose(loaded.predict(smiles), predictions, rtol=1e-5)


@pytest.mark.slow
def test_random_forest_reaches_r2_06_on_the_egfr_random_split(tmp_path: Path) -> None:
    molecules = standardise_frame(load_egfr()).molecules
    for method, threshold in [("random", 0.6), ("scaffold", 0.3)]:
        frames = split_frame(molecules, method, seed=0).frames
        result = train_activity_model(
            "random_forest", frames["train"], frames["test"], tmp_path / method, track=False
        )
        assert result.metrics["test"]["r2"] >= threshold, (method, result.metrics["test"])


@pytest.mark.slow
def test_chemprop_learns_egfr_in_30_epochs(tmp_path: Path) -> None:
    # measured here: test R² 0.39 (RMSE 1.09) in about 275 CPU-s; the forest gets 0.59 on it
    molecules = standardise_frame(load_egfr(limit=2000, seed=0)).molecules
    frames = split_frame(molecules, "random", seed=0).frames
    result = train_activity_model(
        "chemprop", frames["train"], frames["test"], tmp_path, valid=frames["valid"],
        params={"epochs": 30}, track=False,
    )  # fmt: skip
    assert result.metrics["test"]["r2"] > 0.3


@pytest.mark.gpu
def test_chemprop_trains_on_cuda(egfr_split: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    model = get_activity_model("chemprop", {"epochs": 2, "device": "cuda"})
    train = egfr_split["train"]
    model.fit(train["smiles"].tolist(), train["pchembl_value"].to_numpy())
    predictions = model.predict(egfr_split["test"]["smiles"].tolist())
    assert np.isfinite(predictions).all()
    loaded = load_activity_model(model.save(tmp_path / "cp"))
    np.testing.assert_allclose(
        loaded.predict(egfr_split["test"]["smiles"].tolist()), predictions, rtol=1e-4, atol=1e-4
    )
