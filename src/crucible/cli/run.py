"""``crucible run <stage> [--preset NAME] [--set key=value ...]``: run any flow locally.

The same environment as ``make demo`` (:mod:`crucible.local`): Prefect's local database
under ``.crucible/prefect``, a long enough startup timeout, analytics off. Overrides are
checked before anything starts: an unknown key names itself and the valid keys at that
level, a bad value names the field. ``--show`` prints the resolved config and stops.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any

from crucible.exceptions import CrucibleError

#: Stage name → ``module:flow`` (each module defines ``PRESETS``).
STAGES = {
    "ligand-data": "flows.ligand_data_flow:ligand_data",
    "activity-model": "flows.activity_model_flow:activity_model",
    "prior": "flows.prior_flow:prior",
    "transfer-learning": "flows.transfer_learning_flow:transfer_learning",
    "reinforcement": "flows.reinforcement_flow:reinforcement",
    "molecular-design": "flows.molecular_design_flow:molecular_design",
    "train": "flows.training_flow:train",
    "hpo": "flows.hpo_flow:hpo",
    "bo-campaign": "flows.bo_campaign_flow:bo_campaign",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``run`` command."""
    parser = sub.add_parser(
        "run",
        help="run a flow locally with a preset and key=value overrides",
        description=(
            "Run a flow in this checkout with the same Prefect environment as `make demo`. "
            "Overrides apply on top of the preset; everything else keeps the preset's value. "
            "Example: crucible run molecular-design --preset demo --set rl_steps=20"
        ),
    )
    parser.add_argument("stage", choices=sorted(STAGES), help="the flow to run")
    parser.add_argument("--preset", default="default", help="named preset (default: default)")
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, dotted for nested ones (tl.epochs=3); JSON values parse",
    )
    parser.add_argument(
        "--show", action="store_true", help="print the resolved config and presets; run nothing"
    )
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    parser.set_defaults(handler=_run)


def load_stage(stage: str) -> tuple[Any, Any]:
    """The flow object and its ``PRESETS`` registry (the checkout must be importable)."""
    from crucible.local import import_path_for_flows

    import_path_for_flows()
    module_name, _, flow_name = STAGES[stage].partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, flow_name), module.PRESETS


def _run(args: argparse.Namespace) -> int:
    from crucible.local import apply_local_env
    from crucible.presets import parse_assignments

    applied = apply_local_env()
    try:
        overrides = parse_assignments(args.assignments)
        flow, presets = load_stage(args.stage)
        config = presets.resolve(args.preset, overrides)
    except CrucibleError as error:
        print(f"crucible run {args.stage}: {error}", file=sys.stderr)
        return 2
    if args.show:
        print(
            json.dumps(
                {"presets": list(presets.names), "config": config.model_dump(mode="json")},
                indent=2,
            )
        )
        return 0
    _announce(args, applied)
    # The config is resolved here, so every --set value applies as given; the flow's own
    # resolution (preset "default" + what differs from it) then keeps it unchanged.
    result = flow(preset="default", config=config)
    print(_as_text(result, args.json))
    if args.stage == "molecular-design":
        print(f"summary and files to open: crucible results {config.name}")
    return 0


def _announce(args: argparse.Namespace, applied: dict[str, str]) -> None:
    import os

    where = os.environ.get("PREFECT_API_URL") or (
        f"local database {os.environ['PREFECT_HOME']} (a temporary server starts first: "
        "up to a minute on a fresh database; `crucible ui` shows the runs afterwards)"
    )
    changed = ", ".join(args.assignments) or "no overrides"
    print(f"crucible run {args.stage} --preset {args.preset} ({changed}) on {where}", flush=True)


def _as_text(result: Any, everything: bool) -> str:
    """The flow's result: its top-level figures and paths, or all of it as JSON."""
    from pydantic import BaseModel

    data = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    if everything or not isinstance(data, dict):
        return json.dumps(data, indent=2, default=str)
    rows = {key: value for key, value in data.items() if not isinstance(value, dict | list)}
    width = max((len(key) for key in rows), default=0)
    lines = [f"  {key:<{width}}  {value}" for key, value in rows.items()]
    left_out = len(data) - len(rows)
    if left_out:
        lines.append(f"  ({left_out} nested fields left out: --json prints everything)")
    return "\n".join(["result:", *lines])
