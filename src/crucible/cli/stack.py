"""``crucible stack up|down|status|env``: the local stack behind ``make up`` / ``make down``.

See :mod:`crucible.ops.stack` for what runs where.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from crucible.exceptions import CrucibleError
from crucible.ops.stack import DEFAULT_PORTS, Stack, StackLayout, free_port


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``stack`` command and its sub-commands."""
    parser = sub.add_parser(
        "stack",
        help="run the local stack (PostgreSQL, Prefect server, MLflow, worker, gateway)",
        description="Local stack as processes on 127.0.0.1; files under .crucible/stack.",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start what is not running, deploy, print the URLs")
    _add_layout_options(up)
    for key, port in DEFAULT_PORTS.items():
        up.add_argument(f"--{key}-port", type=int, default=None, help=f"default {port}")
    up.add_argument(
        "--free-ports", action="store_true", help="pick free ports (first up only; then kept)"
    )
    up.add_argument("--redeploy", action="store_true", help="run prefect deploy --all anyway")
    up.set_defaults(handler=_up)
    for name, handler, text in (
        ("down", _down, "stop what 'up' started (by pid file); data is kept"),
        ("status", _status, "each service: pid, health, URL, log"),
        ("env", _env, "print the client settings as export lines (eval them in a shell)"),
        ("secrets", _secrets, "only generate the credentials (for docker/compose.yaml)"),
    ):
        action = actions.add_parser(name, help=text)
        _add_layout_options(action)
        action.set_defaults(handler=handler)


def _add_layout_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project", type=Path, default=Path.cwd(), help="repository root (prefect.yaml)"
    )
    parser.add_argument(
        "--root", type=Path, default=None, help="default <project>/.crucible/stack"
    )
    parser.add_argument("--home", type=Path, default=None, help="CRUCIBLE_HOME of the flows")


def _stack(args: argparse.Namespace, ports: dict[str, int] | None = None) -> Stack:
    layout = StackLayout.default(args.project)
    layout = StackLayout(
        project=layout.project,
        root=(args.root or layout.root).resolve(),
        home=(args.home or layout.home).resolve(),
    )
    return Stack(layout, ports)


def _requested_ports(args: argparse.Namespace, stack: Stack) -> dict[str, int]:
    ports = {key: getattr(args, f"{key}_port") for key in DEFAULT_PORTS}
    requested = {key: port for key, port in ports.items() if port is not None}
    if args.free_ports and not stack.layout.state_file.exists():
        requested = {key: requested.get(key) or free_port() for key in DEFAULT_PORTS}
    return requested


def _up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    stack = _stack(args)
    stack = Stack(stack.layout, _requested_ports(args, stack))
    print(f"crucible stack up ({stack.layout.root})", flush=True)
    try:
        stack.up(redeploy=args.redeploy)
    except CrucibleError as error:
        print(f"error: {error}")
        return 1
    print(f"stack up in {time.monotonic() - started:.1f} s")
    _print_where(stack)
    return 0


def _print_where(stack: Stack) -> None:
    urls = stack.urls()
    layout = stack.layout
    print(
        f"\n  Prefect UI   {urls['prefect-ui']}  (log in with the auth string below)\n"
        f"  Prefect API  {urls['prefect-api']}\n"
        f"  MLflow       {urls['mlflow']}\n"
        f"  Gateway      {urls['gateway']}/hooks/<source>\n"
        f"  PostgreSQL   {urls['postgres']}  (user crucible)\n\n"
        f"  Credentials  {layout.secrets}/ (prefect-auth-string, postgres-password, webhook "
        "secrets; mode 0600)\n"
        f"  Client env   . {layout.env_file}   (PREFECT_API_URL, PREFECT_API_AUTH_STRING, "
        "store URLs)\n"
        f"  Logs         {layout.logs}/\n"
        "  Stop         make down"
    )


def _down(args: argparse.Namespace) -> int:
    stack = _stack(args)
    stopped = stack.down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _status(args: argparse.Namespace) -> int:
    stack = _stack(args)
    rows = stack.status()
    for row in rows:
        state = "healthy" if row["healthy"] else ("running" if row["pid"] else "stopped")
        pid = row["pid"] or "-"
        print(f"{row['service']:<15} {state:<8} pid {pid!s:<8} {row['where']}")
    print(f"logs: {stack.layout.logs}/  credentials: {stack.layout.secrets}/")
    return 0


def _env(args: argparse.Namespace) -> int:
    stack = _stack(args)
    if not stack.layout.env_file.exists():
        print(json.dumps({"error": "no stack here yet: run make up"}))
        return 1
    print(stack.layout.env_file.read_text(), end="")
    return 0


def _secrets(args: argparse.Namespace) -> int:
    folder = _stack(args).ensure_secrets()
    print(f"credentials in {folder}/ (postgres-password, prefect-auth-string; mode 0600)")
    return 0
