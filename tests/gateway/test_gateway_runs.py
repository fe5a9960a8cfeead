"""Signed webhooks start real deployment runs (prefect.yaml triggers, a process worker).

One Prefect server for the module; ``prefect deploy`` of the shipped ``bo-campaign`` and
``molecular-design-cpu`` deployments from this checkout; a ``cpu-process`` worker; the
gateway. Each test POSTs a signed webhook and waits for the triggered run to complete,
printing the time from the POST to Completed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pytest

from crucible.gateway.signing import sign
from crucible.testing.generator import TINY_CORPUS
from tests.gateway.conftest import CAMPAIGN, LIGANDS, Stack, add_source
from tests.servers import REPO, child_env, gateway, prefect_server, started

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]


def _prefect(api_url: str, *args: str, timeout: float = 300) -> None:
    subprocess.run(
        [sys.executable, "-m", "prefect", *args],
        env=child_env(PREFECT_API_URL=api_url, PREFECT_CLI_PROMPT="false"),
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("gateway-runs")
    data_root = tmp / "data"
    data_root.mkdir()
    home = tmp / "crucible-home"
    with prefect_server(tmp) as api_url:
        _prefect(api_url, "work-pool", "create", "cpu-process", "--type", "process")
        _prefect(
            api_url, "--no-prompt", "deploy", "-n", "bo-campaign", "-n", "molecular-design-cpu"
        )
        worker_env = child_env(
            PREFECT_API_URL=api_url,
            PREFECT_WORKER_QUERY_SECONDS="2",
            CRUCIBLE_HOME=str(home),
            CRUCIBLE_DATA_ROOT=str(data_root),  # the gateway's: runs read the files it names
        )
        worker_args = [sys.executable, "-m", "prefect", "worker", "start"]
        worker_args += ["--pool", "cpu-process", "--type", "process"]
        with started(worker_args, worker_env, tmp / "worker.log", grace=5):
            secret = add_source(api_url, "lab", [CAMPAIGN, LIGANDS], home)
            with gateway(tmp, api_url, data_root) as gateway_url:
                yield Stack(api_url, gateway_url, secret, data_root, tmp)


def _post(stack: Stack, event: str, data: dict[str, Any]) -> str:
    body = json.dumps({"type": event, "data": data}).encode()
    response = httpx.post(
        f"{stack.gateway_url}/hooks/lab",
        content=body,
        headers=sign(stack.secret, body),
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["event_id"])


def _wait_for_run(stack: Stack, deployment: str, timeout: float) -> dict[str, Any]:
    """The first run of ``deployment`` once it reaches a final state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = httpx.post(
            f"{stack.api_url}/flow_runs/filter",
            json={"deployments": {"name": {"any_": [deployment]}}, "limit": 5},
            timeout=10,
        ).json()
        final = [r for r in runs if r["state"] and r["state"]["type"] in _FINAL]
        if final:
            return dict(final[0])
        time.sleep(2)
    raise AssertionError(f"no finished run of {deployment} after {timeout} s")


_FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def test_campaign_webhook_runs_a_bo_campaign_to_completed(stack: Stack) -> None:
    started_at = time.monotonic()
    _post(stack, CAMPAIGN, {"name": "hooked", "problem": "branin", "budget": 10})
    run = _wait_for_run(stack, "bo-campaign", timeout=600)
    elapsed = time.monotonic() - started_at
    print(f"\nbo-campaign: webhook POST -> {run['state']['type']} in {elapsed:.1f} s")
    assert run["state"]["type"] == "COMPLETED", run["state"]
    config = run["parameters"]["config"]
    assert (config["name"], config["stopping"]["max_trials"]) == ("hooked", 10)


def test_ligands_webhook_runs_molecular_design_to_completed(stack: Stack) -> None:
    folder = stack.data_root / "tiny"
    folder.mkdir()
    rows = [
        {"SMILES": s, "IC50_nM": round(10 ** (9 - 4.0 - 0.15 * len(s)), 3)} for s in TINY_CORPUS
    ]
    pd.DataFrame(rows).to_csv(folder / "ligands.csv", index=False)
    started_at = time.monotonic()
    _post(
        stack,
        LIGANDS,
        {
            "name": "tiny",
            "path": "tiny/ligands.csv",
            "smiles_column": "SMILES",
            "activity_column": "IC50_nM",
            "activity_units": "nM",
        },
    )
    run = _wait_for_run(stack, "molecular-design-cpu", timeout=1500)
    elapsed = time.monotonic() - started_at
    print(f"\nmolecular-design-cpu: webhook POST -> {run['state']['type']} in {elapsed:.1f} s")
    assert run["state"]["type"] == "COMPLETED", run["state"]
    data = run["parameters"]["config"]["data"]
    assert data["mapping"]["activity"] == "IC50_nM"
    # the deployment's CPU settings are its preset; the trigger passes only what it changes
    assert run["parameters"]["preset"] == "cpu" and "rl_steps" not in run["parameters"]["config"]
