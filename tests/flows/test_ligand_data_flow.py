"""The ligand-data and activity-model flows end to end on the session's test Prefect server."""

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from crucible.data.chembl import ChemblQuery
from flows.activity_model_flow import ActivityModelConfig, activity_model
from flows.ligand_data_flow import LigandDataConfig, SplitConfig, ligand_data
from tasks import ligand_data as ligand_tasks
from tests.data.chembl_server import FakeChembl, serve_fake_chembl


@pytest.fixture
def chembl_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeChembl]:
    yield from serve_fake_chembl(monkeypatch)


def _artifact_keys() -> set[str]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return {a.key for a in client.read_artifacts() if a.key}


def test_chembl_target_to_data_card_retries_a_server_error(
    chembl_server: FakeChembl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ligand_tasks.fetch_chembl, "retry_delay_seconds", [0.1])
    chembl_server.fail("activity", "500")  # the first attempt fails, the retry succeeds
    config = LigandDataConfig(
        source="chembl",
        chembl=ChemblQuery(target="EGFR", page_size=50),
        split=SplitConfig(method="scaffold", seed=1),
        output_dir=str(tmp_path),
    )
    result = ligand_data(config)
    assert result.source.target_chembl_id == "CHEMBL203"
    assert chembl_server.hits["/chembl/api/data/activity.json"] > 2  # 1 failed + 2 pages
    split_sizes = {k: len(pd.read_csv(path)) for k, path in result.split.paths().items()}
    assert sum(split_sizes.values()) == result.card.counts["molecules"]
    assert Path(result.card.histogram).is_file()
    assert {"ligand-data-card", "ligand-activity-histogram", "ligand-top-scaffolds"} <= (
        _artifact_keys()
    )
    hits = sum(chembl_server.hits.values())
    again = ligand_data(config)  # the fetch task is cached by its inputs: no new request
    assert sum(chembl_server.hits.values()) == hits
    assert again.source == result.source


def test_activity_model_flow_trains_on_the_bundled_egfr_split(tmp_path: Path) -> None:
    data = LigandDataConfig(
        source="egfr",
        name="egfr-test",
        limit=400,
        output_dir=str(tmp_path),
        split=SplitConfig(method="random", seed=2),
    )
    result = activity_model(
        ActivityModelConfig(
            kind="random_forest", params={"n_estimators": 50}, data=data, track=False
        )
    )  # MLflow tracking is covered by tests/unit/chem/test_activity.py
    assert result.split_dir == str(tmp_path / "egfr-test" / "split")
    assert result.model.metrics["test"]["r2"] > 0.3
    assert result.model.run_id is None
    assert Path(result.model.model_dir, "forest.skops").is_file()
    assert {"activity-metrics-random-forest", "activity-parity-random-forest"} <= (
        _artifact_keys()
    )
