"""SQLAlchemy storage of BO campaigns (SQLite by default, any SQLAlchemy URL works).

Three tables: ``crucible_campaigns``, ``crucible_trials`` and
``crucible_reference_points`` (the hypervolume reference point a multi-objective campaign
inferred once, see ``Campaign.reference_point``; a store made before it existed gains the
table when first opened). Every change is one
transaction that takes the campaign lock first and holds it until it commits:

* SQLite: write transactions start with ``BEGIN IMMEDIATE`` (the database write lock is
  taken up front, so two processes cannot interleave a read-modify-write); the file is in
  WAL mode with a busy timeout, so concurrent writers wait instead of failing, and
  read-only transactions (:func:`transaction` with ``write=False``) use a plain ``BEGIN``
  and never wait for a writer.
* PostgreSQL: the campaign row is locked with ``SELECT ... FOR UPDATE``
  (``Campaign._lock_campaign``); under READ COMMITTED every later read of the same
  transaction sees what the previous lock holder committed.

A process killed inside a transaction leaves nothing behind: SQLite rolls the journal
back, PostgreSQL aborts the transaction when the connection drops.
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
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from crucible.exceptions import InvalidInputError, MissingDependencyError, StorageError

__all__ = [
    "campaigns_table",
    "check_store_url",
    "metadata",
    "reference_points_table",
    "transaction",
    "trials_table",
]

#: What the error messages call the store URL (the argument, or the setting behind it).
STORE_URL_FIELD = "store_url (setting campaign_store_url, env CRUCIBLE_CAMPAIGN_STORE_URL)"
_URL_FIX = (
    "give a SQLAlchemy database URL such as sqlite:////abs/path/campaigns.db or "
    "postgresql+psycopg2://user@host:5432/dbname"
)
_READ_ONLY = "crucible_read_only"
#: How long a SQLite writer waits for the lock; ``suggest`` holds it while it fits the
#: model, so this is generous (a few queued suggestions of a large campaign).
_BUSY_TIMEOUT_S = 300


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

reference_points_table = Table(
    "crucible_reference_points",
    metadata,
    Column("campaign_id", Integer, ForeignKey("crucible_campaigns.id"), primary_key=True),
    Column("point", Text, nullable=False),
    Column("n_completed", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

_LOCK = threading.Lock()


def check_store_url(url: object) -> str:
    """Return ``url`` if it is a SQLAlchemy database URL, else raise.

    Raises:
        InvalidInputError: Not a string, empty, or not of the form ``dialect[+driver]://...``
            (the message names the setting and gives examples).
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidInputError(STORE_URL_FIELD, f"{url!r} is not a database URL", _URL_FIX)
    try:
        make_url(url)
    except ArgumentError:
        raise InvalidInputError(
            STORE_URL_FIELD, f"{url[:200]!r} is not a database URL", _URL_FIX
        ) from None
    return url


@functools.lru_cache(maxsize=32)
def engine_for(url: str) -> Engine:
    """A cached engine for ``url`` with the tables created (idempotent).

    Raises:
        InvalidInputError: ``url`` is not a database URL, or names an unknown dialect.
        MissingDependencyError: The database driver is not installed.
        StorageError: The database cannot be opened.
    """
    parsed = make_url(check_store_url(url))
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        try:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the folder of {url!r}: {exc}") from exc
    kwargs: dict[str, Any] = {"future": True}
    if is_sqlite:
        kwargs["connect_args"] = {"timeout": _BUSY_TIMEOUT_S, "check_same_thread": False}
    try:
        engine = create_engine(url, **kwargs)
    except NoSuchModuleError:
        raise InvalidInputError(
            STORE_URL_FIELD, f"{url[:200]!r} names an unknown database dialect", _URL_FIX
        ) from None
    except ImportError as exc:
        raise MissingDependencyError(exc.name or parsed.drivername, "postgres") from exc
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
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(_READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@contextmanager
def transaction(url: str, write: bool = True) -> Iterator[Connection]:
    """One committed transaction; database errors become :class:`StorageError`.

    Args:
        url: The store's SQLAlchemy URL.
        write: Whether the transaction may write. On SQLite a writing transaction takes
            the database write lock when it begins (``BEGIN IMMEDIATE``); a read-only one
            reads a consistent snapshot without waiting for writers.
    """
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            if not write:
                connection.execution_options(**{_READ_ONLY: True})
            with connection.begin():
                yield connection
    except SQLAlchemyError as exc:
        raise StorageError(f"campaign store {url!r} failed; nothing was written: {exc}") from exc
