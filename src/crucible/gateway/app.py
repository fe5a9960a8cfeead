"""The webhook gateway: signed HTTP webhooks in, Prefect events out.

``POST /hooks/{source}`` checks, in this order (the first failure answers):

1. body over :data:`MAX_BODY_BYTES` (``Content-Length`` and the bytes streamed) → 413;
2. unknown source → 404;
3. missing or bad Standard Webhooks signature, or timestamp more than 5 minutes away → 401
   (verified by the ``standardwebhooks`` package);
4. body not a ``{"type", "data"}`` envelope, event not allowed for the source, or ``data``
   failing the event's schema → 422 naming the field;
5. ``webhook-id`` already accepted from this source → 409;
6. otherwise the event is emitted and the answer is 202 with its id.

When the Prefect API cannot be reached, the answer is 503 (source lookup) or 502 (event
emission) and nothing is recorded, so the sender's retry with the same id is accepted.

The app knows Prefect only through two small interfaces, :class:`SourceLookup` (where
source secrets live) and :class:`EventSink` (where events go); the Prefect implementations
are in :mod:`crucible.gateway.prefect_events`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.concurrency import run_in_threadpool

from crucible.gateway.deliveries import WEBHOOK_ID_MAX_LENGTH, DeliveryLog
from crucible.gateway.payloads import PAYLOADS, WebhookBody

__all__ = [
    "MAX_BODY_BYTES",
    "AcceptedEvent",
    "EventSink",
    "SourceConfig",
    "SourceLookup",
    "create_app",
]

MAX_BODY_BYTES = 1024 * 1024
_EVENT_NAMESPACE = uuid.UUID("5b0c8f4e-2f59-4a61-9a57-0d3f4f1a3c11")
logger = logging.getLogger("crucible.gateway")


class SourceConfig(BaseModel):
    """One webhook source: its Standard Webhooks secret and the events it may send."""

    secret: SecretStr = Field(description="``whsec_<base64>`` signing secret.")
    events: list[str] = Field(min_length=1, description="Event names the source may send.")

    @field_validator("secret")
    @classmethod
    def _is_whsec(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("whsec_"):
            raise ValueError("the secret must start with 'whsec_'")
        return value

    @field_validator("events")
    @classmethod
    def _events_known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(PAYLOADS))
        if unknown:
            raise ValueError(f"unknown events {unknown}; use names from {sorted(PAYLOADS)}")
        return value


@dataclass(frozen=True)
class AcceptedEvent:
    """A verified, validated webhook, ready to become a Prefect event."""

    id: str
    event: str
    resource: dict[str, str]
    payload: dict[str, Any]
    related: list[dict[str, str]] = field(default_factory=list)


class SourceLookup(Protocol):
    """Where source configurations come from."""

    async def get(self, source: str) -> SourceConfig | None:
        """The source's configuration, or None when there is no such source."""
        ...


class EventSink(Protocol):
    """Where accepted events go."""

    async def emit(self, event: AcceptedEvent) -> None:
        """Deliver the event; raise when it could not be delivered."""
        ...


class _RefusedError(Exception):
    def __init__(self, status: int, detail: str, errors: list[dict[str, str]] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status)


async def _read_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _RefusedError(413, f"body is over the {MAX_BODY_BYTES}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _verify(config: SourceConfig, body: bytes, headers: dict[str, str]) -> str:
    webhook_id = headers.get("webhook-id", "")
    if len(webhook_id) > WEBHOOK_ID_MAX_LENGTH:
        raise _RefusedError(401, f"webhook-id is longer than {WEBHOOK_ID_MAX_LENGTH} characters")
    try:
        Webhook(config.secret.get_secret_value()).verify(body, headers, json_parse=False)
    except WebhookVerificationError as exc:
        raise _RefusedError(401, f"signature refused: {exc}") from None
    return webhook_id


def _field_errors(exc: ValidationError, prefix: str) -> list[dict[str, str]]:
    return [
        {
            "field": ".".join([prefix, *(str(p) for p in err["loc"])]).strip("."),
            "message": err["msg"].removeprefix("Value error, "),
        }
        for err in exc.errors()
    ]


def _validate(
    source: str, config: SourceConfig, body: bytes, data_root: Path
) -> tuple[str, str, dict[str, Any]]:
    """Event name, resource id and payload of a verified body (422 on any problem)."""
    try:
        envelope = WebhookBody.model_validate_json(body)
    except ValidationError as exc:
        errors = _field_errors(exc, "")
        raise _RefusedError(
            422, f"body is not a webhook envelope: {errors[0]['field']}", errors
        ) from None
    if envelope.type not in config.events:
        raise _RefusedError(
            422,
            f"type: event {envelope.type!r} is not allowed for source {source!r}",
            [{"field": "type", "message": f"allowed: {config.events}"}],
        )
    schema = PAYLOADS[envelope.type]
    try:
        payload = schema.model_validate(envelope.data, context={"data_root": data_root})
    except ValidationError as exc:
        errors = _field_errors(exc, "data")
        raise _RefusedError(422, f"{errors[0]['field']}: {errors[0]['message']}", errors) from None
    return envelope.type, payload.resource_id(), payload.model_dump(mode="json")


def create_app(
    sources: SourceLookup, sink: EventSink, deliveries: DeliveryLog, data_root: Path
) -> FastAPI:
    """The gateway application.

    Args:
        sources: Source configurations (secret and allowed events) by source name.
        sink: Where accepted events are emitted.
        deliveries: The replay log (webhook ids already accepted).
        data_root: Folder that ligand file paths in payloads are relative to.

    Returns:
        A FastAPI app with ``POST /hooks/{source}`` and ``GET /healthz``.
    """
    app = FastAPI(title="Crucible webhook gateway", docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/hooks/{source}", status_code=202)
    async def hook(source: str, request: Request) -> JSONResponse:
        try:
            return await _accept(source, request)
        except _RefusedError as refusal:
            logger.info("refused %s webhook: %d %s", source, refusal.status, refusal.detail)
            return refusal.response()

    async def _accept(source: str, request: Request) -> JSONResponse:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise _RefusedError(
                413, f"body of {declared} bytes is over the {MAX_BODY_BYTES}-byte limit"
            )
        try:
            config = await sources.get(source)
        except Exception as exc:  # the Prefect API is down or the block is malformed
            logger.error("cannot read source %s: %s", source, exc)
            raise _RefusedError(
                503, f"cannot read the source configuration ({exc}); retry"
            ) from exc
        if config is None:
            raise _RefusedError(404, f"unknown webhook source {source!r}")
        body = await _read_body(request)
        webhook_id = _verify(config, body, dict(request.headers))
        event, resource_id, payload = _validate(source, config, body, data_root)
        event_id = str(uuid.uuid5(_EVENT_NAMESPACE, f"{source}\n{webhook_id}"))
        claimed = await run_in_threadpool(deliveries.claim, source, webhook_id, event_id, event)
        if not claimed:
            raise _RefusedError(
                409, f"webhook-id {webhook_id!r} from {source!r} was accepted before"
            )
        accepted = AcceptedEvent(
            id=event_id,
            event=event,
            resource={
                "prefect.resource.id": resource_id,
                "crucible.webhook.source": source,
                "crucible.webhook.id": webhook_id,
            },
            payload=payload,
            related=[
                {
                    "prefect.resource.id": f"crucible.webhook.{source}",
                    "prefect.resource.role": "source",
                }
            ],
        )
        try:
            await sink.emit(accepted)
        except Exception as exc:
            await run_in_threadpool(deliveries.release, source, webhook_id)
            logger.error("could not emit %s for %s: %s", event, source, exc)
            raise _RefusedError(
                502, f"the event could not be emitted to Prefect ({exc}); retry"
            ) from exc
        logger.info("accepted %s from %s as event %s", event, source, event_id)
        return JSONResponse(
            {"event_id": event_id, "event": event, "resource": resource_id}, status_code=202
        )

    return app
