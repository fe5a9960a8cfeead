"""``crucible blocks register``: register the project's Prefect block types.

``prefect block register -m blocks`` fails from a clean clone with "Unable to load blocks":
the ``prefect`` console script does not put the current folder on ``sys.path``, and the
project's ``blocks`` package (next to ``flows/`` and ``tasks/``) is not installed. This
command imports it from the project folder and registers every block class it exports.
(``PYTHONPATH=. prefect block register -m blocks`` and
``prefect block register -f blocks/environment.py`` work too.)
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``blocks`` command."""
    parser = sub.add_parser("blocks", help="Prefect block types of the project")
    actions = parser.add_subparsers(dest="blocks_command", required=True)
    reg = actions.add_parser(
        "register",
        help="register the block types of the project's blocks package with the Prefect API",
    )
    reg.add_argument(
        "--project",
        type=Path,
        default=Path.cwd(),
        help="project folder holding the blocks package (default: the current folder)",
    )
    reg.add_argument("--module", default="blocks", help="package defining the blocks")
    reg.set_defaults(handler=_register)


def _import_from(project: Path, module: str) -> ModuleType:
    folder = str(project.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(module)


def _register(args: argparse.Namespace) -> int:
    from prefect.blocks.core import Block

    try:
        module = _import_from(args.project, args.module)
    except ImportError as exc:
        print(
            f"--module: cannot import {args.module!r} from {args.project} ({exc}). Fix: run "
            "from the project root or pass --project <folder holding blocks/>",
            file=sys.stderr,
        )
        return 2
    classes = sorted(
        {
            value
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, Block) and value is not Block
        },
        key=lambda cls: cls.get_block_type_slug(),
    )
    if not classes:
        print(f"--module: {args.module!r} defines no block classes", file=sys.stderr)
        return 2
    for cls in classes:
        cls.register_type_and_schema()
        print(f"registered block type {cls.get_block_type_slug()} ({cls.__name__})")
    return 0
