"""``crucible webhook``: sign a body for curl, add a webhook source."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crucible.exceptions import InvalidInputError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``webhook`` command."""
    parser = sub.add_parser("webhook", help="sign webhook bodies; manage webhook sources")
    actions = parser.add_subparsers(dest="webhook_command", required=True)

    sign = actions.add_parser(
        "sign",
        help="print the Standard Webhooks headers for a body",
        description="Print webhook-id, webhook-timestamp and webhook-signature for the body "
        "(valid for 5 minutes), one 'name: value' line each, e.g. for curl -H.",
    )
    sign.add_argument("--secret", required=True, help="the source's whsec_... secret")
    sign.add_argument("--body", required=True, help="file with the exact body, or - for stdin")
    sign.add_argument("--id", default=None, help="webhook-id (default: a fresh msg_<uuid>)")
    sign.set_defaults(handler=_sign)

    add = actions.add_parser(
        "add-source",
        help="create a webhook source (a Prefect Secret block) and print its secret once",
    )
    add.add_argument("name", help="source name: POST /hooks/<name>")
    add.add_argument(
        "--events", required=True, help="comma-separated event names the source may send"
    )
    add.add_argument(
        "--overwrite", action="store_true", help="rotate the secret of an existing source"
    )
    add.set_defaults(handler=_add_source)


def _read_body(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    path = Path(name)
    if not path.is_file():
        raise InvalidInputError("--body", f"no file {name!r}", "give a file or - for stdin")
    return path.read_bytes()


def _sign(args: argparse.Namespace) -> int:
    from crucible.gateway.signing import sign

    try:
        headers = sign(args.secret, _read_body(args.body), webhook_id=args.id)
    except InvalidInputError as exc:
        print(exc, file=sys.stderr)
        return 2
    except Exception as exc:  # standardwebhooks: bad base64 or empty secret
        print(f"--secret: not a whsec_<base64> secret ({exc})", file=sys.stderr)
        return 2
    for name, value in headers.items():
        print(f"{name}: {value}")
    return 0


def _add_source(args: argparse.Namespace) -> int:
    from crucible.gateway.prefect_events import BLOCK_PREFIX, save_source

    events = [e.strip() for e in args.events.split(",") if e.strip()]
    try:
        secret = save_source(args.name, events, overwrite=args.overwrite)
    except InvalidInputError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(
        f"source {args.name!r} saved as Secret block {BLOCK_PREFIX}{args.name} "
        f"(events: {', '.join(events)}); its secret, shown only now:",
        file=sys.stderr,
    )
    print(secret)
    return 0
