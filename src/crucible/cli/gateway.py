"""``crucible gateway serve``: run the webhook gateway (FastAPI under uvicorn)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``gateway`` command."""
    parser = sub.add_parser("gateway", help="the webhook gateway (signed webhooks -> events)")
    actions = parser.add_subparsers(dest="gateway_command", required=True)
    serve = actions.add_parser(
        "serve",
        help="serve POST /hooks/{source} and GET /healthz",
        description="Serve the webhook gateway. Sources are Prefect Secret blocks "
        "(crucible webhook add-source); events go to PREFECT_API_URL "
        "(with PREFECT_API_AUTH_STRING when the server requires it).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8787, help="port to listen on")
    serve.add_argument(
        "--store-url",
        default=None,
        help="SQLAlchemy URL of the replay log (default: the campaign store URL)",
    )
    serve.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="folder ligand paths in payloads are relative to (default: CRUCIBLE_DATA_ROOT "
        "or <CRUCIBLE_HOME>/data)",
    )
    serve.add_argument(
        "--environment-block",
        default=None,
        help="crucible-environment block giving the campaign store URL and home "
        "(default: $CRUCIBLE_ENVIRONMENT_BLOCK)",
    )
    serve.add_argument("--log-level", default="info", help="uvicorn log level")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from crucible.exceptions import ConfigurationError
    from crucible.gateway.prefect_events import build_app

    try:
        app = build_app(
            store_url=args.store_url,
            data_root=args.data_root,
            environment_block=args.environment_block,
        )
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
