"""Filter chain: each stage removes what it should, reports counts, matches the naive loop."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from crucible.chem.filters import FilterConfig, filter_molecules, filter_molecules_naive
from crucible.exceptions import ConfigurationError

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
RHODANINE = "O=C1C(=Cc2ccccc2)SC(=S)N1"  # PAINS ene_rhod
BIG = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC(=O)O"  # logP and rot. bonds
SMILES = [
    ASPIRIN,
    "OC(=O)c1ccccc1OC(C)=O",  # aspirin again, another spelling
    "not smiles",
    "CN1CCC[C@H]1c1cccnc1",
    RHODANINE,
    BIG,
    "CCO",
    ASPIRIN,
]


def _wehi(n: int) -> list[str]:
    import rdkit

    path = os.path.join(os.path.dirname(rdkit.__file__), "Data/Pains/test_data/wehi_mols.csv")
    with open(path) as handle:
        return [row[0] for _, row in zip(range(n), csv.reader(handle), strict=False)]


def test_each_stage_reports_what_it_removed() -> None:
    config = FilterConfig(n_jobs=1, qed_min=0.6, alerts=["PAINS"])
    result = filter_molecules(SMILES, config, reference_smiles=["CCO"])
    reasons = result.frame["reason"].tolist()
    assert reasons == ["qed", "duplicate", "invalid", "", "alerts", "lipinski", "not_novel",
                       "duplicate"]  # fmt: skip
    summary = {s.name: (s.removed, s.remaining) for s in result.summary}
    assert summary["invalid"] == (1, 7)
    assert summary["duplicate"] == (2, 5)
    assert summary["not_novel"] == (1, 4)
    assert [s.name for s in result.summary][-2:] == ["alerts", "qed"]  # cost order
    assert result.summary[-1].remaining == 1
    assert result.kept_smiles == [Chem.CanonSmiles("CN1CCC[C@H]1c1cccnc1")]
    assert "ene_rhod" in result.frame.loc[4, "detail"]
    assert result.frame.loc[0, "qed"] == pytest.approx(0.550, abs=1e-3)
    assert "molecular_weight" in result.frame.loc[5, "detail"]


def test_brenk_flags_the_phenol_ester_of_aspirin() -> None:
    result = filter_molecules([ASPIRIN], FilterConfig(n_jobs=1, alerts=["BRENK"]))
    assert result.frame.loc[0, "reason"] == "alerts"


def test_disabled_filters_do_not_run() -> None:
    config = FilterConfig(
        n_jobs=1, deduplicate=False, lipinski=False, veber=False, alerts=[], novelty=False
    )
    result = filter_molecules(SMILES, config, reference_smiles=["CCO"])
    assert [s.name for s in result.summary] == ["invalid"]
    assert len(result.kept_smiles) == 7


def test_sa_and_property_ranges() -> None:
    config = FilterConfig(
        n_jobs=1, sa_max=2.5, property_ranges={"num_rings": (1, None)}, alerts=["PAINS"]
    )
    result = filter_molecules(["CCO", "CC12CCC3C(CCC4CC(=O)CCC34C)C1CCC2O", ASPIRIN], config)
    assert result.frame["reason"].tolist() == ["property_ranges", "sa_score", ""]
    assert result.frame.loc[1, "sa_score"] > 2.5
    with pytest.raises(ValueError, match="unknown property"):
        FilterConfig(property_ranges={"weight": (0, 1)})


def test_activity_threshold_with_a_predictor_or_values() -> None:
    class Model:
        calls = 0

        def predict(self, smiles: list[str]) -> np.ndarray:
            Model.calls += 1
            return np.array([7.0 if "N" in s else 5.0 for s in smiles])

    config = FilterConfig(n_jobs=1, activity_min=6.0, alerts=["PAINS"])
    smiles = [ASPIRIN, "CN1CCC[C@H]1c1cccnc1", "bad"]
    result = filter_molecules(smiles, config, activity=Model())
    assert result.frame["reason"].tolist() == ["activity", "", "invalid"]
    assert Model.calls == 1  # one batched call on the survivors
    values = filter_molecules(smiles, config, activity=[1.0, 9.0, np.nan])
    assert values.kept_smiles == result.kept_smiles
    with pytest.raises(ConfigurationError, match="activity"):
        filter_molecules(smiles, config)


def test_results_are_written_as_csv(tmp_path: Path) -> None:
    result = filter_molecules(SMILES, FilterConfig(n_jobs=1))
    paths = result.to_csv(tmp_path, prefix="run")
    molecules = pd.read_csv(paths["molecules"])
    summary = pd.read_csv(paths["summary"])
    assert len(molecules) == len(SMILES)
    assert {"smiles", "canonical_smiles", "kept", "reason", "detail"} <= set(molecules.columns)
    assert summary["removed"].sum() == len(SMILES) - len(pd.read_csv(paths["kept"]))


def test_chain_equals_the_naive_loop_and_workers_equal_one_process() -> None:
    smiles = [*_wehi(120), "junk", _wehi(1)[0]]
    config = FilterConfig(qed_min=0.5, sa_max=4.0, n_jobs=1)
    reference = _wehi(20)
    single = filter_molecules(smiles, config, reference_smiles=reference)
    assert single.kept_smiles == filter_molecules_naive(smiles, config, reference)
    assert sum(s.removed for s in single.summary) == len(smiles) - len(single.kept_smiles)
    workers = config.model_copy(update={"n_jobs": 2, "chunk_size": 20})
    parallel = filter_molecules(smiles[:60], workers, reference_smiles=reference)
    one = filter_molecules(smiles[:60], config, reference_smiles=reference)
    pd.testing.assert_frame_equal(parallel.frame, one.frame)


@pytest.mark.slow
def test_chain_equals_naive_loop_on_2000_molecules_with_every_filter() -> None:
    smiles = _wehi(2000)
    config = FilterConfig(qed_min=0.5, sa_max=3.5, alerts=["PAINS", "BRENK", "NIH"],
                          property_ranges={"num_rings": (1, 5)})  # fmt: skip
    fast = filter_molecules(smiles, config, reference_smiles=smiles[:100])
    assert fast.kept_smiles == filter_molecules_naive(smiles, config, smiles[:100])
