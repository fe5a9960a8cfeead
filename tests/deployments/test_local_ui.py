"""``crucible ui`` serves the local database on 127.0.0.1 with the right API URL (real server)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from crucible.local import running_ui_api_url
from tests.servers import child_env, free_port, started, wait_until

pytestmark = pytest.mark.integration


def test_crucible_ui_serves_the_local_database_and_runs_find_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("CRUCIBLE_HOME", str(home))
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    port = free_port()
    env = child_env(CRUCIBLE_HOME=str(home))
    for name in ("PREFECT_HOME", "PREFECT_API_URL"):
        env.pop(name, None)
    args = [sys.executable, "-m", "crucible.cli", "ui", "--port", str(port)]
    record = home / "prefect" / "ui.json"
    with started(args, env, tmp_path / "ui.log") as proc:
        wait_until(record.is_file, 180, "crucible ui", proc)
        api_url = f"http://127.0.0.1:{port}/api"
        assert json.loads(record.read_text())["api_url"] == api_url
        settings = httpx.get(f"http://127.0.0.1:{port}/ui-settings", timeout=5).json()
        assert settings["api_url"] == api_url
        assert (home / "prefect" / "prefect.db").is_file()  # the local database
        assert running_ui_api_url() == api_url  # what `crucible run` then uses
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
    assert not record.exists()
    assert running_ui_api_url() is None
