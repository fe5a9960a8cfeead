"""The results table: kept molecules joined to their scores by canonical SMILES, ranked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crucible.chem.results import RESULT_COLUMNS, results_table
from crucible.exceptions import InvalidInputError


def _predict(smiles: list[str]) -> np.ndarray:
    return np.array([float(len(s)) for s in smiles])


def test_kept_molecules_get_every_score_and_a_rank() -> None:
    scored = pd.DataFrame(
        {"smiles": ["OCC", "c1ccccc1O", "CCN", "C(C)O", "bad"], "total": [0.4, 0.9, 0.2, 0.5, 0.0]}
    )
    kept = ["CCO", "Oc1ccccc1", "CCN", "CCO", "CCCl"]  # CCO twice; CCCl was never scored
    table = results_table(
        scored,
        kept,
        ["c1ccccc1N", "CCO"],
        _predict,
        predict_independent=lambda s: np.full(len(s), 7.5),
    )
    assert tuple(table.columns) == RESULT_COLUMNS
    assert table["smiles"].tolist() == ["Oc1ccccc1", "CCO", "CCN", "CCCl"]
    np.testing.assert_allclose(table["score"][:3], [0.9, 0.5, 0.2])  # best duplicate score
    assert np.isnan(table["score"][3])
    assert table["rank"].tolist() == [1, 2, 3, 4]
    assert table["id"][0] == "mol-0001"
    assert table["pchembl_predicted"].tolist() == [9.0, 3.0, 3.0, 4.0]
    assert (table["pchembl_independent"] == 7.5).all()
    assert table.loc[1, "nn_similarity"] == pytest.approx(1.0)  # CCO is an active
    assert table.loc[1, "nn_active"] == "CCO"
    assert table.loc[0, "scaffold"] == "c1ccccc1" and table.loc[1, "scaffold"] == ""
    assert ((table["qed"] > 0) & (table["qed"] < 1)).all()
    assert ((table["sa_score"] >= 1) & (table["sa_score"] <= 10)).all()


def test_alerts_are_named_and_independent_model_optional() -> None:
    scored = pd.DataFrame({"smiles": ["O=C(Cl)c1ccccc1"], "total": [0.3]})
    table = results_table(scored, ["O=C(Cl)c1ccccc1"], ["CCO"], _predict)
    assert table.loc[0, "alerts"] == "acid_halide"
    assert table["pchembl_independent"].isna().all()


def test_missing_columns_name_the_field() -> None:
    with pytest.raises(InvalidInputError, match="score_column"):
        results_table(pd.DataFrame({"smiles": ["C"]}), ["C"], ["C"], _predict)
