"""``crucible blocks register``, the environment block in flows and ``crucible automations
apply``, against a real Prefect server (one for the module)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Completed, Failed
from pydantic import SecretStr
from sqlalchemy import create_engine, inspect

from blocks.environment import (
    ENVIRONMENT_BLOCK_VARIABLE,
    CrucibleEnvironment,
    uses_environment_block,
)
from crucible.exceptions import ConfigurationError
from crucible.settings import get_settings
from tests.servers import REPO, child_env, gateway, prefect_server

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with prefect_server(tmp_path_factory.mktemp("bootstrap")) as url:  # noqa: SIM117
        with temporary_settings({PREFECT_API_URL: url}):
            yield url


def _crucible(api_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crucible.cli", *args],
        env=child_env(PREFECT_API_URL=api_url),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_blocks_register_from_the_project_root(api_url: str) -> None:
    result = _crucible(api_url, "blocks", "register")
    assert result.returncode == 0, result.stderr
    assert "crucible-environment" in result.stdout

    async def slugs() -> list[str]:
        async with get_client() as client:
            return [t.slug for t in await client.read_block_types()]

    assert "crucible-environment" in asyncio.run(slugs())


def test_blocks_register_names_the_fix_outside_the_project(api_url: str, tmp_path: Path) -> None:
    env = child_env(PREFECT_API_URL=api_url, PYTHONPATH=str(REPO / "src"))
    result = subprocess.run(
        [sys.executable, "-m", "crucible.cli", "blocks", "register", "--project", str(tmp_path)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--module" in result.stderr and "--project" in result.stderr


@flow
@uses_environment_block
def _store_probe(label: str = "x") -> str:
    return f"{label}:{get_settings().campaign_store_url}"


def test_flow_uses_the_named_environment_block(
    api_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'from-block.db'}"
    CrucibleEnvironment(campaign_store_url=SecretStr(url)).save("ci", overwrite=True)
    monkeypatch.setenv(ENVIRONMENT_BLOCK_VARIABLE, "ci")
    assert _store_probe("a") == f"a:{url}"
    monkeypatch.delenv(ENVIRONMENT_BLOCK_VARIABLE)
    assert _store_probe("b") != f"b:{url}"


def test_unknown_environment_block_names_the_variable(
    api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENVIRONMENT_BLOCK_VARIABLE, "no-such-env")
    with pytest.raises(ConfigurationError, match=ENVIRONMENT_BLOCK_VARIABLE):
        _store_probe.fn("c")


def test_every_deployed_flow_loads_the_environment_block() -> None:
    import yaml
    from prefect.flows import load_flow_from_entrypoint

    project = yaml.safe_load((REPO / "prefect.yaml").read_text())
    for entrypoint in sorted({d["entrypoint"] for d in project["deployments"]}):
        loaded = load_flow_from_entrypoint(str(REPO / entrypoint))
        assert getattr(loaded.fn, "uses_environment_block", False), entrypoint


async def _deployment(client: Any, name: str) -> UUID:
    """A deployment ``name/name`` (no worker needed: runs are moved by hand)."""
    flow_id = await client.create_flow_from_name(name)
    return await client.create_deployment(flow_id=flow_id, name=name)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def deployments(api_url: str) -> dict[str, UUID]:
    """``activity-model`` deployed from prefect.yaml (with its trigger); the others by API."""
    env = child_env(PREFECT_API_URL=api_url, PREFECT_CLI_PROMPT="false")
    for args in (
        ["work-pool", "create", "cpu-process", "--type", "process"],
        ["--no-prompt", "deploy", "-n", "activity-model"],
    ):
        subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            env=env, cwd=REPO, check=True, capture_output=True, timeout=300,
        )  # fmt: skip

    async def create() -> dict[str, UUID]:
        async with get_client() as client:
            created = {
                name: await _deployment(client, name)
                for name in ("train", "bo-campaign", "ligand-data")
            }
            created["activity-model"] = (
                await client.read_deployment_by_name("activity-model/activity-model")
            ).id
            return created

    return asyncio.run(create())


def test_automations_apply_is_idempotent(api_url: str, deployments: dict[str, UUID]) -> None:
    first = _crucible(api_url, "automations", "apply")
    assert first.returncode == 0, first.stderr
    assert "created automation crucible-pause-failing-campaign" in first.stdout
    again = _crucible(api_url, "automations", "apply")
    assert "updated automation crucible-pause-failing-campaign" in again.stdout

    async def names() -> list[str]:
        async with get_client() as client:
            return sorted(a.name for a in await client.read_automations())

    assert asyncio.run(names()) == [
        "activity-model__automation_1",  # the prefect.yaml trigger
        "crucible-pause-failing-campaign",
    ]


async def _wait(check: Any, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(1)
    return await check()


def test_automation_pauses_a_failing_campaign_deployment(
    api_url: str, deployments: dict[str, UUID]
) -> None:
    assert _crucible(api_url, "automations", "apply").returncode == 0

    async def scenario() -> tuple[bool, bool]:
        async with get_client() as client:
            other, campaign = deployments["train"], deployments["bo-campaign"]
            for deployment_id in (other, campaign):
                run = await client.create_flow_run_from_deployment(deployment_id)
                await client.set_flow_run_state(run.id, Failed(message="test"), force=True)

            async def paused() -> bool:
                return bool((await client.read_deployment(campaign)).paused)

            await _wait(paused)
            await asyncio.sleep(3)  # let a wrong firing on the other deployment show up
            return await paused(), bool((await client.read_deployment(other)).paused)

    campaign_paused, other_paused = asyncio.run(scenario())
    assert campaign_paused, "the failed bo-campaign run did not pause its deployment"
    assert not other_paused, "a failed run of another flow paused its deployment"


def test_completed_ligand_data_run_starts_the_activity_model(
    api_url: str, deployments: dict[str, UUID]
) -> None:
    """The activity-model deployment's trigger in prefect.yaml, as ``prefect deploy`` made it."""
    data = {"source": "egfr", "limit": 50, "name": "from-automation"}

    async def scenario() -> list[Any]:
        async with get_client() as client:
            run = await client.create_flow_run_from_deployment(
                deployments["ligand-data"], parameters={"config": data}
            )
            await client.set_flow_run_state(run.id, Completed(), force=True)

            async def started() -> list[Any]:
                return list(
                    await client.read_flow_runs(
                        deployment_filter=DeploymentFilter(
                            id=DeploymentFilterId(any_=[deployments["activity-model"]])
                        )
                    )
                )

            return list(await _wait(started))

    runs = asyncio.run(scenario())
    assert len(runs) == 1, "the completed ligand-data run started no activity-model run"
    assert runs[0].parameters == {"config": {"data": data}}


def test_gateway_takes_its_store_from_the_environment_block(api_url: str, tmp_path: Path) -> None:
    store = tmp_path / "gateway-store.db"
    CrucibleEnvironment(campaign_store_url=SecretStr(f"sqlite:///{store}")).save(
        "gateway-env", overwrite=True
    )
    with gateway(tmp_path, api_url, tmp_path, CRUCIBLE_ENVIRONMENT_BLOCK="gateway-env"):
        pass
    engine = create_engine(f"sqlite:///{store}")
    assert "crucible_webhook_deliveries" in inspect(engine).get_table_names()


def test_gateway_refuses_an_unknown_environment_block(api_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crucible.cli", "gateway", "serve", "--port", "1"],
        env=child_env(PREFECT_API_URL=api_url, CRUCIBLE_ENVIRONMENT_BLOCK="nope"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "CRUCIBLE_ENVIRONMENT_BLOCK='nope'" in result.stderr
