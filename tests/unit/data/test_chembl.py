"""The real chembl-webresource-client against a local ChEMBL-shaped server (127.0.0.1)."""

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from crucible.data.chembl import (
    ChemblNoActivitiesError,
    ChemblQuery,
    ChemblRequestError,
    activities_table,
    aggregate_per_molecule,
    fetch_activities,
    resolve_target,
)
from crucible.exceptions import DataSourceError, InvalidInputError
from crucible.settings import get_settings
from tests.data.chembl_server import FakeChembl, load_fixture, serve_fake_chembl

QUERY = ChemblQuery(target="EGFR", page_size=20)


@pytest.fixture
def chembl_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeChembl]:
    yield from serve_fake_chembl(monkeypatch)


def _expected_molecules() -> pd.DataFrame:
    """Per-molecule medians computed straight from the fixture records."""
    records = pd.DataFrame(load_fixture("activities.json"))
    records = records[(records["standard_units"] == "nM") & records["pchembl_value"].notna()]
    withheld = set(load_fixture("meta.json")["withheld_structures"])
    records = records[~records["molecule_chembl_id"].isin(withheld)]
    values = records.assign(p=records["pchembl_value"].astype(float))
    return values.groupby("molecule_chembl_id")["p"].agg(["median", "size"])


def test_importing_the_module_touches_neither_the_client_nor_the_network() -> None:
    code = (
        "import sys, crucible.data.chembl; "
        "print('chembl_webresource_client' in sys.modules, 'requests_cache' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_fetch_by_gene_symbol_pages_joins_and_aggregates(chembl_server: FakeChembl) -> None:
    pages: list[tuple[int, int]] = []
    result = fetch_activities(QUERY, progress=lambda done, total: pages.append((done, total)))
    assert result.target.target_chembl_id == "CHEMBL203"
    expected = _expected_molecules()
    n_records = int(expected["size"].sum()) + 1  # + the record of the withheld molecule
    assert len(result.activities) == n_records
    assert chembl_server.hits["/chembl/api/data/activity.json"] == math.ceil(n_records / 20)
    assert pages[0] == (20, n_records) and pages[-1] == (n_records, n_records)
    assert result.dropped == {"molecule has no structure in ChEMBL": 1}
    molecules = result.molecules.set_index("molecule_id")
    assert len(molecules) == len(expected)
    assert molecules["pchembl_value"].to_dict() == pytest.approx(expected["median"].to_dict())
    assert molecules["n_measurements"].to_dict() == expected["size"].to_dict()
    assert molecules["smiles"].notna().all()
    assert result.molecules["pchembl_value"].is_monotonic_decreasing
    provenance = result.provenance
    assert provenance.chembl_release == "ChEMBL_27"
    assert provenance.query["target_chembl_id"] == "CHEMBL203"
    assert provenance.base_url == chembl_server.base_url
    assert provenance.n_molecules == len(expected)


def test_filters_reach_the_server(chembl_server: FakeChembl) -> None:
    # Filters the fixtures' records do not meet leave nothing: a clear error, not 0 rows.
    with pytest.raises(ChemblNoActivitiesError, match="activity_types=\\['Ki'\\]"):
        fetch_activities(ChemblQuery(target="CHEMBL203", activity_types=["Ki"]))
    with pytest.raises(ChemblNoActivitiesError, match="organism='Mus musculus'"):
        fetch_activities(ChemblQuery(target="CHEMBL203", organism="Mus musculus"))
    capped = fetch_activities(ChemblQuery(target="CHEMBL203", page_size=20, max_records=30))
    assert len(capped.activities) == 30


def test_cache_lives_under_the_crucible_home_and_serves_repeats(
    chembl_server: FakeChembl, crucible_home: Path
) -> None:
    fetch_activities(QUERY)
    hits = sum(chembl_server.hits.values())
    again = fetch_activities(QUERY)
    assert sum(chembl_server.hits.values()) == hits  # every request answered from the cache
    assert len(again.molecules) == len(_expected_molecules())
    cache = get_settings().chembl_cache_path
    assert cache is not None and cache.is_relative_to(crucible_home)
    assert (cache / "chembl_ws_client.sqlite").is_file()


def test_target_resolution_reports_ambiguity_and_unknown_names(chembl_server: FakeChembl) -> None:
    with pytest.raises(InvalidInputError) as info:
        resolve_target("EGFR", organism=None)
    assert "ambiguous" in str(info.value)
    assert "CHEMBL203" in str(info.value) and "CHEMBL3608" in str(info.value)
    assert resolve_target("egfr", organism="Mus musculus").target_chembl_id == "CHEMBL3608"
    assert resolve_target("HER2").target_chembl_id == "CHEMBL1824"
    with pytest.raises(InvalidInputError, match="no target in Homo sapiens"):
        resolve_target("NOSUCHGENE")
    with pytest.raises(InvalidInputError, match="no target CHEMBL999999"):
        resolve_target("CHEMBL999999")


def test_server_error_is_a_transient_data_source_error_and_nothing_is_written(
    chembl_server: FakeChembl, tmp_path: Path
) -> None:
    chembl_server.fail("activity", "500")
    out = tmp_path / "fetch"
    with pytest.raises(ChemblRequestError) as info:
        fetch_activities(QUERY).write(out)
    assert isinstance(info.value, DataSourceError)
    assert info.value.transient
    assert "activity download" in str(info.value) and "Nothing was written" in str(info.value)
    assert not out.exists()
    fetch_activities(QUERY).write(out)  # the next attempt succeeds
    assert (out / "molecules.csv").is_file()


def test_timeout_is_reported_as_transient(
    chembl_server: FakeChembl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRUCIBLE_CHEMBL_TIMEOUT_S", "0.3")
    chembl_server.fail("activity", "timeout", delay_s=1.0)
    with pytest.raises(ChemblRequestError, match="timed out") as info:
        fetch_activities(QUERY)
    assert info.value.transient


def test_truncated_json_is_a_clear_error_and_is_not_cached(
    chembl_server: FakeChembl, tmp_path: Path
) -> None:
    chembl_server.fail("molecule", "truncate")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ChemblRequestError, match="not complete JSON"):
        fetch_activities(QUERY).write(out / "fetch")
    assert list(out.iterdir()) == []
    result = fetch_activities(QUERY)  # the truncated page was not cached
    assert len(result.molecules) == len(_expected_molecules())


def test_unreachable_server_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUCIBLE_CHEMBL_BASE_URL", "http://127.0.0.1:9/chembl/api/data")
    with pytest.raises(ChemblRequestError, match="could not reach") as info:
        fetch_activities(QUERY)
    assert info.value.transient


def test_write_produces_tables_and_provenance_with_checksums(
    chembl_server: FakeChembl, tmp_path: Path
) -> None:
    paths = fetch_activities(QUERY).write(tmp_path / "out" / "egfr")
    assert sorted(paths) == ["activities", "molecules", "provenance"]
    provenance = json.loads(paths["provenance"].read_text())
    assert set(provenance["files"]) == {"activities.csv", "molecules.csv"}
    assert "CC BY-SA 3.0" in provenance["attribution"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["egfr"]  # no staging left


def test_aggregation_uses_the_median_and_flags_are_dropped() -> None:
    base = {
        "assay_chembl_id": "A",
        "assay_description": "",
        "assay_type": "B",
        "standard_relation": "=",
        "standard_units": "nM",
        "target_chembl_id": "CHEMBL203",
        "target_organism": "Homo sapiens",
        "document_year": None,
        "data_validity_comment": None,
    }
    rows = [
        {**base, "activity_id": 1, "molecule_chembl_id": "M1", "standard_type": "IC50",
         "standard_value": "10", "pchembl_value": "8.00", "document_year": 2010},
        {**base, "activity_id": 2, "molecule_chembl_id": "M1", "standard_type": "Ki",
         "standard_value": "100", "pchembl_value": "7.00", "document_year": 2004},
        {**base, "activity_id": 3, "molecule_chembl_id": "M1", "standard_type": "IC50",
         "standard_value": "1", "pchembl_value": "9.00"},
    ]  # fmt: skip
    table = activities_table(rows)
    table["canonical_smiles"] = "CCO"
    molecule = aggregate_per_molecule(table).iloc[0]
    assert molecule["pchembl_value"] == 8.0
    assert molecule["n_measurements"] == 3
    assert molecule["standard_types"] == "IC50;Ki"
    assert molecule["year"] == 2004


def test_query_is_validated() -> None:
    assert ChemblQuery(target="  EGFR ").target == "EGFR"
    with pytest.raises(ValueError, match="target"):
        ChemblQuery(target="   ")
    with pytest.raises(ValueError, match="activity_types"):
        ChemblQuery(target="EGFR", activity_types=[])
    with pytest.raises(ValueError, match="page_size"):
        ChemblQuery(target="EGFR", page_size=5000)
