"""ChEMBL answers that are not data: not found, unavailable, no activities, bad queries.

Every case runs the real ``chembl-webresource-client`` against the local HTTP server that
replays recorded ChEMBL responses (``tests/data/chembl_server.py``), with faults injected
per request path. Each asserts the error class, the field or target named in the message,
whether the Prefect task would retry it (``tasks/ligand_data._is_transient``), and that
nothing was written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from crucible.data.chembl import (
    ChemblNoActivitiesError,
    ChemblNotFoundError,
    ChemblQuery,
    ChemblRequestError,
    ChemblUnavailableError,
    fetch_activities,
    resolve_target,
)
from crucible.exceptions import InvalidInputError
from tests.data.chembl_server import FakeChembl, serve_fake_chembl


@pytest.fixture
def chembl_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeChembl]:
    yield from serve_fake_chembl(monkeypatch)


def _retried(exc: BaseException) -> bool:
    """What the fetch task's retry condition decides for this failure."""
    from prefect.states import Failed

    from tasks.ligand_data import _is_transient

    return bool(_is_transient(None, None, Failed(data=exc)))  # type: ignore[arg-type]


def _fetch_into(query: ChemblQuery, out: Path) -> None:
    fetch_activities(query).write(out)


# --------------------------------------------------------------------------- not found
@pytest.mark.parametrize("target", ["CHEMBL999999", "chembl424242", "NOSUCHGENE", "Q9ZZZ9"])
def test_unknown_target_is_not_found_and_not_retried(
    target: str, chembl_server: FakeChembl, tmp_path: Path
) -> None:
    with pytest.raises(ChemblNotFoundError, match=r"^query\.target: ") as info:
        _fetch_into(ChemblQuery(target=target), tmp_path / "out")
    assert target.upper() in str(info.value).upper()
    assert isinstance(info.value, InvalidInputError) and not info.value.transient
    assert not _retried(info.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("path", ["target", "activity"])
def test_http_404_is_not_found_naming_the_target(
    path: str, chembl_server: FakeChembl, tmp_path: Path
) -> None:
    chembl_server.fail(path, "404")
    with pytest.raises(ChemblNotFoundError, match=r"^query\.target: .*404.*'EGFR'") as info:
        _fetch_into(ChemblQuery(target="EGFR"), tmp_path / "out")
    assert not _retried(info.value)
    assert not (tmp_path / "out").exists()


def test_404_on_the_status_endpoint_points_at_the_base_url(chembl_server: FakeChembl) -> None:
    chembl_server.fail("status", "404")
    with pytest.raises(ChemblRequestError, match="CRUCIBLE_CHEMBL_BASE_URL") as info:
        fetch_activities(ChemblQuery(target="EGFR"))
    assert not isinstance(info.value, ChemblNotFoundError | ChemblUnavailableError)
    assert not _retried(info.value)


def test_resolve_target_reports_not_found_too(chembl_server: FakeChembl) -> None:
    with pytest.raises(ChemblNotFoundError, match=r"^query\.target: .*CHEMBL999999"):
        resolve_target("CHEMBL999999")


# --------------------------------------------------------------------------- unavailable
@pytest.mark.parametrize(
    ("path", "fault"),
    [
        ("activity", "500"),
        ("target", "503"),
        ("molecule", "502"),
        ("activity", "429"),
        ("status", "504"),
        ("molecule", "truncate"),
    ],
)
def test_server_faults_are_unavailable_and_retried(
    path: str, fault: str, chembl_server: FakeChembl, tmp_path: Path
) -> None:
    chembl_server.fail(path, fault)
    with pytest.raises(ChemblUnavailableError, match="retry later") as info:
        _fetch_into(ChemblQuery(target="EGFR"), tmp_path / "out")
    assert info.value.transient and _retried(info.value)
    assert "Nothing was written" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_timeout_is_unavailable(
    chembl_server: FakeChembl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRUCIBLE_CHEMBL_TIMEOUT_S", "0.3")
    chembl_server.fail("activity", "timeout", delay_s=1.0)
    with pytest.raises(ChemblUnavailableError, match="timed out") as info:
        fetch_activities(ChemblQuery(target="EGFR"))
    assert _retried(info.value)


def test_unreachable_server_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUCIBLE_CHEMBL_BASE_URL", "http://127.0.0.1:9/chembl/api/data")
    with pytest.raises(ChemblUnavailableError, match="could not reach") as info:
        fetch_activities(ChemblQuery(target="EGFR"))
    assert _retried(info.value)


# --------------------------------------------------------------------------- no activities
@pytest.mark.parametrize(
    ("query", "target"),
    [
        ({"target": "HER2"}, "CHEMBL1824"),  # a real target without records in the fixtures
        ({"target": "CHEMBL3608", "organism": "Mus musculus"}, "CHEMBL3608"),
        ({"target": "EGFR", "activity_types": ["Potency"]}, "CHEMBL203"),
        ({"target": "EGFR", "assay_types": ["A"]}, "CHEMBL203"),
        ({"target": "EGFR", "units": "ug.mL-1"}, "CHEMBL203"),
    ],
)
def test_valid_target_without_activities_is_a_clear_error(
    query: dict, target: str, chembl_server: FakeChembl, tmp_path: Path
) -> None:
    with pytest.raises(ChemblNoActivitiesError, match=r"^query: target ") as info:
        _fetch_into(ChemblQuery.model_validate(query), tmp_path / "out")
    message = str(info.value)
    assert target in message and "no activity record matches" in message
    assert "relax the filters" in message and "activity_types=" in message
    assert not _retried(info.value)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- the query
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"target": ""}, "target"),
        ({"target": "   "}, "target"),
        ({"target": "EGFR", "page_size": 0}, "page_size"),
        ({"target": "EGFR", "page_size": 1001}, "page_size"),
        ({"target": "EGFR", "activity_types": []}, "activity_types"),
        ({"target": "EGFR", "assay_types": []}, "assay_types"),
        ({"target": "EGFR", "max_records": 0}, "max_records"),
    ],
)
def test_bad_queries_name_the_field(query: dict, field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        ChemblQuery.model_validate(query)
