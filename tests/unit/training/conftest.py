"""MLflow stores for training tests, copied from one migrated template.

Creating an MLflow SQLite schema costs ~6 s here; copying an empty, migrated database file
costs milliseconds, so every test still gets a fresh store.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_uri(mlflow_template: Path, crucible_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh MLflow SQLite store under this test's Crucible home (also set in the env)."""
    crucible_home.mkdir(parents=True, exist_ok=True)
    target = crucible_home / "mlflow.db"
    shutil.copy(mlflow_template, target)
    uri = f"sqlite:///{target}"
    monkeypatch.setenv("CRUCIBLE_MLFLOW_TRACKING_URI", uri)
    return uri
