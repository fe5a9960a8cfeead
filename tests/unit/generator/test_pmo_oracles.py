"""PMO oracles against their definitions (GuacaMol / TDC), on their reference molecules.

Expected values are computed here independently: with RDKit's legacy fingerprint functions
that GuacaMol calls (``GetMorganFingerprint``, ``GetAtomPairFingerprint``) and RDKit
descriptors, combined by the formulas written out in each test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import AllChem, Descriptors

from crucible.exceptions import InvalidInputError
from crucible.generator.oracles import (
    ORACLE_NAMES,
    REFERENCE_SMILES,
    Clipped,
    MaxGaussian,
    MinGaussian,
    build_oracle,
    fingerprint,
    parse_formula,
)

RDLogger.DisableLog("rdApp.*")
R = REFERENCE_SMILES
DRUGS = [R["celecoxib"], R["thiothixene"], R["fexofenadine"], R["ranolazine"],
         "CCOc1cc(C#N)ccc1OCC(=O)Nc1ccccc1F", "CN(C)c1ccc(C(=O)CCc2nccs2)cc1",
         "Cc1ccc(N)cc1[N+](=O)[O-]", "CCO", "C"]  # fmt: skip
C7H8N2O2 = ["Nc1ccc(N)c(C(=O)O)c1", "Cc1ccc([N+](=O)[O-])cc1N", "NC(=O)c1ccc(O)c(N)c1"]


def one(name: str, smiles: str) -> float:
    return float(build_oracle(name)([smiles])[0])


def legacy(smiles: str, kind: str):  # type: ignore[no-untyped-def]
    """GuacaMol's own calls (deprecated in RDKit, hence only here)."""
    mol = Chem.MolFromSmiles(smiles)
    if kind == "AP":
        return AllChem.GetAtomPairFingerprint(mol, maxLength=10)
    radius = {"ECFP4": 2, "ECFP6": 3, "FCFP4": 2}[kind]
    return AllChem.GetMorganFingerprint(mol, radius, useFeatures=kind == "FCFP4")


def similarity(a: str, b: str, kind: str) -> float:
    return float(DataStructs.TanimotoSimilarity(legacy(a, kind), legacy(b, kind)))


def gauss(x: float, mu: float, sigma: float) -> float:
    return math.exp(-0.5 * ((x - mu) / sigma) ** 2)


@pytest.mark.parametrize("kind", ["ECFP4", "ECFP6", "FCFP4", "AP"])
def test_fingerprints_are_guacamols_count_fingerprints(kind: str) -> None:
    for smiles in DRUGS:
        ours = fingerprint(Chem.MolFromSmiles(smiles), kind)  # type: ignore[arg-type]
        assert ours.GetNonzeroElements() == legacy(smiles, kind).GetNonzeroElements()


def test_rediscovery_and_similarity_oracles_saturate_at_their_reference() -> None:
    assert one("celecoxib_rediscovery", R["celecoxib"]) == 1.0
    assert one("thiothixene_rediscovery", R["thiothixene"]) == 1.0
    assert one("mestranol_similarity", R["mestranol"]) == 1.0
    for smiles in DRUGS:
        assert one("thiothixene_rediscovery", smiles) == pytest.approx(
            similarity(smiles, R["thiothixene"], "ECFP4"))  # fmt: skip
        expected = min(similarity(smiles, R["mestranol"], "AP") / 0.75, 1.0)
        assert one("mestranol_similarity", smiles) == pytest.approx(expected)


def test_mestranol_similarity_saturates_at_ap_similarity_075() -> None:
    # the estradiol methyl ether without the ethynyl: similar but not identical
    analogue = "COc1ccc2c(c1)CCC1C2CCC2(C)C(O)CCC12"
    sim = similarity(analogue, R["mestranol"], "AP")
    assert 0 < sim < 1
    assert one("mestranol_similarity", analogue) == pytest.approx(min(sim / 0.75, 1.0))


def test_median1_is_the_geometric_mean_of_camphor_and_menthol_similarity() -> None:
    cross = similarity(R["camphor"], R["menthol"], "ECFP4")
    assert one("median1", R["camphor"]) == pytest.approx(math.sqrt(cross))
    assert one("median1", R["menthol"]) == pytest.approx(math.sqrt(cross))
    smiles = "CC(C)C1CCC(C)(C)C(=O)C1"
    expected = math.sqrt(similarity(smiles, R["camphor"], "ECFP4")
                         * similarity(smiles, R["menthol"], "ECFP4"))  # fmt: skip
    assert one("median1", smiles) == pytest.approx(expected)


def test_isomer_oracle_is_one_exactly_on_isomers() -> None:
    assert build_oracle("isomers_c7h8n2o2")(C7H8N2O2).tolist() == [1.0, 1.0, 1.0]
    # toluene C7H8: C, H exact; N 0 vs 2, O 0 vs 2, 15 atoms vs 19
    expected = (gauss(0, 2, 1) ** 2 * gauss(15, 19, 2)) ** (1 / 5)
    assert one("isomers_c7h8n2o2", "Cc1ccccc1") == pytest.approx(expected)
    assert one("isomers_c7h8n2o2", "Cc1ccccc1") < 1.0


def test_zaleplon_mpo_on_zaleplon() -> None:
    # zaleplon is C17H15N5O; the target formula C19H17N3O2 has 41 atoms (zaleplon 38)
    isomer = (gauss(17, 19, 1) * gauss(15, 17, 1) * gauss(5, 3, 1) * gauss(1, 2, 1)
              * gauss(38, 41, 2)) ** (1 / 5)  # fmt: skip
    assert one("zaleplon_mpo", R["zaleplon"]) == pytest.approx(math.sqrt(1.0 * isomer))


def test_sitagliptin_mpo_penalises_sitagliptin_itself() -> None:
    # same formula, logP and TPSA (each 1) but similarity 1 -> Gaussian(0, 0.1) = exp(-50)
    assert one("sitagliptin_mpo", R["sitagliptin"]) == pytest.approx(math.exp(-50 / 4))


def test_fexofenadine_and_ranolazine_mpo_on_their_reference() -> None:
    fexo = Chem.MolFromSmiles(R["fexofenadine"])
    tpsa, logp = Descriptors.TPSA(fexo), Descriptors.MolLogP(fexo)
    expected = (1.0 * MaxGaussian(90, 10)(tpsa) * MinGaussian(4, 1)(logp)) ** (1 / 3)
    assert tpsa < 90 and logp > 4  # the "make it less greasy" objective is not met yet
    assert one("fexofenadine_mpo", R["fexofenadine"]) == pytest.approx(expected)
    rano = Chem.MolFromSmiles(R["ranolazine"])
    tpsa, logp = Descriptors.TPSA(rano), Descriptors.MolLogP(rano)
    terms = [1.0, gauss(min(logp, 7), 7, 1), gauss(min(tpsa, 95), 95, 20), gauss(0, 1, 1)]
    assert one("ranolazine_mpo", R["ranolazine"]) == pytest.approx(np.prod(terms) ** 0.25)


def test_hop_oracles_on_the_starting_molecule() -> None:
    # deco hop: pharmacophore 1, sulfone and benzothiazole still there (0, 0), scaffold kept (1)
    assert one("deco_hop", R["pharmacophore"]) == pytest.approx(0.5)
    # scaffold hop: pharmacophore 1, decoration kept (1), scaffold not changed (0)
    assert one("scaffold_hop", R["pharmacophore"]) == pytest.approx(2 / 3)
    # sulfone and benzothiazole replaced, quinazoline kept: only the pharmacophore term < 1
    hopped = "CCCOc1cc2ncnc(Nc3ccc(Cl)cc3)c2cc1C(=O)N"
    result = build_oracle("deco_hop").score([hopped])
    assert [result.transformed[t][0] for t in ("no_sulfone", "no_benzothiazole", "scaffold")] \
        == [1.0, 1.0, 1.0]  # fmt: skip
    assert 0.75 < result.total[0] < 1.0


def test_qed_is_rdkits_qed() -> None:
    for smiles in DRUGS:
        assert one("qed", smiles) == pytest.approx(Descriptors.qed(Chem.MolFromSmiles(smiles)))


@pytest.mark.parametrize("name", ORACLE_NAMES)
def test_every_oracle_scores_invalid_as_zero_and_stays_in_unit_interval(name: str) -> None:
    oracle = build_oracle(name)
    result = oracle.score(["C1CC", "not a smiles", "", "c1ccccc1X", *DRUGS, *C7H8N2O2])
    assert result.total[:4].tolist() == [0.0] * 4
    assert not result.valid[:4].any() and result.valid[4:].all()
    assert np.all((result.total >= 0) & (result.total <= 1))
    for values in result.transformed.values():
        assert np.isnan(values[:4]).all()
        assert np.all((values[4:] >= 0) & (values[4:] <= 1))
    assert oracle([]).shape == (0,)


def test_modifiers_follow_guacamol() -> None:
    assert MinGaussian(4, 1)(3.0) == 1.0 and MinGaussian(4, 1)(5.0) == pytest.approx(
        gauss(5, 4, 1)
    )
    assert MaxGaussian(90, 10)(95) == 1.0
    assert MaxGaussian(90, 10)(80) == pytest.approx(gauss(80, 90, 10))
    assert [Clipped(0.75)(x) for x in (-0.1, 0.375, 0.75, 0.9)] == [0.0, 0.5, 1.0, 1.0]


def test_formula_parsing_and_unknown_names_name_the_field() -> None:
    assert parse_formula("C9H10N2O2PF2Cl") == [("C", 9), ("H", 10), ("N", 2), ("O", 2),
                                                ("P", 1), ("F", 2), ("Cl", 1)]  # fmt: skip
    with pytest.raises(InvalidInputError, match="formula"):
        parse_formula("C7-H8")
    with pytest.raises(InvalidInputError, match=r"oracle.*use one of"):
        build_oracle("drd2")


def test_oracle_is_an_rl_scorer() -> None:
    from crucible.generator.reinforcement import Scorer

    assert isinstance(build_oracle("zaleplon_mpo"), Scorer)


def test_prev_variants_count_atoms_on_the_smiles_text_as_tdc_did() -> None:
    # canonical "Cc1ccc([N+](=O)[O-])cc1N" reads as Cc1 N O O N: 5 "atoms" instead of 19
    nitro = "Cc1ccc([N+](=O)[O-])cc1N"
    assert one("isomers_c7h8n2o2_prev", nitro) == pytest.approx(gauss(5, 19, 2) ** (1 / 5))
    assert one("isomers_c7h8n2o2", nitro) == 1.0
    # sitagliptin itself: canonical SMILES text gives far fewer than 43 atoms
    assert one("sitagliptin_mpo_prev", R["sitagliptin"]) < one("sitagliptin_mpo", R["sitagliptin"])
    result = build_oracle("zaleplon_mpo_prev").score([R["zaleplon"]])
    assert result.raw["similarity"][0] == 1.0 and 0 < result.total[0] < 0.1
