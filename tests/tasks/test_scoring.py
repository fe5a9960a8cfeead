"""Scoring task body (``task.fn``): CSV out, summary and grid artifacts, saved activity model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crucible.chem.activity import get_activity_model
from crucible.chem.scoring import ScoringConfig
from crucible.exceptions import InvalidInputError
from tasks.scoring import score_molecules

pytestmark = pytest.mark.usefixtures("prefect_harness")

SMILES = ["CC(=O)Oc1ccccc1C(=O)O", "CN1CCC[C@H]1c1cccnc1", "bad", "c1ccccc1O", "CCCCO"]


def _csv(tmp_path: Path, smiles: list[str], name: str = "in.csv") -> str:
    path = tmp_path / name
    pd.DataFrame({"smiles": smiles}).to_csv(path, index=False)
    return str(path)


def test_score_task_writes_csv_and_grid(tmp_path: Path) -> None:
    scoring = {
        "aggregation": "geometric",
        "components": [
            {"type": "qed"},
            {"type": "sa_score"},
            {"type": "custom_alerts", "params": {"catalogs": ["PAINS"]}},
        ],
    }
    config = ScoringConfig.model_validate(scoring)
    out = score_molecules.fn(_csv(tmp_path, SMILES), config, str(tmp_path / "scored.csv"))
    frame = pd.read_csv(out.path)
    assert list(frame.columns[:3]) == ["smiles", "valid", "total"]
    assert frame["total"].iloc[2] == 0 and not frame["valid"].iloc[2]
    assert out.valid_fraction == pytest.approx(0.8)
    assert out.max_total == pytest.approx(frame["total"].max())
    assert Path(out.grid).read_bytes()[:4] == b"\x89PNG"


def test_score_task_uses_a_saved_activity_model(tmp_path: Path) -> None:
    train = ["CCO", "CCCO", "CCCCO", "c1ccccc1", "c1ccccc1O", "CC(=O)O", "CCN", "CCCCCCN"]
    model = get_activity_model("random_forest", {"n_estimators": 5, "n_bits": 256})
    folder = model.fit(train, np.arange(len(train)) + 4.0).save(tmp_path / "rf")
    scoring = {"components": [{"type": "activity_model", "name": "egfr",
                               "params": {"factory": "unused:f"}}]}  # fmt: skip
    out = score_molecules.fn(
        _csv(tmp_path, SMILES),
        ScoringConfig.model_validate(scoring),
        str(tmp_path / "s.csv"),
        activity_models={"egfr": folder},
    )
    frame = pd.read_csv(out.path)
    valid = frame["valid"].to_numpy()
    expected = model.predict([s for s, ok in zip(SMILES, valid, strict=True) if ok])
    np.testing.assert_allclose(frame.loc[valid, "egfr (raw)"], expected, rtol=1e-6)


def test_missing_smiles_column_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    pd.DataFrame({"SMILES": ["CCO"]}).to_csv(path, index=False)
    with pytest.raises(InvalidInputError, match="smiles_column"):
        qed = ScoringConfig.model_validate({"components": [{"type": "qed"}]})
        score_molecules.fn(str(path), qed, str(tmp_path / "o.csv"))
