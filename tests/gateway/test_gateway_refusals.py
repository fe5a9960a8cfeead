"""Signed webhooks over real HTTP: one accepted, every refusal answered and event-free."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from crucible.gateway.signing import new_secret, sign
from tests.gateway.conftest import CAMPAIGN, LIGANDS, Stack

pytestmark = pytest.mark.timeout(600)


def _body(event: str = CAMPAIGN, **data: Any) -> bytes:
    data = data or {"name": "hook-demo", "problem": "branin", "budget": 10}
    return json.dumps({"type": event, "data": data}).encode()


def _post(
    stack: Stack, body: bytes, headers: dict[str, str], source: str = "lab"
) -> httpx.Response:
    return httpx.post(
        f"{stack.gateway_url}/hooks/{source}",
        content=body,
        headers={"content-type": "application/json", **headers},
        timeout=30,
    )


def test_healthz(stack: Stack) -> None:
    response = httpx.get(f"{stack.gateway_url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_prefect_server_requires_auth(stack: Stack) -> None:
    anonymous = httpx.post(f"{stack.api_url}/events/filter", json={}, timeout=10)
    assert anonymous.status_code == 401


def test_signed_webhook_becomes_a_prefect_event(stack: Stack) -> None:
    body = _body()
    response = _post(stack, body, sign(stack.secret, body))
    assert response.status_code == 202, response.text
    event_id = response.json()["event_id"]
    event = stack.wait_for_event(event_id)
    assert event["event"] == CAMPAIGN
    assert event["resource"]["prefect.resource.id"] == "crucible.campaign.hook-demo"
    assert event["payload"] == {
        "name": "hook-demo",
        "problem": "branin",
        "evaluator": "",
        "budget": 10,
        "batch_size": 2,
    }


def test_ligands_payload_carries_the_resolved_path(stack: Stack) -> None:
    (stack.data_root / "set1").mkdir()
    (stack.data_root / "set1" / "ligands.csv").write_text("smiles,ic50\nCCO,12\n")
    body = _body(
        LIGANDS, name="set1", path="set1/ligands.csv", activity_column="ic50", activity_units="nM"
    )
    response = _post(stack, body, sign(stack.secret, body))
    assert response.status_code == 202, response.text
    event = stack.wait_for_event(response.json()["event_id"])
    assert event["payload"]["path"] == str((stack.data_root / "set1" / "ligands.csv").resolve())
    assert event["payload"]["activity_units"] == "nM"


@pytest.fixture(scope="module")
def refusals(stack: Stack) -> Iterator[list[tuple[str, int, httpx.Response]]]:
    """Every refusal case, sent once; the module's event check runs after them."""
    cases: list[tuple[str, int, httpx.Response]] = []

    def case(name: str, expected: int, response: httpx.Response) -> None:
        cases.append((name, expected, response))

    body = _body(name="refused")
    good = sign(stack.secret, body)
    case("unknown source", 404, _post(stack, body, good, source="nobody"))
    case("no signature", 401, _post(stack, body, {}))
    case("bad signature", 401, _post(stack, body, sign(new_secret(), body)))
    tampered = _body(name="tampered")
    case("body changed after signing", 401, _post(stack, tampered, good))
    old = datetime.now(UTC) - timedelta(minutes=6)
    case("timestamp too old", 401, _post(stack, body, sign(stack.secret, body, at=old)))
    new = datetime.now(UTC) + timedelta(minutes=6)
    case("timestamp too new", 401, _post(stack, body, sign(stack.secret, body, at=new)))
    bad_budget = _body(name="refused", budget="lots")
    case("schema", 422, _post(stack, bad_budget, sign(stack.secret, bad_budget)))
    extra = _body(name="refused", budget=10, rl_stepz=3)
    case("unknown key", 422, _post(stack, extra, sign(stack.secret, extra)))
    escape = _body(LIGANDS, name="x", path="../../etc/passwd", activity_column="a")
    case("path out of the data root", 422, _post(stack, escape, sign(stack.secret, escape)))
    unknown = _body("crucible.unknown.event", name="x")
    case("event not allowed", 422, _post(stack, unknown, sign(stack.secret, unknown)))
    big = b"{" + b" " * (1024 * 1024) + b"}"
    case("content-length over 1 MiB", 413, _post(stack, big, sign(stack.secret, big)))

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    streamed = httpx.post(
        f"{stack.gateway_url}/hooks/lab", content=chunks(), headers=good, timeout=30
    )
    case("streamed body over 1 MiB (no content-length)", 413, streamed)
    replay_body = _body(name="replayed")
    replay_headers = sign(stack.secret, replay_body)
    first = _post(stack, replay_body, replay_headers)
    assert first.status_code == 202, first.text
    case("replay accepted", 202, first)
    case("webhook-id seen before", 409, _post(stack, replay_body, replay_headers))
    yield cases


@pytest.mark.parametrize(
    "name",
    [
        "unknown source",
        "no signature",
        "bad signature",
        "body changed after signing",
        "timestamp too old",
        "timestamp too new",
        "schema",
        "unknown key",
        "path out of the data root",
        "event not allowed",
        "content-length over 1 MiB",
        "streamed body over 1 MiB (no content-length)",
        "webhook-id seen before",
    ],
)
def test_refusal(refusals: list[tuple[str, int, httpx.Response]], name: str) -> None:
    ((expected, response),) = [(e, r) for n, e, r in refusals if n == name]
    assert response.status_code == expected, response.text
    assert "detail" in response.json()


def test_schema_refusals_name_the_field(refusals: list[tuple[str, int, httpx.Response]]) -> None:
    answers = {name: response.json() for name, _, response in refusals}
    assert answers["schema"]["errors"][0]["field"] == "data.budget"
    assert answers["unknown key"]["errors"][0]["field"] == "data.rl_stepz"
    assert answers["path out of the data root"]["errors"][0]["field"] == "data.path"
    assert answers["path out of the data root"]["errors"][0]["message"].startswith(
        "'../../etc/passwd' resolves outside"
    )
    assert answers["event not allowed"]["errors"][0]["field"] == "type"


def test_refusals_create_no_event(
    stack: Stack, refusals: list[tuple[str, int, httpx.Response]]
) -> None:
    accepted = next(r for n, _, r in refusals if n == "replay accepted").json()["event_id"]
    stack.wait_for_event(accepted)  # sent after most refusals; events are stored in order
    resources = [event["resource"]["prefect.resource.id"] for event in stack.crucible_events()]
    for refused in ("refused", "tampered", "x"):
        assert not [r for r in resources if r.endswith(f".{refused}")], resources
    assert resources.count("crucible.campaign.replayed") == 1
