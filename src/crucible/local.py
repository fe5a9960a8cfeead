"""The local Prefect environment of ``crucible run``, ``crucible ui`` and ``make demo``.

``python -m flows.<stage>`` gets it too (``flows/__init__.py``); nothing here imports
Prefect, because the environment must be set before Prefect loads.

Flows run in Prefect's ephemeral mode (a temporary server per process) on one SQLite
database under ``<CRUCIBLE_HOME>/prefect`` (``.crucible/prefect`` in the checkout), with a
startup timeout long enough for the first migration on 2 cores, and analytics off. When
``crucible ui`` is serving that database, runs go to it instead, so they show up live and
no second process opens the SQLite file.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from collections.abc import MutableMapping
from pathlib import Path

from crucible.exceptions import CrucibleError
from crucible.settings import get_settings

#: First start of an ephemeral server on a fresh database migrates it: ~40 s on 2 cores.
STARTUP_TIMEOUT_S = "180"


def prefect_home() -> Path:
    """``<CRUCIBLE_HOME>/prefect``: the local Prefect database, logs and results."""
    return get_settings().home / "prefect"


def ui_file() -> Path:
    """Where ``crucible ui`` records the URL and pid of the server it runs."""
    return prefect_home() / "ui.json"


def apply_local_env(
    environ: MutableMapping[str, str] | None = None, *, use_running_ui: bool = True
) -> dict[str, str]:
    """Set the local Prefect environment where the caller has not set it already.

    Must run before Prefect is imported (it reads its settings then).

    Args:
        environ: The environment to complete (``os.environ`` by default).
        use_running_ui: Send runs to a ``crucible ui`` server of this database if one
            answers (``PREFECT_API_URL``).

    Returns:
        The variables this call set.
    """
    env = os.environ if environ is None else environ
    home = Path(env.get("PREFECT_HOME") or prefect_home())
    home.mkdir(parents=True, exist_ok=True)  # Prefect does not create missing parents
    wanted = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": STARTUP_TIMEOUT_S,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    api_url = running_ui_api_url() if use_running_ui else None
    if api_url:
        wanted["PREFECT_API_URL"] = api_url
    applied = {key: value for key, value in wanted.items() if not env.get(key)}
    env.update(applied)
    return applied


def running_ui_api_url() -> str | None:
    """The API URL of a ``crucible ui`` server on this database that answers, else None."""
    try:
        record = json.loads(ui_file().read_text())
        os.kill(int(record["pid"]), 0)
        url = str(record["api_url"])
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
            return url if answer.status == 200 else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def project_root() -> Path:
    """The checkout holding ``flows/`` (the current folder, else the installed source's).

    Raises:
        CrucibleError: Neither has a ``flows`` package.
    """
    import crucible

    candidates = [Path.cwd(), Path(crucible.__file__).resolve().parents[2]]
    for folder in candidates:
        if (folder / "flows" / "__init__.py").is_file():
            return folder
    raise CrucibleError(
        "no flows/ package here or next to the installed crucible; "
        "run this from the Crucible checkout (the folder with prefect.yaml)"
    )


def import_path_for_flows() -> Path:
    """Put the checkout on ``sys.path`` so ``flows`` and ``tasks`` import; return it."""
    root = project_root()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return root
