"""The ``crucible`` command line.

Each command lives in its own module of this package with a ``register(sub)`` function that
adds its parser and sets ``handler`` (a function of the parsed arguments returning the exit
status). Add a command by writing such a module and naming it in :data:`_COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules of this package that define commands, in the order ``crucible --help`` lists them.
_COMMANDS = (
    "info",
    "run",
    "results",
    "ui",
    "gateway",
    "webhook",
    "blocks",
    "automations",
    "convert",
    "stack",
)


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
    """Entry point of the ``crucible`` console script.

    A :class:`~crucible.exceptions.CrucibleError` (a bad setting, input or file) is printed
    as one line on stderr with exit status 2, not as a traceback.
    """
    from crucible.exceptions import CrucibleError

    args = build_parser().parse_args(argv)
    try:
        status: int = args.handler(args)
    except CrucibleError as exc:
        print(f"crucible {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return status
