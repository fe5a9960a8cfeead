"""Webhook ids already accepted, kept in the campaign store's database.

The table ``crucible_webhook_deliveries`` (unique on source and ``webhook-id``) lives next to
the campaign tables, in SQLite or PostgreSQL, so a replayed delivery is refused after a
gateway restart and by every gateway process sharing the store.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    delete,
    insert,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from crucible.bo.store import engine_for
from crucible.exceptions import StorageError

__all__ = ["WEBHOOK_ID_MAX_LENGTH", "DeliveryLog", "deliveries_table"]

WEBHOOK_ID_MAX_LENGTH = 255

_metadata = MetaData()

deliveries_table = Table(
    "crucible_webhook_deliveries",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("webhook_id", String(WEBHOOK_ID_MAX_LENGTH), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event", String(200), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("source", "webhook_id", name="uq_webhook_delivery"),
)


@functools.lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    engine = engine_for(url)
    try:
        _metadata.create_all(engine)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot create the webhook table in {url!r}: {exc}") from exc
    return engine


class DeliveryLog:
    """Claim and release webhook ids in a SQLAlchemy database.

    Args:
        url: SQLAlchemy URL of the store (the campaign store's URL).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = _engine(url)

    def claim(self, source: str, webhook_id: str, event_id: str, event: str) -> bool:
        """Record a delivery; False when ``(source, webhook_id)`` was recorded before."""
        row = {
            "source": source,
            "webhook_id": webhook_id,
            "event_id": event_id,
            "event": event,
            "received_at": datetime.now(UTC),
        }
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(deliveries_table).values(**row))
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:
            raise StorageError(f"webhook store {self.url!r} failed: {exc}") from exc
        return True

    def release(self, source: str, webhook_id: str) -> None:
        """Forget a delivery (its event could not be emitted, so the sender may retry)."""
        table = deliveries_table
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    delete(table).where(
                        (table.c.source == source) & (table.c.webhook_id == webhook_id)
                    )
                )
        except SQLAlchemyError as exc:
            raise StorageError(f"webhook store {self.url!r} failed: {exc}") from exc
