"""The committed work-pool templates are what deployments/pool_templates.py generates."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "pool_templates", ROOT / "deployments" / "pool_templates.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_templates_are_up_to_date() -> None:
    assert _generator().stale() == [], "run: python deployments/pool_templates.py"


def test_stale_detects_an_edited_template(tmp_path: Path) -> None:
    generator = _generator()
    for pool in generator.TEMPLATES:
        (tmp_path / f"{pool}.json").write_text(generator.render(pool))
    edited = json.loads((tmp_path / "gpu-docker.json").read_text())
    edited["variables"]["properties"]["image"]["default"] = "other:tag"
    (tmp_path / "gpu-docker.json").write_text(json.dumps(edited))
    assert generator.stale(tmp_path) == ["gpu-docker"]


def test_templates_extend_the_worker_defaults() -> None:
    from prefect_docker.worker import DockerWorker
    from prefect_kubernetes.worker import KubernetesWorker

    generator = _generator()
    docker = generator.gpu_docker_template()
    base = DockerWorker.get_default_base_job_template()
    assert docker["job_configuration"] == base["job_configuration"]
    assert set(docker["variables"]["properties"]) == set(base["variables"]["properties"])
    kwargs = docker["variables"]["properties"]["container_create_kwargs"]["default"]
    assert kwargs["device_requests"][0]["capabilities"] == [["gpu"]]

    k8s = generator.gpu_kubernetes_template()
    base_k8s = KubernetesWorker.get_default_base_job_template()
    added = set(k8s["variables"]["properties"]) - set(base_k8s["variables"]["properties"])
    assert added == {"gpu_limit", "pvc_name"}
    assert generator.gpu_docker_template("crucible")["variables"]["properties"]["networks"][
        "default"
    ] == ["crucible"]
