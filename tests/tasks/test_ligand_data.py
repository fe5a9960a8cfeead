"""Ligand-data task bodies (``task.fn``); artifacts go to the session's test Prefect server."""

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from crucible.data.chembl import ChemblQuery, ChemblRequestError
from crucible.data.io import ColumnMapping
from crucible.settings import get_settings
from tasks.activity_model import train_activity_model
from tasks.ligand_data import (
    _is_transient,
    data_card,
    fetch_chembl,
    load_ligands,
    split_ligands,
    standardise_ligands,
)
from tests.data.chembl_server import FakeChembl, serve_fake_chembl

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def chembl_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeChembl]:
    yield from serve_fake_chembl(monkeypatch)


def test_fetch_task_writes_the_tables(chembl_server: FakeChembl, tmp_path: Path) -> None:
    query = ChemblQuery(target="EGFR", page_size=50)
    out = fetch_chembl.fn(query, str(tmp_path / "src"), get_settings().chembl_base_url)
    assert out.target_chembl_id == "CHEMBL203"
    molecules = pd.read_csv(out.molecules)
    assert len(molecules) == out.n_molecules > 50
    assert json.loads(Path(out.provenance).read_text())["chembl_release"] == "ChEMBL_27"


def test_fetch_task_retries_only_transient_failures() -> None:
    from prefect.states import Failed

    def state(exc: Exception) -> Failed:  # type: ignore[valid-type]
        return Failed(data=exc)

    transient = ChemblRequestError("timeout", transient=True)
    permanent = ChemblRequestError("404", transient=False)
    assert _is_transient(fetch_chembl, None, state(transient))  # type: ignore[arg-type]
    assert not _is_transient(fetch_chembl, None, state(permanent))  # type: ignore[arg-type]
    assert not _is_transient(fetch_chembl, None, state(ValueError("bad")))  # type: ignore[arg-type]
    assert fetch_chembl.retries == 3 and fetch_chembl.cache_expiration is not None


def test_file_source_standardise_split_card_and_train(tmp_path: Path) -> None:
    ligands = tmp_path / "ligands.csv"
    from crucible.data import load_egfr

    sample = load_egfr(limit=150, seed=4)
    sample = sample.rename(columns={"smiles": "SMILES", "molecule_id": "cid", "IC50": "ic50_nM"})
    bad = pd.DataFrame({"cid": ["bad1"], "SMILES": ["C1CC"], "ic50_nM": [10.0]})
    pd.concat([sample, bad]).to_csv(ligands, index=False)
    mapping = {"smiles": "SMILES", "molecule_id": "cid", "activity": "ic50_nM"}
    mapping["activity_units"] = "nM"
    loaded = load_ligands.fn(
        "file", str(tmp_path / "src"), str(ligands), ColumnMapping.model_validate(mapping)
    )
    assert loaded.n_molecules == 151
    standardised = standardise_ligands.fn(loaded.molecules, str(tmp_path / "std"))
    assert standardised.summary["rejection_reasons"] == {"SMILES syntax error": 1}
    assert pd.read_csv(standardised.rejected)["molecule_id"].tolist() == ["bad1"]
    split = split_ligands.fn(
        standardised.standardised,
        str(tmp_path / "split"),
        "random",
        provenance_path=loaded.provenance,
        standardisation=standardised.summary,
    )
    assert split.summary["n_molecules"] == standardised.summary["n_output"]
    steps = json.loads(Path(split.provenance).read_text())["steps"]
    assert [step["step"] for step in steps] == ["standardise", "split"]
    assert steps[0]["n_rejected"] == 1 and steps[1]["method"] == "random"
    card = data_card.fn(
        standardised.standardised,
        str(tmp_path / "card"),
        "test ligands",
        standardised.summary,
        split,
        loaded.provenance,
    )
    assert Path(card.histogram).read_bytes()[:4] == b"\x89PNG"
    assert card.counts["n_rejected"] == 1
    trained = train_activity_model.fn(
        str(tmp_path / "split"), str(tmp_path / "model"), params={"n_estimators": 20}, track=False
    )
    assert set(trained.metrics) == {"train", "valid", "test"}
    assert Path(trained.model_dir, "model.json").is_file()


def test_missing_file_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="path"):
        load_ligands.fn("file", str(tmp_path))


def test_fetch_errors_surface_as_data_source_errors(
    chembl_server: FakeChembl, tmp_path: Path
) -> None:
    chembl_server.fail("activity", "500")
    with pytest.raises(ChemblRequestError):
        fetch_chembl.fn(
            ChemblQuery(target="CHEMBL203"),
            str(tmp_path / "src"),
            get_settings().chembl_base_url,
        )
    assert not (tmp_path / "src").exists()
