"""Integration: a real PostgreSQL server shared by two worker processes, a real MLflow server.

Both servers are started by the tests on free 127.0.0.1 ports and stopped afterwards.
PostgreSQL (the ``postgres_url`` fixture of ``tests/conftest.py``) comes from Debian's
package (``apt-get install -y postgresql``); the MLflow
server from the ``mlflow`` console script in this environment. Each test skips with the
reason when its binaries are missing. Run with ``pytest -m integration``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from optuna.trial import TrialState

from crucible.training.config import TrainConfig
from crucible.training.hpo import HpoStudy

from .test_hpo import _run_workers, spec

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_two_processes_share_one_postgresql_study(postgres_url: str, monkeypatch) -> None:
    pytest.importorskip("psycopg2")
    monkeypatch.setenv("CRUCIBLE_OPTUNA_STORAGE_URL", postgres_url)
    base = TrainConfig(epochs=1).with_overrides({"model.hidden_sizes": [16]})
    study = HpoStudy.create(spec("pg-shared", base_config=base), tracking=False)
    outputs = _run_workers("pg-shared", n_workers=2, n_trials=5, tracking="none")
    assert all("STATES " + ",".join(["COMPLETE"] * 5) in out for out in outputs)
    trials = study.study.get_trials()
    assert sorted(t.number for t in trials) == list(range(10))
    assert all(t.state == TrialState.COMPLETE for t in trials)


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    exe = shutil.which("mlflow") or str(Path(sys.executable).parent / "mlflow")
    if not Path(exe).exists():
        pytest.skip("the 'mlflow' command is not installed")
    port = _free_port()
    log = (tmp_path / "mlflow-server.log").open("w")
    proc = subprocess.Popen(
        [
            exe,
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(1)
            assert proc.poll() is None, (tmp_path / "mlflow-server.log").read_text()[-3000:]
        else:
            pytest.fail("mlflow server did not answer /health within 300 s")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and the workers it started
        proc.wait(timeout=60)
        log.close()


def test_study_tracks_to_an_mlflow_server(mlflow_server: str) -> None:
    study = HpoStudy.create(spec("served"), tracking=mlflow_server)
    outcomes = study.optimize(n_trials=2)
    assert [o.state for o in outcomes] == ["COMPLETE", "COMPLETE"]
    assert study.register_best() == "1"
    client = study.tracker.client
    exp = client.get_experiment_by_name("served")
    runs = client.search_runs([exp.experiment_id], "tags.`crucible.role` = 'trial'")
    assert len(runs) == 2
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {study.parent_run_id}
    artifacts = [a.path for a in client.list_artifacts(runs[0].info.run_id, "checkpoint")]
    assert artifacts == ["checkpoint/best.pt"]
