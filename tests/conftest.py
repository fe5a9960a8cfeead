"""Shared test fixtures.

* Every test runs with a fresh ``CRUCIBLE_HOME`` (so SQLite stores, MLflow files and
  artifacts land in a temp folder) and never talks to a real Prefect server.
* ``prefect_harness`` is one session-scoped ``prefect_test_harness`` with its result storage
  redirected to a temp folder, so no cache record leaks between runs. Flow tests request it
  (``tests/flows/conftest.py`` does so for the whole folder); unit tests never start it.
* Markers: ``slow`` (deselected by default), ``integration`` (starts real servers;
  deselected by default), ``gpu`` (skipped without CUDA).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports Prefect: a private PREFECT_HOME, no server URL, no telemetry.
_SESSION_TMP = Path(tempfile.mkdtemp(prefix="crucible-tests-"))
os.environ["PREFECT_HOME"] = str(_SESSION_TMP / "prefect-home")
os.environ.pop("PREFECT_API_URL", None)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device", default="cpu", help="torch device for device-parametrised tests (cpu/cuda)"
    )


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if gpu_items and not _cuda_available():
        skip = pytest.mark.skip(reason="needs CUDA (marker 'gpu')")
        for item in gpu_items:
            item.add_marker(skip)


@pytest.fixture
def device(request: pytest.FixtureRequest) -> str:
    """The torch device named by ``--device``."""
    return str(request.config.getoption("--device"))


@pytest.fixture(autouse=True)
def crucible_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh Crucible home (and so fresh embedded stores) for every test."""
    home = tmp_path / "crucible-home"
    monkeypatch.setenv("CRUCIBLE_HOME", str(home))
    for name in (
        "CRUCIBLE_CAMPAIGN_STORE_URL",
        "CRUCIBLE_OPTUNA_STORAGE_URL",
        "CRUCIBLE_MLFLOW_TRACKING_URI",
        "CRUCIBLE_MLFLOW_ARTIFACT_LOCATION",
        "MLFLOW_TRACKING_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary Prefect API server (SQLite) for the whole test session."""
    from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    storage = tmp_path_factory.mktemp("prefect-results")
    with (
        temporary_settings({PREFECT_RESULTS_LOCAL_STORAGE_PATH: str(storage)}),
        prefect_test_harness(server_startup_timeout=180),
    ):
        yield
