"""``crucible info``: where campaigns, studies and runs will be stored, and engine versions."""

from __future__ import annotations

import argparse
import importlib.metadata
import json

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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``info`` command."""
    parser = sub.add_parser("info", help="print resolved settings and engine versions as JSON")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    print(json.dumps(info(), indent=2))
    return 0
