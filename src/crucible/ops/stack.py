"""The local Crucible stack: PostgreSQL, Prefect server, MLflow, a CPU worker, the gateway.

``crucible stack up`` (``make up``) brings up, as processes on 127.0.0.1, each with its log
under ``<root>/logs`` and its pid file under ``<root>/run`` (root: ``.crucible/stack``):

* **postgres**: a private cluster in ``<root>/pg`` (``initdb`` when missing) holding the
  ``prefect``, ``crucible`` (campaign store), ``optuna`` and ``mlflow`` databases;
* **prefect-server**: ``prefect server start`` on the ``prefect`` database, with
  ``PREFECT_SERVER_API_AUTH_STRING`` from a generated secret (``<root>/secrets``, 0600);
* **mlflow**: ``mlflow server`` on the ``mlflow`` database, artifacts in ``<home>/mlartifacts``;
* **worker-cpu**: ``prefect worker start`` for the ``cpu-process`` pool;
* **gateway**: ``crucible gateway serve`` (signed webhooks → Prefect events), when this
  checkout has it;

then creates the work pools from ``deployments/pools/*.json``, saves the
``crucible-environment`` block ``stack`` (store URLs as secrets; the worker and the gateway
load it, so the database password is not in their environment), creates the webhook source
``lab`` (secret in ``<root>/secrets/webhook-lab``) and runs ``crucible blocks register``,
``crucible automations apply`` and ``prefect deploy --all`` (skipped when nothing that shapes
a deployment changed since the last deploy). Every step is idempotent: a healthy service is
left alone. Clients get their settings from ``<root>/env`` (0600: it holds the credentials).
``crucible stack down`` stops only the processes whose pid files ``up`` wrote.
``CRUCIBLE_ALLOW_IMPORT_PATHS`` is removed from every process the stack starts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crucible.exceptions import ConfigurationError, StackError
from crucible.ops import processes
from crucible.ops.postgres import LocalPostgres

DATABASES = ("prefect", "crucible", "optuna", "mlflow")
# Work pools and their worker types; templates in deployments/pools/<pool>.json.
POOLS = {"cpu-process": "process", "gpu-docker": "docker", "gpu-kubernetes": "kubernetes"}
CPU_POOL = "cpu-process"
DEFAULT_PORTS = {"postgres": 55432, "prefect": 4200, "mlflow": 5000, "gateway": 8787}
# The webhook source ``up`` creates (POST /hooks/lab) and the events it may send.
WEBHOOK_SOURCE = "lab"
WEBHOOK_EVENTS = ("crucible.campaign.requested", "crucible.ligands.ready")
# Stopped in this order by ``down``; started in the reverse order by ``up``.
SERVICES = ("gateway", "worker-cpu", "mlflow", "prefect-server", "postgres")
_DROPPED_ENV = (
    "CRUCIBLE_ALLOW_IMPORT_PATHS",
    "PREFECT_API_URL",
    "PREFECT_API_KEY",
    "CRUCIBLE_ENVIRONMENT_BLOCK",
    "CRUCIBLE_HOME",
    "CRUCIBLE_CAMPAIGN_STORE_URL",
    "CRUCIBLE_OPTUNA_STORAGE_URL",
    "CRUCIBLE_MLFLOW_TRACKING_URI",
)
# The crucible-environment block (store URLs as secrets) the worker and the gateway load.
ENVIRONMENT_BLOCK = "stack"
# What shapes a deployment: prefect.yaml, pool templates and the code behind the flows.
_DEPLOY_INPUTS = ("prefect.yaml", "deployments", "blocks", "flows", "tasks", "src/crucible")


@dataclass(frozen=True)
class StackLayout:
    """Where the stack keeps its files.

    Attributes:
        project: The repository root (``prefect.yaml``, ``deployments/``).
        root: The stack folder (``<project>/.crucible/stack``).
        home: ``CRUCIBLE_HOME`` of the flows the stack runs (``<project>/.crucible``).
    """

    project: Path
    root: Path
    home: Path

    @classmethod
    def default(cls, project: Path | None = None) -> StackLayout:
        """The layout of ``make up``: everything under ``<project>/.crucible``."""
        project = (project or Path.cwd()).resolve()
        return cls(
            project=project, root=project / ".crucible" / "stack", home=project / ".crucible"
        )

    @property
    def logs(self) -> Path:
        """One log file per service."""
        return self.root / "logs"

    @property
    def run(self) -> Path:
        """One pid file per running service."""
        return self.root / "run"

    @property
    def secrets(self) -> Path:
        """Generated credentials (folder 0700, files 0600)."""
        return self.root / "secrets"

    @property
    def env_file(self) -> Path:
        """Client settings (API URL, auth string, store URLs) as ``export`` lines, 0600."""
        return self.root / "env"

    @property
    def state_file(self) -> Path:
        """Ports chosen at the first ``up``."""
        return self.root / "stack.json"

    @property
    def deploy_stamp(self) -> Path:
        """Hash of the deployment inputs at the last successful ``prefect deploy --all``."""
        return self.root / "deployed.sha256"

    @property
    def prefect_home(self) -> Path:
        """``PREFECT_HOME`` of the processes the stack starts."""
        return self.root / "prefect-home"

    def log(self, service: str) -> Path:
        """The log file of ``service``."""
        return self.logs / f"{service}.log"

    def secret(self, name: str) -> Path:
        """The file holding secret ``name``."""
        return self.secrets / name


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (created 0600, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


def _ensure_secret(path: Path, make: Callable[[], str]) -> str:
    if not path.exists():
        _write_private(path, make() + "\n")
    path.chmod(0o600)
    return path.read_text().strip()


def _check_traversable(folder: Path) -> None:
    """As root, PostgreSQL runs as 'postgres': every folder above its data must be o+x."""
    for parent in [folder, *folder.parents]:
        if not parent.stat().st_mode & 0o001:
            raise ConfigurationError(
                f"postgres: the 'postgres' user cannot enter {parent} (mode "
                f"{oct(parent.stat().st_mode & 0o777)}), so it cannot reach {folder}/pg. Fix: "
                f"chmod o+x {parent}, or put the stack elsewhere (crucible stack up --root DIR)"
            )


def _port_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port`` (closing connections do not count)."""
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin(name: str) -> str:
    """The console script ``name`` of this Python environment (else from PATH)."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ConfigurationError(
            f"'{name}' is not installed in this environment. Fix: make install"
        )
    return found


def gateway_available() -> bool:
    """Whether this checkout ships the webhook gateway (``crucible gateway serve``)."""
    import importlib.util

    return (
        importlib.util.find_spec("crucible.gateway") is not None
        and importlib.util.find_spec("crucible.cli.gateway") is not None
    )


def _digest(project: Path) -> str:
    digest = hashlib.sha256()
    for name in _DEPLOY_INPUTS:
        base = project / name
        files = [base] if base.is_file() else sorted(base.rglob("*"))
        for path in files:
            if path.is_file() and path.suffix in {".py", ".yaml", ".json"}:
                digest.update(str(path.relative_to(project)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _deployment_names(project: Path) -> list[str]:
    import yaml

    data = yaml.safe_load((project / "prefect.yaml").read_text()) or {}
    return [str(item["name"]) for item in data.get("deployments") or []]


@dataclass(frozen=True)
class _ServiceSpec:
    """How to start one service: the port it must find free, its command, its extra env."""

    port_key: str | None
    argv: list[str]
    env: dict[str, str]


@dataclass
class UpReport:
    """What ``up`` did: per step the seconds it took and what happened."""

    steps: list[tuple[str, float, str]] = field(default_factory=list)

    def add(self, step: str, seconds: float, outcome: str) -> None:
        """Record one step."""
        self.steps.append((step, seconds, outcome))
        print(f"  {step:<16} {outcome} ({seconds:.1f} s)", flush=True)


class Stack:
    """The local stack in one :class:`StackLayout` (see the module docstring)."""

    def __init__(self, layout: StackLayout, ports: dict[str, int] | None = None) -> None:
        self.layout = layout
        self._requested_ports = dict(ports or {})

    # ----- files and settings ------------------------------------------------------------

    def ports(self) -> dict[str, int]:
        """The ports in use: stored at the first ``up``, else the requested or defaults."""
        stored: dict[str, int] = {}
        if self.layout.state_file.exists():
            stored = json.loads(self.layout.state_file.read_text()).get("ports", {})
        return {**DEFAULT_PORTS, **stored, **self._requested_ports}

    def _save_ports(self, ports: dict[str, int]) -> None:
        self.layout.state_file.write_text(json.dumps({"ports": ports}, indent=2) + "\n")

    def postgres(self) -> LocalPostgres:
        """The stack's PostgreSQL cluster."""
        return LocalPostgres(
            data_dir=self.layout.root / "pg",
            port=self.ports()["postgres"],
            log=self.layout.log("postgres"),
            password_file=self.layout.secret("postgres-password"),
        )

    def api_url(self) -> str:
        """The Prefect API URL."""
        return f"http://127.0.0.1:{self.ports()['prefect']}/api"

    def urls(self) -> dict[str, str]:
        """Where to point a browser or a client, per service."""
        ports = self.ports()
        return {
            "prefect-ui": f"http://127.0.0.1:{ports['prefect']}",
            "prefect-api": self.api_url(),
            "mlflow": f"http://127.0.0.1:{ports['mlflow']}",
            "gateway": f"http://127.0.0.1:{ports['gateway']}",
            "postgres": f"127.0.0.1:{ports['postgres']}",
        }

    def auth_string(self) -> str:
        """The Prefect server's ``user:password`` (``PREFECT_API_AUTH_STRING`` of clients)."""
        return self.layout.secret("prefect-auth-string").read_text().strip()

    def client_env(self) -> dict[str, str]:
        """Settings of every client of the stack (CLI, worker, gateway, flows)."""
        pg = self.postgres()
        return {
            "PREFECT_API_URL": self.api_url(),
            "PREFECT_API_AUTH_STRING": self.auth_string(),
            "CRUCIBLE_HOME": str(self.layout.home),
            "CRUCIBLE_CAMPAIGN_STORE_URL": pg.url("crucible"),
            "CRUCIBLE_OPTUNA_STORAGE_URL": pg.url("optuna"),
            "CRUCIBLE_MLFLOW_TRACKING_URI": self.urls()["mlflow"],
        }

    def _block_env(self) -> dict[str, str]:
        """Settings of the worker and the gateway: the API, and the environment block by name.

        Their store URLs (with the database password) come from the ``crucible-environment``
        block :data:`ENVIRONMENT_BLOCK`, not from their process environment.
        """
        client = self.client_env()
        return {
            "PREFECT_API_URL": client["PREFECT_API_URL"],
            "PREFECT_API_AUTH_STRING": client["PREFECT_API_AUTH_STRING"],
            "CRUCIBLE_ENVIRONMENT_BLOCK": ENVIRONMENT_BLOCK,
        }

    def _process_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        env.update(
            PREFECT_HOME=str(self.layout.prefect_home),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra or {})
        return env

    def _prepare(self) -> None:
        for folder in (
            self.layout.root,
            self.layout.logs,
            self.layout.run,
            self.layout.home,
            self.layout.prefect_home,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # the postgres user must be able to reach <root>/pg
            self.layout.root.chmod(self.layout.root.stat().st_mode | 0o011)
            _check_traversable(self.layout.root)
        (self.layout.home / "data").mkdir(exist_ok=True)  # the gateway's data root
        self.ensure_secrets()

    def ensure_secrets(self) -> Path:
        """Generate the PostgreSQL password and the Prefect auth string unless present.

        Returns:
            The secrets folder (0700; each file 0600).
        """
        self.layout.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.layout.secrets.chmod(0o700)
        _ensure_secret(self.layout.secret("postgres-password"), lambda: secrets.token_urlsafe(24))
        _ensure_secret(
            self.layout.secret("prefect-auth-string"),
            lambda: f"crucible:{secrets.token_urlsafe(24)}",
        )
        return self.layout.secrets

    # ----- HTTP ---------------------------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None, *, timeout: float = 30) -> Any:
        """Call the Prefect API with the stack's credentials; return the decoded JSON."""
        token = base64.b64encode(self.auth_string().encode()).decode()
        request = urllib.request.Request(
            self.api_url() + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    # ----- services -------------------------------------------------------------------------

    def _running(self, name: str) -> processes.PidRecord | None:
        return processes.running(self.layout.run, name)

    def _check_port(self, service: str, key: str) -> None:
        port = self.ports()[key]
        if not _port_free(port):
            raise StackError(
                f"{service}: port {port} on 127.0.0.1 is taken by a process this stack did not "
                f"start. Fix: stop it, or choose another port (crucible stack up "
                f"--{key}-port N, or --free-ports)"
            )

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> processes.PidRecord:
        return processes.start(
            name,
            argv,
            env=env,
            cwd=self.layout.project,
            log=self.layout.log(name),
            run_dir=self.layout.run,
        )

    def _start_postgres(self, report: UpReport) -> None:
        started = time.monotonic()
        pg = self.postgres()
        outcome = "running"
        if not pg.initialised():
            pg.init(pg.password())
            outcome = "initdb, "
        if self._running("postgres") is None:
            if pg.postmaster_pid() is not None:
                raise StackError(
                    f"postgres: a server not started by this stack runs on {pg.data_dir}. "
                    "Fix: stop it (pg_ctl -D <that folder> stop) and run make up again"
                )
            self._check_port("postgres", "postgres")
            pid = pg.start()
            processes.record_pid(self.layout.run, "postgres", pid, "postgres")
            outcome = outcome.replace("running", "") + "started"
        created = pg.ensure_databases(list(DATABASES))
        if created:
            outcome += f", created databases {', '.join(created)}"
        report.add("postgres", time.monotonic() - started, outcome)

    def _specs(self) -> dict[str, _ServiceSpec]:
        """How to start each service that ``start`` runs (PostgreSQL is ``pg_ctl``'s)."""
        ports = {key: str(port) for key, port in self.ports().items()}
        loopback = ["--host", "127.0.0.1", "--port"]
        artifacts = self.layout.home / "mlartifacts"
        server_env = {
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": self.postgres().url("prefect", "asyncpg"),
            "PREFECT_SERVER_API_AUTH_STRING": self.auth_string(),
            "PREFECT_UI_API_URL": self.api_url(),
        }
        worker = ["worker", "start", "--pool", CPU_POOL, "--type", "process"]
        return {
            "prefect-server": _ServiceSpec(
                "prefect",
                [_bin("prefect"), "server", "start", *loopback, ports["prefect"]],
                server_env,
            ),
            "mlflow": _ServiceSpec(
                "mlflow",
                [
                    _bin("mlflow"),
                    "server",
                    *loopback,
                    ports["mlflow"],
                    "--workers",
                    "1",
                    "--artifacts-destination",
                    str(artifacts),
                ],
                # In the environment, not the command line that `ps` shows every user.
                {"MLFLOW_BACKEND_STORE_URI": self.postgres().url("mlflow")},
            ),
            "worker-cpu": _ServiceSpec(
                None,
                [_bin("prefect"), *worker, "--name", self._worker_name()],
                {**self._block_env(), "PREFECT_WORKER_QUERY_SECONDS": "2"},
            ),
            "gateway": _ServiceSpec(
                "gateway",
                [_bin("crucible"), "gateway", "serve", *loopback, ports["gateway"]],
                self._block_env(),
            ),
        }

    def _health(self, service: str) -> Callable[[], bool]:
        urls = self.urls()
        checks: dict[str, Callable[[], bool]] = {
            "prefect-server": lambda: processes.http_ok(
                urls["prefect-api"] + "/health", expect=b"true"
            ),
            "mlflow": lambda: processes.http_ok(urls["mlflow"] + "/health", expect=b"OK"),
            "gateway": lambda: processes.http_ok(urls["gateway"] + "/healthz"),
            "worker-cpu": self._worker_online,
            "postgres": lambda: self.postgres().postmaster_pid() is not None,
        }
        return checks[service]

    def _worker_online(self) -> bool:
        try:
            workers = self.api("POST", f"/work_pools/{CPU_POOL}/workers/filter", {})
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return any(
            w.get("status") == "ONLINE" and w["name"] == self._worker_name() for w in workers
        )

    def _worker_name(self) -> str:
        return f"crucible-stack-{socket.gethostname()}"

    def _ensure_service(self, name: str) -> bool:
        """Start ``name`` unless it already runs; True when it was started now."""
        if self._running(name) is not None:
            return False
        spec = self._specs()[name]
        if spec.port_key is not None:
            self._check_port(name, spec.port_key)
        if name == "mlflow":
            (self.layout.home / "mlartifacts").mkdir(parents=True, exist_ok=True)
        self._spawn(name, spec.argv, self._process_env(spec.env))
        return True

    def _wait_healthy(
        self, names: list[str], report: UpReport, started: dict[str, bool], timeout_s: float = 300
    ) -> None:
        t0 = time.monotonic()
        for name in names:
            processes.wait_for(
                name,
                self._health(name),
                timeout_s=timeout_s,
                log=self.layout.log(name),
                alive=lambda n=name: self._running(n) is not None,  # type: ignore[misc]
            )
            report.add(name, time.monotonic() - t0, "started" if started[name] else "running")

    def _ensure_pools(self, report: UpReport) -> None:
        started = time.monotonic()
        created = []
        for pool, kind in POOLS.items():
            template = json.loads(
                (self.layout.project / "deployments" / "pools" / f"{pool}.json").read_text()
            )
            body = {"name": pool, "type": kind, "base_job_template": template}
            try:
                self.api("POST", "/work_pools/", body)
                created.append(pool)
            except urllib.error.HTTPError as error:
                if error.code != 409:
                    detail = error.read().decode(errors="replace")
                    raise StackError(f"work pool {pool}: HTTP {error.code} {detail}") from None
                self.api("PATCH", f"/work_pools/{pool}", {"base_job_template": template})
        outcome = f"created {', '.join(created)}" if created else "up to date"
        report.add("work pools", time.monotonic() - started, outcome)

    def _deployed(self) -> bool:
        stamp = self.layout.deploy_stamp
        if not stamp.exists() or stamp.read_text().strip() != _digest(self.layout.project):
            return False
        names = _deployment_names(self.layout.project)
        found = self.api("POST", "/deployments/filter", {"deployments": {"name": {"any_": names}}})
        return {d["name"] for d in found} >= set(names)

    def deploy(self, report: UpReport, *, force: bool = False) -> None:
        """Register block types, apply automations, ``prefect deploy --all``.

        Skipped when the inputs are unchanged since the last successful run and every
        deployment of ``prefect.yaml`` is on the server (``force`` runs it anyway).
        """
        started = time.monotonic()
        if not force and self._deployed():
            report.add("deployments", time.monotonic() - started, "up to date")
            return
        digest = _digest(self.layout.project)
        steps = [[_bin("crucible"), "blocks", "register"]]
        if (self.layout.project / "deployments" / "automations.yaml").exists():
            steps.append([_bin("crucible"), "automations", "apply"])
        steps.append([_bin("prefect"), "--no-prompt", "deploy", "--all"])
        for argv in steps:
            self._run_logged("deploy", argv)
        self.layout.deploy_stamp.write_text(digest + "\n")
        count = len(_deployment_names(self.layout.project))
        report.add(
            "deployments",
            time.monotonic() - started,
            f"block types, automations, {count} deployments",
        )

    def _run_logged(self, log_name: str, argv: list[str]) -> None:
        """Run a client command against the stack, output appended to its log; raise on failure."""
        log = self.layout.log(log_name)
        with log.open("ab") as out:
            out.write(f"\n=== {time.strftime('%H:%M:%S')} {' '.join(argv[-3:])}\n".encode())
            out.flush()
            done = subprocess.run(
                argv,
                cwd=self.layout.project,
                # prefect.yaml's "{{ $PWD }}" reads the variable, not the working directory.
                env=self._process_env({**self.client_env(), "PWD": str(self.layout.project)}),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=900,
            )
        if done.returncode != 0:
            raise StackError(
                f"{' '.join(argv[-3:])} failed (rc {done.returncode}){processes.log_tail(log)}"
            )

    # ----- public commands -------------------------------------------------------------------

    def up(self, *, redeploy: bool = False) -> UpReport:
        """Bring every service up (idempotent) and deploy; see the module docstring.

        MLflow starts alongside the Prefect server and is waited for last, so its slow
        start overlaps the pools, the worker, the gateway and the deploy.
        """
        report = UpReport()
        self._prepare()
        self._save_ports(self.ports())
        self._start_postgres(report)
        started = {name: self._ensure_service(name) for name in ("prefect-server", "mlflow")}
        self._wait_healthy(["prefect-server"], report, started)
        self._write_env_file()
        self._ensure_pools(report)
        self._ensure_environment_block(report)
        names = ["worker-cpu", "gateway"] if gateway_available() else ["worker-cpu"]
        started.update({name: self._ensure_service(name) for name in names})
        if gateway_available():
            self._ensure_webhook_source(report)
        self.deploy(report, force=redeploy)
        self._wait_healthy(["mlflow", *names], report, started)
        return report

    def _ensure_environment_block(self, report: UpReport) -> None:
        """Save the ``crucible-environment`` block :data:`ENVIRONMENT_BLOCK` unless it exists."""
        started = time.monotonic()
        path = f"/block_types/slug/crucible-environment/block_documents/name/{ENVIRONMENT_BLOCK}"
        try:
            self.api("GET", path)
            report.add("environment", time.monotonic() - started, "up to date")
            return
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise StackError(f"environment block: HTTP {error.code} reading {path}") from None
        # The values travel in the environment (CRUCIBLE_*), never on the command line.
        script = (
            "import os\n"
            "from blocks.environment import CrucibleEnvironment\n"
            "CrucibleEnvironment(\n"
            "    home=os.environ['CRUCIBLE_HOME'],\n"
            "    campaign_store_url=os.environ['CRUCIBLE_CAMPAIGN_STORE_URL'],\n"
            "    optuna_storage_url=os.environ['CRUCIBLE_OPTUNA_STORAGE_URL'],\n"
            "    mlflow_tracking_uri=os.environ['CRUCIBLE_MLFLOW_TRACKING_URI'],\n"
            f").save({ENVIRONMENT_BLOCK!r}, overwrite=True)\n"
        )
        self._run_logged("deploy", [sys.executable, "-c", script])
        report.add("environment", time.monotonic() - started, f"saved block '{ENVIRONMENT_BLOCK}'")

    def _ensure_webhook_source(self, report: UpReport) -> None:
        """Create the ``lab`` webhook source unless it exists and its secret file is here."""
        started = time.monotonic()
        secret_file = self.layout.secret(f"webhook-{WEBHOOK_SOURCE}")
        block = f"/block_types/slug/secret/block_documents/name/crucible-webhook-{WEBHOOK_SOURCE}"
        try:
            self.api("GET", block)
            exists = True
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise StackError(f"webhook source: HTTP {error.code} reading {block}") from None
            exists = False
        if exists and secret_file.exists():
            report.add("webhook source", time.monotonic() - started, "up to date")
            return
        argv = [
            _bin("crucible"),
            "webhook",
            "add-source",
            WEBHOOK_SOURCE,
            "--events",
            ",".join(WEBHOOK_EVENTS),
        ]
        done = subprocess.run(
            [*argv, "--overwrite"] if exists else argv,
            cwd=self.layout.project,
            env=self._process_env(self.client_env()),
            capture_output=True,
            text=True,
            timeout=300,
        )
        secret = done.stdout.strip()
        if done.returncode != 0 or not secret.startswith("whsec_"):
            raise StackError(f"crucible webhook add-source failed: {done.stderr[-1500:]}")
        _write_private(secret_file, secret + "\n")
        report.add(
            "webhook source",
            time.monotonic() - started,
            f"{'rotated' if exists else 'created'} '{WEBHOOK_SOURCE}'",
        )

    def _write_env_file(self) -> None:
        lines = [f"export {key}={shlex.quote(value)}" for key, value in self.client_env().items()]
        _write_private(self.layout.env_file, "\n".join(lines) + "\n")

    def down(self) -> list[str]:
        """Stop the services this stack started (by pid file); return what was stopped."""
        stopped = []
        for name in SERVICES:
            started = time.monotonic()
            if self._stop(name):
                stopped.append(f"{name} ({time.monotonic() - started:.1f} s)")
        return stopped

    def _stop(self, name: str) -> bool:
        if name != "postgres":
            return processes.stop(self.layout.run, name)
        if self._running("postgres") is None:
            processes.pid_file(self.layout.run, "postgres").unlink(missing_ok=True)
            return False
        self.postgres().stop()
        processes.stop(self.layout.run, "postgres", grace_s=5)
        return True

    def status(self) -> list[dict[str, Any]]:
        """One row per service: running (pid), healthy, URL."""
        urls = self.urls()
        where = {
            "prefect-server": urls["prefect-ui"],
            "mlflow": urls["mlflow"],
            "gateway": urls["gateway"],
            "postgres": urls["postgres"],
            "worker-cpu": f"pool {CPU_POOL}",
        }
        rows = []
        for name in reversed(SERVICES):
            record = self._running(name)
            healthy = bool(record) and self._safe_health(name)
            rows.append(
                {
                    "service": name,
                    "pid": record.pid if record else None,
                    "healthy": healthy,
                    "where": where[name],
                    "log": str(self.layout.log(name)),
                }
            )
        return rows

    def _safe_health(self, name: str) -> bool:
        try:
            return self._health(name)()
        except (StackError, OSError, KeyError):
            return False
