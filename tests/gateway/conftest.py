"""Gateway tests run over real HTTP against a real Prefect server (one per test module)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import child_env, gateway, prefect_server

CAMPAIGN = "crucible.campaign.requested"
LIGANDS = "crucible.ligands.ready"


@dataclass
class Stack:
    """A Prefect server, a gateway in front of it, and one source ``lab`` with its secret."""

    api_url: str
    gateway_url: str
    secret: str
    data_root: Path
    tmp: Path
    auth_string: str | None = None

    @property
    def auth(self) -> httpx.BasicAuth | None:
        """Basic auth for the Prefect API when the server requires it."""
        if not self.auth_string:
            return None
        user, _, password = self.auth_string.partition(":")
        return httpx.BasicAuth(user, password)

    def crucible_events(self) -> list[dict[str, Any]]:
        """Every ``crucible.*`` event the server has stored."""
        response = httpx.post(
            f"{self.api_url}/events/filter",
            json={"filter": {"event": {"prefix": ["crucible."]}}, "limit": 50},
            auth=self.auth,
            timeout=10,
        )
        response.raise_for_status()
        return list(response.json()["events"])

    def wait_for_event(self, event_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.crucible_events():
                if event["id"] == event_id:
                    return event
            time.sleep(1)
        raise AssertionError(f"event {event_id} never reached the server")


def add_source(
    api_url: str, name: str, events: list[str], home: Path, auth_string: str | None = None
) -> str:
    """``crucible webhook add-source`` in a subprocess; returns the printed secret."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from crucible.cli import main; raise SystemExit(main())",
            "webhook",
            "add-source",
            name,
            "--events",
            ",".join(events),
        ],
        env=child_env(
            PREFECT_API_URL=api_url,
            CRUCIBLE_HOME=str(home),
            **({"PREFECT_API_AUTH_STRING": auth_string} if auth_string else {}),
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The server requires basic auth (as ``make up`` runs it); the gateway and the CLI get
    the credentials through ``PREFECT_API_AUTH_STRING``."""
    tmp = tmp_path_factory.mktemp("gateway-stack")
    data_root = tmp / "data"
    data_root.mkdir()
    auth_string = f"crucible:{secrets.token_urlsafe(16)}"
    with prefect_server(tmp, auth_string=auth_string) as api_url:
        secret = add_source(api_url, "lab", [CAMPAIGN, LIGANDS], tmp / "home", auth_string)
        with gateway(tmp, api_url, data_root, PREFECT_API_AUTH_STRING=auth_string) as url:
            yield Stack(api_url, url, secret, data_root, tmp, auth_string)
