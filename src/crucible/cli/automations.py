"""``crucible automations apply``: create or update the project's Prefect automations.

The automations are declared in ``deployments/automations.yaml`` (the format
``prefect automation create --from-file`` reads, plus ``deployment: flow/name`` in an action,
resolved to its ``deployment_id``). ``apply`` is idempotent: an automation whose name
exists is updated in place, any other is created.
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


def _read(path: Path) -> list[dict[str, Any]]:
    """The raw automation entries of ``path``."""
    import yaml

    data = yaml.safe_load(path.read_text())
    items = data.get("automations") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: expected a non-empty 'automations' list")
    return items


async def _resolve_deployments(client: Any, items: list[dict[str, Any]]) -> list[Any]:
    """``AutomationCore`` objects, each action's ``deployment: flow/name`` made an id.

    Raises:
        ValueError: A named deployment does not exist (deploy first).
    """
    from prefect.events.schemas.automations import AutomationCore
    from prefect.exceptions import ObjectNotFound

    automations = []
    for item in items:
        for action in item.get("actions") or []:
            name = action.pop("deployment", None)
            if name is None:
                continue
            try:
                action["deployment_id"] = str((await client.read_deployment_by_name(name)).id)
            except ObjectNotFound:
                raise ValueError(
                    f"automation {item.get('name')!r}: deployment {name!r} does not exist. "
                    "Fix: run `prefect deploy --all` first"
                ) from None
        automations.append(AutomationCore.model_validate(item))
    return automations


async def apply_automations(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Create or update each automation by name.

    Args:
        items: Automation entries as in the YAML file.

    Returns:
        ``(name, "created" | "updated")`` per automation.
    """
    from prefect.client.orchestration import get_client

    done: list[tuple[str, str]] = []
    async with get_client() as client:
        for automation in await _resolve_deployments(client, items):
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
        applied = asyncio.run(apply_automations(_read(args.file)))
    except (ValueError, ValidationError) as exc:
        print(f"--file: {exc}", file=sys.stderr)
        return 2
    for name, what in applied:
        print(f"{what} automation {name}")
    return 0
