"""Real servers for tests: a Prefect server, the gateway, a process worker.

Each runs as a subprocess on a free loopback port with its own temp folders and is
stopped by pid (SIGTERM, then SIGKILL of its process group).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment with the worktree's ``src`` and root importable."""
    env = dict(os.environ)
    paths = [str(REPO / "src"), str(REPO)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra)
    return env


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready after {timeout} s")


def stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@contextmanager
def started(
    args: list[str], env: dict[str, str], log: Path, grace: float = 10.0
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO
        )
    try:
        yield proc
    finally:
        stop(proc, grace)


@contextmanager
def prefect_server(tmp: Path, auth_string: str | None = None) -> Iterator[str]:
    """``prefect server start`` on a free port with a fresh PREFECT_HOME; yields the API URL."""
    port = free_port()
    env = child_env(
        PREFECT_HOME=str(tmp / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
    )
    env.pop("PREFECT_API_URL", None)
    auth = None
    if auth_string:
        env["PREFECT_SERVER_API_AUTH_STRING"] = auth_string
        user, _, password = auth_string.partition(":")
        auth = httpx.BasicAuth(user, password)
    args = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with started(args, env, tmp / "prefect-server.log") as proc:
        url = f"http://127.0.0.1:{port}/api"
        wait_until(
            lambda: httpx.get(f"{url}/health", auth=auth, timeout=2).status_code == 200,
            180,
            "prefect server",
            proc,
        )
        yield url


@contextmanager
def gateway(tmp: Path, api_url: str, data_root: Path, **extra_env: str) -> Iterator[str]:
    """``crucible gateway serve`` on a free port; yields its base URL."""
    port = free_port()
    env = child_env(
        PREFECT_API_URL=api_url,
        CRUCIBLE_HOME=str(tmp / "gateway-home"),
        CRUCIBLE_DATA_ROOT=str(data_root),
        **extra_env,
    )
    args = [
        sys.executable,
        "-c",
        "from crucible.cli import main; raise SystemExit(main())",
        "gateway",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with started(args, env, tmp / "gateway.log") as proc:
        base = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200,
            60,
            "gateway",
            proc,
        )
        yield base
