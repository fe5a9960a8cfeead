"""Shared test fixtures.

* Every test runs with a fresh ``CRUCIBLE_HOME`` (so SQLite stores, MLflow files and
  artifacts land in a temp folder) and never talks to a real Prefect server.
* ``prefect_harness`` is one session-scoped ``prefect_test_harness`` with its result storage
  redirected to a temp folder, so no cache record leaks between runs. Flow tests request it
  (``tests/flows/conftest.py`` does so for the whole folder); unit tests never start it.
* Markers: ``slow`` (deselected by default), ``integration`` (starts real servers;
  deselected by default), ``gpu`` (skipped without CUDA).
* ``postgres_url`` starts a throw-away PostgreSQL server (Debian's package, ``initdb`` +
  ``pg_ctl``) on a free 127.0.0.1 port for integration tests, and stops it by its data dir.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
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
# No test reads run logs back from the API; sending them kept hundreds of records queued for
# servers that tests had already stopped, and Prefect's exit-time drain then waited on them.
os.environ["PREFECT_LOGGING_TO_API_ENABLED"] = "false"
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
def crucible_home(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A fresh Crucible home (and so fresh embedded stores) for every test."""
    home = tmp_path / "crucible-home"
    monkeypatch.setenv("CRUCIBLE_HOME", str(home))
    # Tests keep their input and output files in pytest's temp folders: make them the data root.
    monkeypatch.setenv("CRUCIBLE_DATA_ROOT", str(tmp_path_factory.getbasetemp()))
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
    bounded_teardown = pytest.MonkeyPatch()
    with (
        temporary_settings({PREFECT_RESULTS_LOCAL_STORAGE_PATH: str(storage)}),
        prefect_test_harness(server_startup_timeout=180),
    ):
        yield
        _drain_prefect_workers(bounded_teardown, timeout_s=60)
    bounded_teardown.undo()


def _drain_prefect_workers(patches: pytest.MonkeyPatch, timeout_s: float) -> None:
    """Drain Prefect's log and event workers with a time limit before the harness stops.

    ``prefect_test_harness`` drains them on exit without a limit; in a long session that
    drain was seen to wait forever on a worker whose queue had nothing left (pytest hung
    after the last test). Drain here with a limit, then make the harness's own drain a
    no-op so the server always stops.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout_s)

    async def _drained(*_args: object, **_kwargs: object) -> None:
        return None

    patches.setattr(EventsWorker, "drain_all", _drained)
    patches.setattr(APILogWorker, "drain", _drained)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres_user(cmd: list[str]) -> list[str]:
    """initdb/pg_ctl refuse to run as root: run them as the 'postgres' user then."""
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without 'runuser' to switch to the postgres user")
    return [runuser, "-u", "postgres", "--", *cmd]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip(
            "PostgreSQL binaries not found; install them with: apt-get install -y postgresql"
        )
    root = Path(tempfile.mkdtemp(prefix="crucible-pg-"))  # pytest's tmp is root-only (0700)
    root.chmod(0o755)
    data = root / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    port = _free_port()
    initialise = subprocess.run(
        _as_postgres_user([initdb, "-D", str(data), "-A", "trust", "-U", "postgres"]),
        capture_output=True,
        text=True,
    )
    assert initialise.returncode == 0, initialise.stderr[-3000:]
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data}"
    start = [pg_ctl, "-D", str(data), "-o", options, "-l", str(data / "server.log"), "-w"]
    started = subprocess.run(_as_postgres_user([*start, "start"]), capture_output=True, text=True)
    assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres_user([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


_EXIT_STATUS = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _EXIT_STATUS
    _EXIT_STATUS = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave as soon as pytest has reported, skipping Prefect's exit-time queue drains.

    Prefect registers exit handlers that drain its event and log workers; after a session
    that started and stopped many servers, that drain waited forever on records queued for
    servers already gone (py-spy: ``_QueueServiceBase._at_exit`` blocked in
    ``Future.result``), so ``make test`` never returned although every test had passed.
    Every server a test starts is stopped by its fixture before this point.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_EXIT_STATUS)
