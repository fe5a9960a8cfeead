"""With the Prefect API down, the gateway answers 503 and records nothing."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect

from crucible.gateway.signing import new_secret, sign
from tests.servers import free_port, gateway

pytestmark = pytest.mark.timeout(300)


def test_prefect_down_answers_503_and_records_no_delivery(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    dead_api = f"http://127.0.0.1:{free_port()}/api"
    body = json.dumps({"type": "crucible.campaign.requested", "data": {"name": "x"}}).encode()
    with gateway(
        tmp_path,
        dead_api,
        tmp_path,
        CRUCIBLE_CAMPAIGN_STORE_URL=f"sqlite:///{store}",
        PREFECT_CLIENT_MAX_RETRIES="0",
    ) as url:
        response = httpx.post(
            f"{url}/hooks/lab", content=body, headers=sign(new_secret(), body), timeout=60
        )
        health = httpx.get(f"{url}/healthz", timeout=10)
    assert response.status_code == 503, response.text
    assert "retry" in response.json()["detail"]
    assert health.status_code == 200
    engine = create_engine(f"sqlite:///{store}")
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT count(*) FROM crucible_webhook_deliveries")
        assert rows.scalar() == 0
    assert "crucible_webhook_deliveries" in inspect(engine).get_table_names()
