"""The gateway's Prefect side: sources in Secret blocks, events to the Prefect API.

* A source ``NAME`` is the Secret block ``crucible-webhook-NAME`` whose value is the JSON
  ``{"secret": "whsec_...", "events": ["crucible.ligands.ready", ...]}``
  (:func:`save_source` writes one; ``crucible webhook add-source`` calls it).
* Events are POSTed to ``<PREFECT_API_URL>/events`` with Prefect's own client, so
  ``PREFECT_API_AUTH_STRING`` (or a Cloud API key) is sent when it is set.

This is the only gateway module that imports Prefect.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.events import Event
from pydantic import ValidationError

from crucible.exceptions import ConfigurationError, InvalidInputError
from crucible.gateway.app import AcceptedEvent, SourceConfig, create_app
from crucible.gateway.deliveries import DeliveryLog
from crucible.gateway.signing import new_secret
from crucible.settings import CrucibleSettings, get_settings

__all__ = [
    "BLOCK_PREFIX",
    "PrefectEventSink",
    "SecretBlockSources",
    "build_app",
    "check_source_name",
    "save_source",
]

BLOCK_PREFIX = "crucible-webhook-"
_SOURCE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$")


def check_source_name(name: str) -> str:
    """Return ``name`` if it can name a source (and so a Prefect block), else raise.

    Raises:
        InvalidInputError: Not 1-48 lowercase letters, digits or inner dashes.
    """
    if not _SOURCE_NAME.match(name):
        raise InvalidInputError(
            "source",
            f"{name[:60]!r} cannot name a webhook source",
            "use 1-48 lowercase letters, digits or dashes, starting and ending with a "
            "letter or digit (it becomes the block name crucible-webhook-<source>)",
        )
    return name


class SecretBlockSources:
    """Source configurations read from ``crucible-webhook-<source>`` Secret blocks."""

    async def get(self, source: str) -> SourceConfig | None:
        """The source's configuration; None when the name is invalid or no block exists."""
        if not _SOURCE_NAME.match(source):
            return None
        try:
            block = await Secret.aload(BLOCK_PREFIX + source)
        except ValueError:  # "Unable to find block document named ..."
            return None
        value = cast("Secret[Any]", block).get()
        try:
            return SourceConfig.model_validate(
                json.loads(value) if isinstance(value, str) else value
            )
        except (ValidationError, json.JSONDecodeError) as exc:
            raise RuntimeError(
                f"Secret block {BLOCK_PREFIX}{source} is not a webhook source "
                f"(expected JSON with 'secret' and 'events'): {exc}"
            ) from None


class PrefectEventSink:
    """Emit events with ``POST /api/events`` (a 2xx answer means the server has them)."""

    async def emit(self, event: AcceptedEvent) -> None:
        """Send one event to the Prefect API; raise on any HTTP or connection error."""
        prefect_event = Event(
            id=event.id,
            occurred=datetime.now(UTC),
            event=event.event,
            resource=event.resource,
            related=event.related,
            payload=event.payload,
        )
        async with get_client() as client:
            response = await client.request(
                "POST", "/events", json=[prefect_event.model_dump(mode="json")]
            )
            response.raise_for_status()


def save_source(name: str, events: list[str], overwrite: bool = False) -> str:
    """Create (or with ``overwrite`` rotate) a source; returns its new secret.

    Args:
        name: Source name (the URL path ``/hooks/<name>``).
        events: Event names the source may send.
        overwrite: Replace an existing source's secret and events.

    Returns:
        The new ``whsec_...`` secret (shown once; only the block keeps it).

    Raises:
        InvalidInputError: Bad name, unknown events, or the source exists without overwrite.
    """
    check_source_name(name)
    secret = new_secret()
    try:
        config = SourceConfig.model_validate({"secret": secret, "events": events})
    except ValidationError as exc:
        raise InvalidInputError(
            "events",
            exc.errors()[0]["msg"].removeprefix("Value error, "),
            "name events the gateway knows",
        ) from None
    value = json.dumps({"secret": secret, "events": config.events})
    try:
        Secret(value=value).save(BLOCK_PREFIX + name, overwrite=overwrite)
    except ValueError as exc:
        raise InvalidInputError(
            "source", f"source {name!r} exists ({exc})", "pass --overwrite to rotate its secret"
        ) from None
    return secret


ENVIRONMENT_BLOCK_VARIABLE = "CRUCIBLE_ENVIRONMENT_BLOCK"


async def environment_block_values(name: str) -> dict[str, Any]:
    """The fields of the ``crucible-environment`` block ``name``, secrets revealed.

    Read as a block document, so the gateway needs no import of the project's ``blocks``.

    Raises:
        ConfigurationError: No such block on the Prefect server.
    """
    from prefect.exceptions import ObjectNotFound

    async with get_client() as client:
        try:
            document = await client.read_block_document_by_name(
                name, block_type_slug="crucible-environment", include_secrets=True
            )
        except ObjectNotFound:
            raise ConfigurationError(
                f"{ENVIRONMENT_BLOCK_VARIABLE}={name!r}: no crucible-environment block of that "
                "name. Fix: save one (blocks/environment.py) or unset the variable"
            ) from None
    return {key: value for key, value in document.data.items() if value not in (None, "")}


def gateway_settings(environment_block: str | None = None) -> CrucibleSettings:
    """Crucible settings for the gateway.

    ``home`` and ``campaign_store_url`` come from the ``crucible-environment`` block when one
    is named (the argument, else ``$CRUCIBLE_ENVIRONMENT_BLOCK``).
    """
    name = environment_block or os.environ.get(ENVIRONMENT_BLOCK_VARIABLE, "")
    if not name:
        return get_settings()
    values = asyncio.run(environment_block_values(name))
    overrides = {key: values[key] for key in ("home", "campaign_store_url") if key in values}
    return get_settings(**overrides)


def build_app(
    store_url: str | None = None,
    data_root: Path | None = None,
    environment_block: str | None = None,
) -> FastAPI:
    """The gateway wired to Prefect: Secret-block sources, events to the Prefect API.

    Args:
        store_url: SQLAlchemy URL for the replay log; the campaign store URL when None.
        data_root: Root of ligand files named in payloads; ``settings.data_root`` when None.
        environment_block: ``crucible-environment`` block to take the campaign store URL and
            home from; ``$CRUCIBLE_ENVIRONMENT_BLOCK`` when None, none when that is unset.
    """
    settings = gateway_settings(environment_block)
    root = data_root or settings.data_root
    assert root is not None
    return create_app(
        SecretBlockSources(),
        PrefectEventSink(),
        DeliveryLog(store_url or settings.campaign_store_url),
        Path(root),
    )
