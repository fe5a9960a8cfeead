"""Screened alert catalogs give exactly RDKit FilterCatalog's answers."""

from __future__ import annotations

import csv
import os
import pickle

import pytest
from rdkit import Chem

from crucible.chem.alerts import ScreenedCatalog, build_catalog, compile_smarts
from crucible.chem.properties import parse_smiles, qed_reusing
from crucible.exceptions import InvalidInputError


def _wehi(n: int) -> list[str]:
    import rdkit

    path = os.path.join(os.path.dirname(rdkit.__file__), "Data/Pains/test_data/wehi_mols.csv")
    with open(path) as handle:
        return [row[0] for _, row in zip(range(n), csv.reader(handle), strict=False)]


@pytest.mark.parametrize("names", [["PAINS", "BRENK"], ["NIH"]])
def test_screened_catalog_agrees_with_filter_catalog(names: list[str]) -> None:
    screened = ScreenedCatalog(names)
    plain = build_catalog(names)
    assert screened.n_screened == len(screened.entries) == plain.GetNumEntries()
    mols = [Chem.MolFromSmiles(s) for s in _wehi(60)]
    assert [screened.count(m) for m in mols] == [len(plain.GetMatches(m)) for m in mols]
    firsts = [screened.first_match(m) for m in mols]
    assert [f is not None for f in firsts] == [plain.HasMatch(m) for m in mols]
    assert any(firsts)


def test_screened_catalog_pickles_by_name() -> None:
    catalog = pickle.loads(pickle.dumps(ScreenedCatalog(["PAINS_A"])))
    assert catalog.first_match(Chem.MolFromSmiles("O=C1C(=Cc2ccccc2)SC(=S)N1")) is not None


def test_unknown_catalog_and_bad_smarts_name_the_fix() -> None:
    with pytest.raises(InvalidInputError, match="unknown alert catalog"):
        build_catalog(["PAINZ"])
    with pytest.raises(InvalidInputError, match=r"alerts\[1\]"):
        compile_smarts(["c1ccccc1", "C(("], "alerts")


def test_qed_reusing_cached_properties_is_exact() -> None:
    from rdkit.Chem import QED

    for smiles in [*_wehi(60), "[H]OC([H])([H])C"]:
        mol = parse_smiles(smiles)
        assert qed_reusing(mol, {}) == QED.qed(mol)
        values: dict[str, float] = {}
        qed_reusing(mol, values)
        assert qed_reusing(mol, values) == QED.qed(mol)
