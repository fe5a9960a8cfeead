"""Gateway pieces without a server: signing, the replay log, payload schemas, imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook

from crucible.cli import main
from crucible.gateway.deliveries import DeliveryLog
from crucible.gateway.payloads import CampaignRequested, LigandsReady
from crucible.gateway.signing import new_secret, sign


def test_sign_verifies_with_standardwebhooks() -> None:
    secret = new_secret()
    body = b'{"type":"x","data":{}}'
    headers = sign(secret, body, webhook_id="msg_1")
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-signature"].startswith("v1,")
    Webhook(secret).verify(body, headers)


def test_cli_sign_prints_the_three_headers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = new_secret()
    body = tmp_path / "body.json"
    body.write_bytes(b'{"type":"crucible.campaign.requested","data":{"name":"a"}}')
    assert main(["webhook", "sign", "--secret", secret, "--body", str(body)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    headers = dict(line.split(": ", 1) for line in lines)
    assert sorted(headers) == ["webhook-id", "webhook-signature", "webhook-timestamp"]
    Webhook(secret).verify(body.read_bytes(), headers)


def test_cli_sign_refuses_a_missing_body_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["webhook", "sign", "--secret", new_secret(), "--body", "/no/such"]) == 2
    assert "--body" in capsys.readouterr().err


def test_replay_log_survives_a_new_instance(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert DeliveryLog(url).claim("lab", "msg_1", "e1", "crucible.campaign.requested")
    again = DeliveryLog(url)
    assert not again.claim("lab", "msg_1", "e2", "crucible.campaign.requested")
    assert again.claim("other", "msg_1", "e3", "crucible.campaign.requested")
    again.release("lab", "msg_1")
    assert again.claim("lab", "msg_1", "e4", "crucible.campaign.requested")


def test_ligand_path_must_stay_in_the_data_root(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("smiles\nC\n")
    ok = LigandsReady.model_validate(
        {"name": "d", "path": "in.csv", "activity_column": "p"},
        context={"data_root": tmp_path},
    )
    assert ok.path == str((tmp_path / "in.csv").resolve())
    for bad in ("../in.csv", str(tmp_path / "in.csv"), "missing.csv"):
        with pytest.raises(ValidationError) as info:
            LigandsReady.model_validate(
                {"name": "d", "path": bad, "activity_column": "p"},
                context={"data_root": tmp_path},
            )
        assert info.value.errors()[0]["loc"] == ("path",)


def test_campaign_request_checks_problem_and_name() -> None:
    with pytest.raises(ValidationError) as info:
        CampaignRequested(name="../x", problem="nope")
    assert {e["loc"][0] for e in info.value.errors()} == {"name", "problem"}


def test_gateway_app_does_not_import_prefect() -> None:
    code = "import sys, json, crucible.gateway.app; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert "prefect" not in loaded
    assert "torch" not in loaded


def test_campaign_request_names_only_registered_evaluators() -> None:
    assert CampaignRequested(name="a", evaluator="branin").evaluator == "branin"
    for bad in ("os:system", "no-such-evaluator"):
        with pytest.raises(ValidationError) as info:
            CampaignRequested(name="a", evaluator=bad)
        assert info.value.errors()[0]["loc"] == ("evaluator",)
