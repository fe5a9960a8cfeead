"""The ``crucible`` command line.

Each command lives in its own module of this package with a ``register(sub)`` function that
adds its parser and sets ``handler`` (a function of the parsed arguments returning the exit
status). Add a command by writing such a module and naming it in :data:`_COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

# Modules of this package that define commands, in the order ``crucible --help`` lists them.
_COMMANDS = ("info", "gateway", "webhook", "blocks", "automations", "convert", "stack")


def build_parser() -> argparse.ArgumentParser:
    """The ``crucible`` parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="crucible",
        description="Crucible: closed-loop optimisation and molecular design on Prefect.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _COMMANDS:
        importlib.import_module(f"crucible.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crucible`` console script."""
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status
