"""The operations test: the real local stack, started the way ``make up`` starts it.

``crucible stack up`` (what ``make up`` runs) brings up PostgreSQL, the Prefect server (auth
on), MLflow, a process worker and the webhook gateway on free loopback ports in a temp
folder, and deploys ``prefect.yaml``. Then, in order: a second ``up`` changes nothing; the
API refuses a client without the auth string; ``prefect deployment run`` takes a small BO
campaign to Completed; a signed webhook becomes a Completed campaign run; every refused
webhook (bad or missing signature, stale timestamp, replay, unknown source, bad payload,
oversized body) creates no event and no run; ``crucible stack down`` leaves no process; a
later ``up`` restarts on the same data without redeploying, and ``down`` again stops it all.

Timings are printed at the end of the session: cold, warm and restarted ``up``, deployment
run → Completed, webhook POST → Completed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from crucible.gateway.signing import new_secret, sign
from tests.operations.timings import TIMINGS
from tests.servers import child_env

pytestmark = [pytest.mark.operations, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = "crucible.campaign.requested"
SERVICES = ("postgres", "prefect-server", "mlflow", "worker-cpu", "gateway")


@dataclass
class OpsStack:
    """A running stack: its folders, client settings and the timings taken so far."""

    tmp: Path
    root: Path
    home: Path
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=lambda: TIMINGS)
    delivered: tuple[bytes, str] | None = None  # body and webhook-id of the accepted webhook

    @property
    def api_url(self) -> str:
        return self.env["PREFECT_API_URL"]

    @property
    def auth(self) -> httpx.BasicAuth:
        user, _, password = self.env["PREFECT_API_AUTH_STRING"].partition(":")
        return httpx.BasicAuth(user, password)

    def gateway_url(self) -> str:
        ports = json.loads((self.root / "stack.json").read_text())["ports"]
        return f"http://127.0.0.1:{ports['gateway']}"

    def api(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(
            method, self.api_url + path, json=body, auth=self.auth, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def pids(self) -> dict[str, int]:
        run = self.root / "run"
        return {p.stem: json.loads(p.read_text())["pid"] for p in run.glob("*.pid")}


def _crucible(stack_args: list[str], **extra_env: str) -> subprocess.CompletedProcess[str]:
    """``crucible <args>`` as ``make up``/``make down`` run it (console script)."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from crucible.cli import main; raise SystemExit(main())",
            *stack_args,
        ],
        cwd=ROOT,
        env=child_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=1200,
    )


def _layout_args(root: Path, home: Path) -> list[str]:
    return ["--project", str(ROOT), "--root", str(root), "--home", str(home)]


def _load_env(env_file: Path) -> dict[str, str]:
    env = {}
    for line in env_file.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    return env


@pytest.fixture(scope="module")
def stack() -> Iterator[OpsStack]:
    # pytest's tmp folders are 0700; as root PostgreSQL runs as 'postgres' and must enter it.
    tmp = Path(tempfile.mkdtemp(prefix="crucible-ops-"))
    tmp.chmod(0o755)
    root, home = tmp / "stack", tmp / "home"
    started = time.monotonic()
    # CRUCIBLE_ALLOW_IMPORT_PATHS set here must not reach any process of the stack.
    up = _crucible(
        ["stack", "up", *_layout_args(root, home), "--free-ports"],
        CRUCIBLE_ALLOW_IMPORT_PATHS="1",
    )
    cold = time.monotonic() - started
    try:
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        TIMINGS["make up cold (fresh folder)"] = cold
        yield OpsStack(tmp, root, home, _load_env(root / "env"))
    finally:
        _crucible(["stack", "down", *_layout_args(root, home)])
        shutil.rmtree(tmp, ignore_errors=True)


def test_second_up_changes_nothing(stack: OpsStack) -> None:
    before = stack.pids()
    assert set(before) == set(SERVICES)
    started = time.monotonic()
    up = _crucible(["stack", "up", *_layout_args(stack.root, stack.home)])
    stack.timings["make up warm (all running)"] = time.monotonic() - started
    assert up.returncode == 0, up.stdout + up.stderr
    assert "deployments      up to date" in up.stdout
    assert stack.pids() == before


def test_credentials_are_private_and_import_paths_stay_off(stack: OpsStack) -> None:
    for path in [stack.root / "env", *(stack.root / "secrets").iterdir()]:
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert (stack.root / "secrets").stat().st_mode & 0o777 == 0o700
    password = (stack.root / "secrets" / "postgres-password").read_text().strip().encode()
    for name, pid in stack.pids().items():
        if name == "postgres":
            continue
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert not any(v.startswith(b"CRUCIBLE_ALLOW_IMPORT_PATHS=") for v in environ), name
        # No service shows the database password on its command line; the worker and the
        # gateway read their store URLs from the crucible-environment block 'stack'.
        assert password not in Path(f"/proc/{pid}/cmdline").read_bytes(), name
        if name in {"worker-cpu", "gateway"}:
            assert not any(password in v for v in environ), name
            assert b"CRUCIBLE_ENVIRONMENT_BLOCK=stack" in environ, name
    status = _crucible(["stack", "status", *_layout_args(stack.root, stack.home)])
    for service in SERVICES:
        assert f"{service}" in status.stdout
    assert status.stdout.count("healthy") == len(SERVICES), status.stdout


def test_api_refuses_clients_without_the_auth_string(stack: OpsStack) -> None:
    response = httpx.post(f"{stack.api_url}/deployments/filter", json={}, timeout=30)
    assert response.status_code == 401
    wrong = httpx.post(
        f"{stack.api_url}/deployments/filter", json={}, auth=("crucible", "guess"), timeout=30
    )
    assert wrong.status_code == 401
    # The UI and MLflow pages themselves are served (the UI asks for the auth string).
    ui = httpx.get(stack.api_url.removesuffix("/api") + "/", timeout=30)
    assert ui.status_code == 200 and "text/html" in ui.headers["content-type"]
    mlflow = httpx.get(stack.env["CRUCIBLE_MLFLOW_TRACKING_URI"] + "/", timeout=30)
    assert mlflow.status_code == 200 and "text/html" in mlflow.headers["content-type"]
    names = {d["name"] for d in stack.api("POST", "/deployments/filter", {})}
    assert {"bo-campaign", "molecular-design-cpu", "molecular-design-k8s"} <= names


def test_deployment_run_of_a_small_bo_campaign_completes(stack: OpsStack) -> None:
    config = {
        "name": "ops-deployment-run",
        "problem": "branin",
        "strategy": {"n_init": 4},
        "stopping": {"max_trials": 8},
        "batch_size": 2,
    }
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "prefect",
            "deployment",
            "run",
            "bo-campaign/bo-campaign",
            "--param",
            f"config={json.dumps(config)}",
            "--watch",
            "--watch-timeout",
            "600",
        ],
        cwd=ROOT,
        env=child_env(**stack.env),
        capture_output=True,
        text=True,
        timeout=900,
    )
    stack.timings["prefect deployment run -> Completed (BO, 8 trials)"] = (
        time.monotonic() - started
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Completed" in done.stdout
    _assert_campaign_stored(stack, "ops-deployment-run", trials=8)


def _assert_campaign_stored(stack: OpsStack, name: str, trials: int) -> None:
    """The campaign and its trials are in the stack's PostgreSQL campaign store."""
    import sqlalchemy as sa

    engine = sa.create_engine(stack.env["CRUCIBLE_CAMPAIGN_STORE_URL"])
    try:
        with engine.connect() as connection:
            count = connection.execute(
                sa.text(
                    "SELECT count(*) FROM crucible_trials t JOIN crucible_campaigns c "
                    "ON t.campaign_id = c.id WHERE c.name = :name"
                ),
                {"name": name},
            ).scalar_one()
    finally:
        engine.dispose()
    assert count == trials


def _campaign_runs(stack: OpsStack) -> list[dict[str, Any]]:
    deployment = stack.api("GET", "/deployments/name/bo-campaign/bo-campaign")
    return list(
        stack.api(
            "POST",
            "/flow_runs/filter",
            {"flow_runs": {"deployment_id": {"any_": [deployment["id"]]}}},
        )
    )


def _wait_for_run(stack: OpsStack, campaign: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
        for run in _campaign_runs(stack):
            name = run["parameters"].get("config", {}).get("name")
            if name == campaign and run["state_type"] in finished:
                return run
        time.sleep(1)
    raise AssertionError(f"no finished run for campaign {campaign} after {timeout} s")


def _secret(stack: OpsStack) -> str:
    return (stack.root / "secrets" / "webhook-lab").read_text().strip()


def _body(**data: Any) -> bytes:
    return json.dumps({"type": CAMPAIGN, "data": data}).encode()


def _post(stack: OpsStack, body: bytes, headers: dict[str, str], source: str = "lab") -> int:
    response = httpx.post(
        f"{stack.gateway_url()}/hooks/{source}",
        content=body,
        headers={"content-type": "application/json", **headers},
        timeout=30,
    )
    return response.status_code


def _requested_events(stack: OpsStack) -> int:
    found = stack.api(
        "POST", "/events/filter", {"filter": {"event": {"name": [CAMPAIGN]}}, "limit": 50}
    )
    return len(found["events"])


def test_signed_webhook_becomes_a_completed_campaign_run(stack: OpsStack) -> None:
    body = _body(name="ops-webhook", problem="branin", budget=10, batch_size=2)
    headers = sign(_secret(stack), body)
    started = time.monotonic()
    response = httpx.post(
        f"{stack.gateway_url()}/hooks/lab",
        content=body,
        headers={"content-type": "application/json", **headers},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    assert response.json()["event_id"]
    stack.delivered = (body, headers["webhook-id"])
    run = _wait_for_run(stack, "ops-webhook")
    stack.timings["webhook POST -> Completed (BO, 10 trials)"] = time.monotonic() - started
    assert run["state_type"] == "COMPLETED", run["state"]
    _assert_campaign_stored(stack, "ops-webhook", trials=10)


def test_refused_webhooks_create_no_event_and_no_run(stack: OpsStack) -> None:
    assert stack.delivered is not None, "runs after the accepted-webhook test"
    secret = _secret(stack)
    events_before, runs_before = _requested_events(stack), len(_campaign_runs(stack))
    body = _body(name="ops-refused", problem="branin", budget=4)
    bad_payload = _body(name="ops-refused", budget=1)
    old = datetime.now(UTC) - timedelta(minutes=10)
    delivered_body, delivered_id = stack.delivered
    cases = {
        "no signature": (body, {}, "lab", 401),
        "wrong secret": (body, sign(new_secret(), body), "lab", 401),
        "signature of another body": (body, sign(secret, bad_payload), "lab", 401),
        "stale timestamp": (body, sign(secret, body, at=old), "lab", 401),
        "unknown source": (body, sign(secret, body), "nobody", 404),
        "payload fails its schema": (bad_payload, sign(secret, bad_payload), "lab", 422),
        "body over 1 MiB": (b"x" * (1024 * 1024 + 1), {}, "lab", 413),
        # the accepted webhook again, freshly signed under its webhook-id: a replay
        "replay": (
            delivered_body,
            sign(secret, delivered_body, webhook_id=delivered_id),
            "lab",
            409,
        ),
    }
    for case, (payload, headers, source, expected) in cases.items():
        assert _post(stack, payload, headers, source) == expected, case
    time.sleep(3)  # events are stored asynchronously: give a wrongly emitted one time to land
    assert _requested_events(stack) == events_before
    assert len(_campaign_runs(stack)) == runs_before


def test_down_leaves_no_process(stack: OpsStack) -> None:
    _down_and_check(stack)


def test_up_after_down_reuses_the_data(stack: OpsStack) -> None:
    started = time.monotonic()
    up = _crucible(["stack", "up", *_layout_args(stack.root, stack.home)])
    TIMINGS["make up after make down (data kept)"] = time.monotonic() - started
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert "postgres         started" in up.stdout
    assert "deployments      up to date" in up.stdout  # nothing redeployed
    assert set(stack.pids()) == set(SERVICES)
    _assert_campaign_stored(stack, "ops-webhook", trials=10)
    _down_and_check(stack)


def _down_and_check(stack: OpsStack) -> None:
    """``crucible stack down`` (what ``make down`` runs), then check nothing is left."""
    pids = stack.pids()
    ports = json.loads((stack.root / "stack.json").read_text())["ports"]
    done = _crucible(["stack", "down", *_layout_args(stack.root, stack.home)])
    assert done.returncode == 0, done.stderr
    for name, pid in pids.items():
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"{name} ({pid}) still runs"
        if name != "postgres":  # each service led its own process group
            assert not _group_members(pid), f"{name}: group {pid} still has processes"
    assert list((stack.root / "run").glob("*.pid")) == []
    for port in ports.values():
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    status = _crucible(["stack", "status", *_layout_args(stack.root, stack.home)])
    assert status.stdout.count("stopped") == len(SERVICES)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid and not _zombie(int(entry.name)):
                    members.append(int(entry.name))
            except OSError:
                continue
    return members
