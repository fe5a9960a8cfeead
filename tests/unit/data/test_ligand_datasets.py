from crucible.data import egfr_path, load_egfr
from crucible.data.provenance import Provenance, sha256_of

EGFR_SHA256 = "58205d3f80e2a3157a00ff4cfcca3a8a05e7d0e662c99e701497deb486b34016"


def test_bundled_egfr_file_is_the_attributed_copy() -> None:
    path = egfr_path()
    assert sha256_of(path) == EGFR_SHA256
    readme = (path.parent / "README.md").read_text()
    assert "ChEMBL 27 (EMBL-EBI, CC BY-SA 3.0)" in readme
    assert "TeachOpenCADD" in readme and "CC BY 4.0" in readme


def test_load_egfr_gives_the_canonical_table_with_provenance() -> None:
    frame = load_egfr()
    assert len(frame) == 5568
    assert {"molecule_id", "smiles", "pchembl_value"} <= set(frame.columns)
    assert frame["molecule_id"].is_unique
    assert 1.5 < frame["pchembl_value"].min() < frame["pchembl_value"].max() < 12
    provenance = Provenance.model_validate(frame.attrs["provenance"])
    assert provenance.chembl_release == "ChEMBL_27"
    assert "CC BY-SA 3.0" in provenance.attribution


def test_load_egfr_limit_is_a_seeded_unbiased_sample() -> None:
    first = load_egfr(limit=200, seed=3)
    assert len(first) == 200
    assert first["molecule_id"].tolist() == load_egfr(limit=200, seed=3)["molecule_id"].tolist()
    # the file is sorted by potency; a sample spans the range, its head would not
    assert first["pchembl_value"].min() < 6 < 8 < first["pchembl_value"].max()


def test_provenance_saves_and_records_steps(tmp_path) -> None:
    record = Provenance(source="file", n_records=3).with_step("standardise", n_rejected=1)
    path = record.save(tmp_path / "provenance.json")
    loaded = Provenance.load(path)
    assert loaded.steps[0]["step"] == "standardise" and loaded.steps[0]["n_rejected"] == 1
    assert loaded.retrieved_at == record.retrieved_at


def test_data_and_activity_modules_import_nothing_heavy() -> None:
    import json
    import subprocess
    import sys

    heavy = {"prefect", "torch", "rdkit", "mlflow", "chemprop", "sklearn", "pandas", "lightning"}
    heavy |= {"chembl_webresource_client", "requests_cache", "matplotlib"}
    code = (
        "import sys, json, crucible.data, crucible.data.chembl, crucible.data.splits, "
        "crucible.data.standardise, crucible.data.card, crucible.chem.activity; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert not set(json.loads(out.stdout)) & heavy
