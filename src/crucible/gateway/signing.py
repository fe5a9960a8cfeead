"""Signing webhook bodies the Standard Webhooks way (for senders, tests and the CLI)."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

__all__ = ["new_secret", "sign"]


def new_secret() -> str:
    """A fresh ``whsec_<base64 of 32 random bytes>`` signing secret."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(
    secret: str, body: bytes, webhook_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    """Standard Webhooks headers for ``body``.

    Args:
        secret: The source's ``whsec_...`` secret.
        body: The exact bytes that will be sent.
        webhook_id: Message id; a fresh ``msg_<uuid>`` when None.
        at: Signing time; now when None.

    Returns:
        ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers.
    """
    when = at or datetime.now(UTC)
    msg_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id=msg_id, timestamp=when, data=body),
    }
