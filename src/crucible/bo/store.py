"""SQLAlchemy storage of BO campaigns (SQLite by default, any SQLAlchemy URL works).

Two tables, ``crucible_campaigns`` and ``crucible_trials``. Every write is one short
transaction. On SQLite, transactions start with ``BEGIN IMMEDIATE`` (the database write
lock is taken up front, so two processes cannot interleave a read-modify-write) and the
file is in WAL mode with a busy timeout, so concurrent writers wait instead of failing.
On PostgreSQL the campaign row is locked with ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from crucible.exceptions import StorageError

__all__ = ["campaigns_table", "metadata", "transaction", "trials_table"]

metadata = MetaData()

campaigns_table = Table(
    "crucible_campaigns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), unique=True, nullable=False),
    Column("config", Text, nullable=False),
    Column("model_state", LargeBinary, nullable=True),
    Column("n_batches", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

trials_table = Table(
    "crucible_trials",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, ForeignKey("crucible_campaigns.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("batch", Integer, nullable=False),
    Column("params", Text, nullable=False),
    Column("metrics", Text, nullable=True),
    Column("reason", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("campaign_id", "number", name="uq_trial_number"),
)

_LOCK = threading.Lock()


@functools.lru_cache(maxsize=32)
def engine_for(url: str) -> Engine:
    """A cached engine for ``url`` with the tables created (idempotent)."""
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"future": True}
    if is_sqlite:
        kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
    engine = create_engine(url, **kwargs)
    if is_sqlite:
        _make_sqlite_transactions_immediate(engine)
    with _LOCK:
        try:
            metadata.create_all(engine)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot open the campaign store {url!r}: {exc}") from exc
    return engine


def _make_sqlite_transactions_immediate(engine: Engine) -> None:
    """SQLAlchemy's recipe: let SQLAlchemy emit BEGIN, and make it BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def transaction(url: str) -> Iterator[Connection]:
    """One committed transaction; database errors become :class:`StorageError`."""
    engine = engine_for(url)
    try:
        with engine.begin() as connection:
            yield connection
    except SQLAlchemyError as exc:
        raise StorageError(f"campaign store {url!r} failed; nothing was written: {exc}") from exc
