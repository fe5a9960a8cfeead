"""``crucible ui``: the Prefect UI on the local database that ``crucible run`` writes.

Starts ``prefect server start`` on 127.0.0.1 with ``PREFECT_HOME`` under ``.crucible``
(:mod:`crucible.local`) and the UI's API URL on the same host and port, records it in
``.crucible/prefect/ui.json`` (``crucible run`` then sends its runs there, so they show up
live) and stops the server on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from crucible.local import apply_local_env, ui_file

DEFAULT_PORT = 4200


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``ui`` command."""
    parser = sub.add_parser(
        "ui",
        help="start the Prefect UI on the local database (127.0.0.1)",
        description="Prefect server + UI on the database `crucible run` and `make demo` use.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default 4200")
    parser.set_defaults(handler=_run)


def server_env(port: int) -> dict[str, str]:
    """The server's environment: the local database, URLs on 127.0.0.1:``port``."""
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)  # the server serves this database, not another one
    apply_local_env(env)
    env.pop("PREFECT_API_URL", None)  # set again if an older `crucible ui` still answers
    api_url = f"http://127.0.0.1:{port}/api"
    env.update(
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(port),
        PREFECT_UI_API_URL=api_url,
        PREFECT_UI_URL=f"http://127.0.0.1:{port}",
    )
    return env


def _prefect_executable() -> str:
    candidate = Path(sys.executable).with_name("prefect")
    return str(candidate) if candidate.is_file() else "prefect"


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _run(args: argparse.Namespace) -> int:
    env = server_env(args.port)
    api_url = env["PREFECT_UI_API_URL"]
    command = [_prefect_executable(), "server", "start", "--host", "127.0.0.1"]
    command += ["--port", str(args.port)]
    print(f"starting the Prefect UI on {env['PREFECT_HOME']} (up to a minute)...", flush=True)
    server = subprocess.Popen(command, env=env)
    record = ui_file()
    try:
        while not _healthy(api_url):
            if server.poll() is not None:
                print(f"crucible ui: the server exited ({server.returncode})", file=sys.stderr)
                return 1
            time.sleep(1)
        record.write_text(json.dumps({"pid": server.pid, "api_url": api_url}))
        print(
            f"Prefect UI: {env['PREFECT_UI_URL']} (API {api_url}); `crucible run` sends its "
            "runs here while this runs. Ctrl-C stops it.",
            flush=True,
        )
        return server.wait()
    except KeyboardInterrupt:
        server.send_signal(signal.SIGTERM)
        return server.wait(timeout=30)
    finally:
        record.unlink(missing_ok=True)
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)
