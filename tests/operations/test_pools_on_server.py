"""GPU work pools and deployments on a real Prefect server (auth on, SQLite, temp PREFECT_HOME).

* each pool is created from its committed template with the documented CLI command;
* ``prefect deploy --all`` stores no host path for any GPU (Docker, Kubernetes) deployment;
* the job configuration each worker class builds for a GPU run (template + deployment job
  variables, ``prepare_for_flow_run``; no engine, no cluster) carries the image, the GPU
  request, the volume and the environment; for Docker down to the ``HostConfig`` that
  docker-py would send.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import child_env, prefect_server

pytestmark = pytest.mark.operations

ROOT = Path(__file__).resolve().parents[2]
AUTH = "crucible:pools-test-secret"
POOL_TYPES = {"cpu-process": "process", "gpu-docker": "docker", "gpu-kubernetes": "kubernetes"}


def _prefect(api_url: str, tmp: Path, *args: str, timeout: float = 600) -> None:
    env = child_env(
        PREFECT_API_URL=api_url,
        PREFECT_API_AUTH_STRING=AUTH,
        PREFECT_HOME=str(tmp / "client-home"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "prefect", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (
        f"prefect {' '.join(args)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with the three pools created from their templates and everything deployed."""
    tmp = tmp_path_factory.mktemp("pools")
    with prefect_server(tmp, auth_string=AUTH) as api_url:
        for pool, kind in POOL_TYPES.items():
            template = f"deployments/pools/{pool}.json"
            _prefect(
                api_url,
                tmp,
                "work-pool",
                "create",
                pool,
                "--type",
                kind,
                "--base-job-template",
                template,
            )
        _prefect(api_url, tmp, "--no-prompt", "deploy", "--all")
        yield api_url


def _read(api_url: str, deployment: str) -> tuple[Any, Any, Any, Any]:
    """The work pool, deployment, flow and a new flow run of ``flow/deployment``."""
    from prefect.client.orchestration import PrefectClient

    async def read() -> tuple[Any, Any, Any, Any]:
        async with PrefectClient(api_url, auth_string=AUTH) as client:
            dep = await client.read_deployment_by_name(deployment)
            pool = await client.read_work_pool(dep.work_pool_name)
            flow = await client.read_flow(dep.flow_id)
            run = await client.create_flow_run_from_deployment(dep.id)
            return pool, dep, flow, run

    return asyncio.run(read())


def _configuration(worker: Any, api_url: str, pool: Any, dep: Any, flow: Any, run: Any) -> Any:
    """The worker class's job configuration for ``run``, as a worker of this stack builds it.

    The template is resolved and ``prepare_for_flow_run`` applied with the stack's server
    and auth string: resolving reads block and variable references through a Prefect
    client, which without the server's URL would start an ephemeral server of its own.
    """
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url, PREFECT_API_AUTH_STRING: AUTH}):
        config = asyncio.run(
            worker.job_configuration.from_template_and_values(
                pool.base_job_template, dep.job_variables
            )
        )
        config.prepare_for_flow_run(run, dep, flow)
    return config


def _gpu_deployments() -> list[str]:
    import yaml

    data = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    return [d["name"] for d in data["deployments"] if d["work_pool"]["name"] != "cpu-process"]


def test_every_pool_was_created_with_its_template(deployed: str) -> None:
    from prefect.client.orchestration import PrefectClient

    async def pools() -> dict[str, Any]:
        async with PrefectClient(deployed, auth_string=AUTH) as client:
            return {p.name: p for p in await client.read_work_pools()}

    found = asyncio.run(pools())
    for pool, kind in POOL_TYPES.items():
        committed = json.loads((ROOT / "deployments" / "pools" / f"{pool}.json").read_text())
        assert found[pool].type == kind
        assert found[pool].base_job_template == committed


def test_gpu_deployments_store_no_host_path(deployed: str) -> None:
    from prefect.client.orchestration import PrefectClient

    names = _gpu_deployments()
    assert {"molecular-design", "train-gpu", "molecular-design-k8s", "train-k8s"} <= set(names)

    async def read() -> list[Any]:
        async with PrefectClient(deployed, auth_string=AUTH) as client:
            return list(await client.read_deployments())

    by_name = {d.name: d for d in asyncio.run(read())}
    for name in names:
        stored = by_name[name].model_dump(mode="json")
        assert str(ROOT) not in json.dumps(stored), f"{name} stores the checkout path"
        assert stored["pull_steps"] == [
            {"prefect.deployments.steps.set_working_directory": {"directory": "/opt/crucible"}}
        ]
    # CPU deployments run on the host's process worker, from the checkout.
    cpu = by_name["bo-campaign"].model_dump(mode="json")["pull_steps"]
    assert cpu[0]["prefect.deployments.steps.set_working_directory"]["directory"] == str(ROOT)


def test_docker_worker_builds_a_gpu_container(deployed: str) -> None:
    from docker.models.containers import _create_container_args
    from prefect_docker.worker import DockerWorker

    pool, dep, flow, run = _read(deployed, "molecular-design/molecular-design")
    config = _configuration(DockerWorker, deployed, pool, dep, flow, run)
    assert config.image == "crucible:cuda"
    assert config.volumes == ["crucible-home:/var/lib/crucible"]
    assert config.env["CRUCIBLE_HOME"] == "/var/lib/crucible"
    assert config.env["CRUCIBLE_DEVICE"] == "cuda"
    assert config.env["PREFECT__FLOW_RUN_ID"] == str(run.id)
    assert config.env["PREFECT_API_AUTH_STRING"] == AUTH
    assert config.command == "prefect flow-run execute"
    # What the worker hands to docker-py, then docker-py's own conversion to the API body.
    # A non-loopback API URL (as under docker/compose.yaml) needs no engine to resolve.
    config.env["PREFECT_API_URL"] = "http://prefect-server:4200/api"
    settings = DockerWorker(work_pool_name="gpu-docker")._build_container_settings(None, config)  # type: ignore[arg-type]
    create = _create_container_args({**settings, "version": "1.47"})
    host = create["host_config"]
    assert host["DeviceRequests"] == [
        {
            "Driver": "nvidia",
            "Count": -1,
            "DeviceIDs": [],
            "Capabilities": [["gpu"]],
            "Options": {},
        }
    ]
    assert host["Binds"] == ["crucible-home:/var/lib/crucible"]
    assert host["ShmSize"] == 8 * 1024**3
    assert create["image"] == "crucible:cuda"
    assert create["working_dir"] == "/opt/crucible"
    assert create["environment"]["CRUCIBLE_HOME"] == "/var/lib/crucible"
    # The worker's own PREFECT_HOME (a host path) does not leak into the container.
    assert create["environment"]["PREFECT_HOME"] == "/var/lib/crucible/prefect"


def test_kubernetes_worker_builds_a_gpu_job(deployed: str) -> None:
    from prefect_kubernetes.worker import KubernetesWorker

    pool, dep, flow, run = _read(deployed, "molecular-design/molecular-design-k8s")
    config = _configuration(KubernetesWorker, deployed, pool, dep, flow, run)
    pod = config.job_manifest["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "crucible:cuda"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["workingDir"] == "/opt/crucible"
    assert container["volumeMounts"] == [
        {"name": "crucible-home", "mountPath": "/var/lib/crucible"}
    ]
    assert pod["volumes"] == [
        {"name": "crucible-home", "persistentVolumeClaim": {"claimName": "crucible-home"}}
    ]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["CRUCIBLE_HOME"] == "/var/lib/crucible"
    assert env["PREFECT_HOME"] == "/var/lib/crucible/prefect"
    assert env["PREFECT__FLOW_RUN_ID"] == str(run.id)
    assert env["PREFECT_API_AUTH_STRING"] == AUTH
    assert container["args"] == ["prefect", "flow-run", "execute"]
