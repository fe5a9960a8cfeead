"""Generate the base job templates of Crucible's work pools into ``deployments/pools/``.

Each template starts from the default of the worker class that runs the pool (so it stays
valid for the installed prefect-docker / prefect-kubernetes) and adds only what Crucible
needs:

* ``cpu-process``: Prefect's process-worker default, unchanged;
* ``gpu-docker``: prefect-docker's default plus the image ``crucible:cuda``, every GPU
  (``device_requests`` through ``container_create_kwargs``), 8 GB of shared memory, the
  named volume ``crucible-home`` mounted at ``/var/lib/crucible`` and
  ``CRUCIBLE_HOME``/``CRUCIBLE_DEVICE``/``PREFECT_HOME`` in the environment;
* ``gpu-kubernetes``: prefect-kubernetes' default plus a ``gpu_limit`` variable rendered as
  the container's ``nvidia.com/gpu`` limit, the PersistentVolumeClaim ``pvc_name`` mounted at
  ``/var/lib/crucible``, ``/opt/crucible`` (the image's code) as working directory, and the
  same environment.

Run from the repository root after upgrading a worker package, and commit the result::

    python deployments/pool_templates.py          # rewrite the JSON files
    python deployments/pool_templates.py --check  # exit 1 when a file is out of date
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

POOLS_DIR = Path(__file__).resolve().parent / "pools"
# Where the images keep Crucible's code and where results go (a volume / PVC).
CODE_DIR = "/opt/crucible"
HOME_DIR = "/var/lib/crucible"
HOME_VOLUME = "crucible-home"
GPU_IMAGE = "crucible:cuda"
# PREFECT_HOME on the volume too: results and cache records outlive the container, and the
# worker's own PREFECT_HOME (a path on its machine) is not passed on.
GPU_ENV = {
    "CRUCIBLE_HOME": HOME_DIR,
    "CRUCIBLE_DEVICE": "cuda",
    "PREFECT_HOME": f"{HOME_DIR}/prefect",
}
DEVICE_REQUESTS = [{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}]
POOL_TYPES = {"cpu-process": "process", "gpu-docker": "docker", "gpu-kubernetes": "kubernetes"}


def cpu_process_template() -> dict[str, Any]:
    """Prefect's default process-worker template."""
    from prefect.workers.process import ProcessWorker

    return copy.deepcopy(ProcessWorker.get_default_base_job_template())


def gpu_docker_template(network: str | None = None) -> dict[str, Any]:
    """prefect-docker's default template with Crucible's image, GPUs, volume and env.

    Args:
        network: Docker network the flow-run containers join (``crucible`` under
            ``docker/compose.yaml``, so they reach ``prefect-server`` by name); none when None.
    """
    from prefect_docker.worker import DockerWorker

    template = copy.deepcopy(DockerWorker.get_default_base_job_template())
    props = template["variables"]["properties"]
    if network is not None:
        props["networks"]["default"] = [network]
    props["image"]["default"] = GPU_IMAGE
    props["env"]["default"] = dict(GPU_ENV)
    props["volumes"]["default"] = [f"{HOME_VOLUME}:{HOME_DIR}"]
    props["container_create_kwargs"]["default"] = {
        "device_requests": DEVICE_REQUESTS,
        "shm_size": "8g",
        "working_dir": CODE_DIR,
    }
    return template


def gpu_kubernetes_template() -> dict[str, Any]:
    """prefect-kubernetes' default template with ``nvidia.com/gpu`` limits and a PVC."""
    from prefect_kubernetes.worker import KubernetesWorker

    template = copy.deepcopy(KubernetesWorker.get_default_base_job_template())
    props = template["variables"]["properties"]
    props["image"]["default"] = GPU_IMAGE
    props["env"]["default"] = dict(GPU_ENV)
    props["gpu_limit"] = {
        "title": "GPUs",
        "description": "GPUs per flow-run pod (the container's nvidia.com/gpu limit).",
        "type": "integer",
        "minimum": 0,
        "default": 1,
    }
    props["pvc_name"] = {
        "title": "Crucible home volume claim",
        "description": f"PersistentVolumeClaim mounted at {HOME_DIR} (CRUCIBLE_HOME), so "
        "results outlive the pod.",
        "type": "string",
        "default": HOME_VOLUME,
    }
    pod = template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    container["resources"]["limits"]["nvidia.com/gpu"] = "{{ gpu_limit }}"
    container["workingDir"] = CODE_DIR
    container["volumeMounts"] = [{"name": HOME_VOLUME, "mountPath": HOME_DIR}]
    pod["volumes"] = [
        {"name": HOME_VOLUME, "persistentVolumeClaim": {"claimName": "{{ pvc_name }}"}}
    ]
    return template


TEMPLATES = {
    "cpu-process": cpu_process_template,
    "gpu-docker": gpu_docker_template,
    "gpu-kubernetes": gpu_kubernetes_template,
}


def render(pool: str, docker_network: str | None = None) -> str:
    """The JSON text of ``pool``'s template (as committed when ``docker_network`` is None)."""
    template = gpu_docker_template(docker_network) if pool == "gpu-docker" else TEMPLATES[pool]()
    return json.dumps(template, indent=2, sort_keys=True) + "\n"


def stale(pools_dir: Path = POOLS_DIR) -> list[str]:
    """Pools whose committed JSON differs from what this script generates."""
    return [
        pool
        for pool in TEMPLATES
        if not (pools_dir / f"{pool}.json").exists()
        or (pools_dir / f"{pool}.json").read_text() != render(pool)
    ]


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check``, compare) every template."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a file is stale")
    parser.add_argument("--print", dest="pool", choices=sorted(TEMPLATES), help="print one")
    parser.add_argument(
        "--docker-network", default=None, help="with --print gpu-docker: network to join"
    )
    args = parser.parse_args(argv)
    if args.pool:
        print(render(args.pool, args.docker_network), end="")
        return 0
    if args.check:
        out_of_date = stale()
        for pool in out_of_date:
            print(f"{POOLS_DIR / pool}.json is out of date: run python {__file__}")
        return 1 if out_of_date else 0
    POOLS_DIR.mkdir(exist_ok=True)
    for pool in TEMPLATES:
        (POOLS_DIR / f"{pool}.json").write_text(render(pool))
        print(f"wrote {POOLS_DIR / pool}.json ({POOL_TYPES[pool]} pool)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
