"""``crucible automations apply``: create or update the project's Prefect automations.

The automations are declared in ``deployments/automations.yaml`` (the format
``prefect automation create --from-file`` reads). ``apply`` is idempotent: an automation
whose name exists is updated in place, any other is created.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

DEFAULT_FILE = Path("deployments") / "automations.yaml"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``automations`` command."""
    parser = sub.add_parser("automations", help="the project's Prefect automations")
    actions = parser.add_subparsers(dest="automations_command", required=True)
    apply = actions.add_parser(
        "apply", help="create or update (by name) every automation in the file"
    )
    apply.add_argument(
        "--file",
        type=Path,
        default=DEFAULT_FILE,
        help=f"YAML file with an 'automations' list (default: {DEFAULT_FILE})",
    )
    apply.set_defaults(handler=_apply)


def _load(path: Path) -> list[Any]:
    """The validated automations of ``path`` (``AutomationCore`` objects)."""
    import yaml
    from prefect.events.schemas.automations import AutomationCore

    data = yaml.safe_load(path.read_text())
    items = data.get("automations") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: expected a non-empty 'automations' list")
    return [AutomationCore.model_validate(item) for item in items]


async def apply_automations(automations: list[Any]) -> list[tuple[str, str]]:
    """Create or update each automation by name.

    Returns:
        ``(name, "created" | "updated")`` per automation.
    """
    from prefect.client.orchestration import get_client

    done: list[tuple[str, str]] = []
    async with get_client() as client:
        for automation in automations:
            existing = await client.read_automations_by_name(automation.name)
            if existing:
                await client.update_automation(existing[0].id, automation)
                for duplicate in existing[1:]:
                    await client.delete_automation(duplicate.id)
                done.append((automation.name, "updated"))
            else:
                await client.create_automation(automation)
                done.append((automation.name, "created"))
    return done


def _apply(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    if not args.file.is_file():
        print(f"--file: no file {args.file}. Fix: run from the project root", file=sys.stderr)
        return 2
    try:
        automations = _load(args.file)
    except (ValueError, ValidationError) as exc:
        print(f"--file: {exc}", file=sys.stderr)
        return 2
    for name, what in asyncio.run(apply_automations(automations)):
        print(f"{what} automation {name}")
    return 0
