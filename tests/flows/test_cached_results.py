"""Persisted task and flow results are JSON, and a cache hit in a later run reads them back.

Prefect's default serializer is pickle, which a later run would unpickle on a cache hit;
every task or flow that persists results sets ``result_serializer="json"`` instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from crucible.data.chembl import ChemblQuery
from crucible.data.io import LigandSource
from crucible.settings import get_settings
from flows.training_flow import train
from tasks.generator import transfer_learn, transfer_learn_reinvent
from tasks.ligand_data import fetch_chembl
from tests.data.chembl_server import FakeChembl, serve_fake_chembl


@pytest.fixture
def chembl_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeChembl]:
    yield from serve_fake_chembl(monkeypatch)


def test_every_persisted_result_is_json() -> None:
    for persisting in (fetch_chembl, transfer_learn, transfer_learn_reinvent, train):
        assert persisting.persist_result is not False, persisting.name
        assert persisting.result_serializer == "json", persisting.name


def test_a_cached_fetch_is_read_back_from_json(chembl_server: FakeChembl, tmp_path: Path) -> None:
    from prefect import flow

    @flow(name="fetch-twice")
    def fetch_once(out_dir: str) -> object:
        query = ChemblQuery(target="EGFR", page_size=50)
        return fetch_chembl(query, out_dir, get_settings().chembl_base_url, return_state=True)

    first = fetch_once(str(tmp_path / "src"))
    hits = sum(chembl_server.hits.values())
    second = fetch_once(str(tmp_path / "src"))  # a later flow run: a cache hit
    assert first.is_completed() and second.name == "Cached"
    assert sum(chembl_server.hits.values()) == hits  # nothing fetched again
    cached = second.result()
    assert isinstance(cached, LigandSource) and cached == first.result()
    record = json.loads(Path(second.data.metadata.storage_key).read_text())
    assert record["metadata"]["serializer"]["type"] == "json"
    stored = json.loads(record["result"])
    assert stored["__class__"] == "crucible.data.io.LigandSource"
    assert stored["data"]["n_molecules"] == cached.n_molecules


def test_generator_results_round_trip_through_json() -> None:
    from prefect.serializers import JSONSerializer

    from crucible.generator.jobs import ReinventTransferLearning, TransferLearningSummary
    from crucible.generator.training import EpochRecord

    epoch = EpochRecord(epoch=1, train_nll=2.0, valid_nll=float("nan"), learning_rate=1e-3)
    summary = TransferLearningSummary(
        model_path="m.prior", best_epoch=1, best=epoch, epochs_run=1, stopped_early=False,
        history=[epoch], plot="nll.png", skipped_count=0, skipped_csv="skipped.csv",
        randomization_skips={1: 2}, train_size=3, validation_size=1,
    )  # fmt: skip
    reinvent = ReinventTransferLearning(toml="tl.toml", log="tl.log", returncode=0, model_path="m")
    serializer = JSONSerializer()
    back = serializer.loads(serializer.dumps(summary))
    assert isinstance(back, TransferLearningSummary) and isinstance(back.best, EpochRecord)
    assert (
        back.randomization_skips == {1: 2} and back.model_dump_json() == summary.model_dump_json()
    )
    assert serializer.loads(serializer.dumps(reinvent)) == reinvent
