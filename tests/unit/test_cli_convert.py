"""``crucible convert-legacy``: old pickle-based files become safe files with equal outputs."""

from __future__ import annotations

import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch

from crucible.bo.surrogates import RandomForestSurrogate
from crucible.chem.activity import load_activity_model
from crucible.cli import main
from crucible.cli.convert import convert
from crucible.exceptions import InvalidInputError
from crucible.testing.generator import TINY_CORPUS
from crucible.testing.model_files import write_tiny_activity_model, write_tiny_checkpoint
from crucible.training.config import TrainConfig
from crucible.training.engine import load_checkpoint


def test_joblib_activity_model_converts_to_skops_with_equal_predictions(tmp_path: Path) -> None:
    old = write_tiny_activity_model(tmp_path / "old")
    expected = load_activity_model(old).predict(list(TINY_CORPUS))
    forest = load_activity_model(old).forest  # type: ignore[attr-defined]
    joblib.dump(forest, old / "forest.joblib")  # what Crucible wrote before
    (old / "forest.skops").unlink()
    new = tmp_path / "new"
    assert main(["convert-legacy", "activity-model", str(old), str(new), "--trusted"]) == 0
    assert sorted(p.name for p in new.iterdir()) == ["forest.skops", "model.json"]
    np.testing.assert_array_equal(load_activity_model(new).predict(list(TINY_CORPUS)), expected)


def test_pickled_rf_surrogate_converts(tmp_path: Path) -> None:
    X = np.linspace(0.0, 1.0, 20).reshape(10, 2)
    surrogate = RandomForestSurrogate(n_estimators=4, seed=3)
    surrogate.fit(X, X[:, :1] ** 2)
    old = tmp_path / "rf.pickle"
    old.write_bytes(
        pickle.dumps(
            {"n_estimators": 4, "min_samples_leaf": 1, "seed": 3, "forests": surrogate._forests}
        )
    )
    summary = convert("rf-surrogate", old, tmp_path / "rf.skops", trusted=True)
    assert summary["forests"] == 1
    again = RandomForestSurrogate.from_bytes((tmp_path / "rf.skops").read_bytes())
    np.testing.assert_array_equal(again.predict(X)[0], surrogate.predict(X)[0])


def test_checkpoint_with_a_pickled_config_converts(tmp_path: Path) -> None:
    best = write_tiny_checkpoint(tmp_path / "run")
    payload = torch.load(best, weights_only=True)
    old = tmp_path / "old.pt"
    torch.save({**payload, "config": TrainConfig.model_validate(payload["config"])}, old)
    new = tmp_path / "new.pt"
    convert("checkpoint", old, new, trusted=True)
    model, converted = load_checkpoint(new)
    reference, _ = load_checkpoint(best)
    x = torch.rand(3, *payload["input_shape"])
    torch.testing.assert_close(model(x), reference(x))
    assert converted["config"] == payload["config"]


def test_convert_refuses_untrusted_input_existing_output_and_unknown_kind(tmp_path: Path) -> None:
    old = tmp_path / "old.pt"
    old.write_bytes(b"x")
    with pytest.raises(InvalidInputError, match="--trusted"):
        convert("checkpoint", old, tmp_path / "new.pt", trusted=False)
    assert not (tmp_path / "new.pt").exists()
    with pytest.raises(InvalidInputError, match="out_path"):
        convert("checkpoint", old, old, trusted=True)
    with pytest.raises(InvalidInputError, match="kind"):
        convert("pickle", old, tmp_path / "new.pt", trusted=True)
    with pytest.raises(InvalidInputError, match="in_path"):
        convert("checkpoint", tmp_path / "missing.pt", tmp_path / "new.pt", trusted=True)


def test_a_failed_conversion_leaves_no_output(tmp_path: Path) -> None:
    old = tmp_path / "old.pt"
    torch.save({"not": "a checkpoint"}, old)
    with pytest.raises(InvalidInputError, match="not a training checkpoint"):
        convert("checkpoint", old, tmp_path / "new.pt", trusted=True)
    assert not (tmp_path / "new.pt").exists()


def test_chemprop_checkpoint_converts_to_a_state_dict(tmp_path: Path) -> None:
    pytest.importorskip("chemprop")
    from chemprop import models

    from crucible.chem.activity import get_activity_model

    smiles = list(TINY_CORPUS[:16])
    model = get_activity_model(
        "chemprop", {"epochs": 1, "message_hidden_dim": 16, "ffn_hidden_dim": 16}
    )
    model.fit(smiles, [float(len(s)) for s in smiles])
    old = model.save(tmp_path / "old")
    (old / "chemprop_state.pt").unlink()
    models.save_model(old / "chemprop.pt", model.model.cpu())  # what Crucible wrote before
    convert("activity-model", old, tmp_path / "new", trusted=True)
    np.testing.assert_allclose(
        load_activity_model(tmp_path / "new").predict(smiles), model.predict(smiles), rtol=1e-5
    )
