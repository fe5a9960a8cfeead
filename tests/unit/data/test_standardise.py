import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crucible.data import load_egfr
from crucible.data.standardise import (
    StandardiseOptions,
    standardise_frame,
    standardise_many,
    standardise_smiles,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CC(=O)[O-].[Na+]", "CC(=O)O"),  # salt stripped, neutralised
        ("C[NH3+].[Cl-]", "CN"),
        ("OC(=O)c1ccccc1.O.O", "O=C(O)c1ccccc1"),  # solvent removed
        ("C1=CC=CC=C1", "c1ccccc1"),  # canonical aromatic form
        ("C[N+](=O)[O-]", "C[N+](=O)[O-]"),  # nitro kept charge-separated
        ("Nc1ccc(cc1)C(=O)O.[Zn+2]", "Nc1ccc(C(=O)O)cc1"),  # lone metal counter-ion dropped
        ("Cl.Cl.CN1CCNCC1", "CN1CCNCC1"),  # ChEMBL parent: hydrochloride removed
        ("[2H]C([2H])([2H])Oc1ccccc1", "COc1ccccc1"),  # ChEMBL isotope parent
        ("CN(C)C.CCCC[n+]1ccccc1", "CCCC[n+]1ccccc1"),  # largest organic fragment remains
    ],
)
def test_standardise_smiles(raw: str, expected: str) -> None:
    assert standardise_smiles(raw) == (expected, None)


def test_stereo_is_kept_unless_removal_is_asked_for() -> None:
    chiral = "C[C@H](N)C(=O)O"
    assert standardise_smiles(chiral)[0] == "C[C@H](N)C(=O)O"
    flat = standardise_smiles(chiral, StandardiseOptions(remove_stereo=True))
    assert flat == ("CC(N)C(=O)O", None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty or missing SMILES"),
        (None, "empty or missing SMILES"),
        ("C1CC", "SMILES syntax error"),
        ("C(C)(C)(C)(C)C", "sanitisation failed"),
        ("c1cccc1", "sanitisation failed"),
        ("[Zn+2]", "no organic structure"),  # a lone metal is no ligand
        ("[Na+].[Cl-]", "no organic structure"),
        ("CC(=O)O[Sn](C)(C)C", "metal-containing structure"),
    ],
)
def test_invalid_inputs_get_a_reason(raw: object, reason: str) -> None:
    smiles, why = standardise_many([raw])[0]
    assert smiles is None
    assert why is not None and why.startswith(reason)


def test_frame_drops_with_reasons_and_merges_duplicates() -> None:
    frame = pd.DataFrame(
        {
            "molecule_id": ["a", "b", "c", "d", "e", "f"],
            "smiles": ["CC(=O)O", "CC(=O)[O-].[Na+]", "C1CC", "CCN", "CCO", "CC(=O)O"],
            "pchembl_value": [5.0, 7.0, 6.0, float("nan"), 4.0, 6.0],
        }
    )
    result = standardise_frame(frame)
    summary = result.summary()
    assert summary["n_input"] == 6
    assert summary["n_rejected"] == 2
    assert summary["rejection_reasons"] == {
        "SMILES syntax error": 1,
        "missing or non-numeric activity": 1,
    }
    assert set(result.rejected["molecule_id"]) == {"c", "d"}
    assert summary["n_merged"] == 2 and summary["n_output"] == 2
    acid = result.molecules.set_index("smiles").loc["CC(=O)O"]
    assert acid["pchembl_value"] == 6.0  # median of 5, 7, 6
    assert acid["n_measurements"] == 3
    assert acid["source_ids"] == "a;b;f"
    assert acid["molecule_id"] == "a"
    assert summary["n_valid"] == summary["n_output"] + summary["n_merged"]


def test_no_activity_column_is_fine_and_deduplication_can_be_off() -> None:
    frame = pd.DataFrame({"smiles": ["CCO", "OCC", "CCN"]})
    result = standardise_frame(frame, StandardiseOptions(deduplicate=False))
    assert result.molecules["smiles"].tolist() == ["CCO", "CCO", "CCN"]
    assert result.molecules["molecule_id"].tolist() == ["row-0", "row-1", "row-2"]


def test_max_heavy_atoms() -> None:
    options = StandardiseOptions(max_heavy_atoms=3)
    assert standardise_smiles("CCCC", options) == (None, "more than 3 heavy atoms")


EGFR_SAMPLE = load_egfr(limit=300, seed=11)["smiles"].tolist()


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(EGFR_SAMPLE), st.booleans())
def test_standardisation_is_idempotent_on_egfr_molecules(smiles: str, remove_stereo: bool) -> None:
    options = StandardiseOptions(remove_stereo=remove_stereo)
    once, reason = standardise_smiles(smiles, options)
    assert reason is None and once is not None
    assert standardise_smiles(once, options) == (once, None)


def test_egfr_sample_standardises_without_losses() -> None:
    result = standardise_frame(load_egfr(limit=500, seed=2))
    summary = result.summary()
    assert summary["n_rejected"] == 0
    assert summary["n_output"] + summary["n_merged"] == 500
    assert not math.isnan(summary["molecules_per_second"])
