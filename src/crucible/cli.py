"""The ``crucible`` command line: inspect the environment Crucible will use.

Flows are started with Prefect (``prefect deployment run``); this command answers the
question users ask first: "where will my campaigns, studies and runs be stored?".
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
from collections.abc import Sequence

from crucible.settings import get_settings

_PACKAGES = ("torch", "botorch", "optuna", "mlflow", "rdkit", "chemprop", "prefect")


def _installed_versions() -> dict[str, str]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def info() -> dict[str, object]:
    """Resolved settings (store URLs, folders) and installed engine versions."""
    settings = get_settings()
    return {
        "settings": json.loads(settings.model_dump_json()),
        "packages": _installed_versions(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crucible`` console script."""
    parser = argparse.ArgumentParser(prog="crucible", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print resolved settings and engine versions as JSON")
    args = parser.parse_args(argv)
    if args.command == "info":
        print(json.dumps(info(), indent=2))
    return 0
