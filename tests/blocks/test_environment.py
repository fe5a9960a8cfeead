import os

import pytest
from pydantic import SecretStr

from blocks.environment import CrucibleEnvironment
from crucible.settings import get_settings


def test_block_exports_store_urls_and_unmasks_secrets() -> None:
    block = CrucibleEnvironment(
        campaign_store_url=SecretStr("postgresql+psycopg2://bo:pw@db/crucible"),
        mlflow_tracking_uri="http://127.0.0.1:5000",
    )
    env = block.as_environment()
    assert env == {
        "CRUCIBLE_CAMPAIGN_STORE_URL": "postgresql+psycopg2://bo:pw@db/crucible",
        "CRUCIBLE_MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
    }
    assert "pw" not in repr(block)


def test_applied_switches_settings_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUCIBLE_OPTUNA_STORAGE_URL", "sqlite:///before.db")
    block = CrucibleEnvironment(optuna_storage_url=SecretStr("postgresql://o@db/optuna"))
    with block.applied():
        assert get_settings().optuna_storage_url == "postgresql://o@db/optuna"
    assert os.environ["CRUCIBLE_OPTUNA_STORAGE_URL"] == "sqlite:///before.db"
    assert "CRUCIBLE_MLFLOW_TRACKING_URI" not in os.environ
