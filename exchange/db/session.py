"""Engines, transactions and migrations for SQLite and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL`` (an acknowledged commit
survives power loss) and every write transaction starts with
``BEGIN IMMEDIATE``, so writers are serialized by the database and never
deadlock on a lock upgrade. Within one process they also queue on a lock of
their own first: SQLite's busy handler sleeps in steps of up to 100 ms, so
threads polling for its write lock would idle while it is free. PostgreSQL
serializes what must be serialized with row locks (``SELECT … FOR UPDATE``)
taken by the stores.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import NullPool

from exchange.settings import HubSettings

__all__ = ["make_engine", "migrate", "read_transaction", "write_transaction"]

_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x7E_4D_2E_01  # pg_advisory_xact_lock key: one migrator at a time
_WAL_ATTEMPTS = 200
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


def _prepare_home(settings: HubSettings) -> None:
    """Create ``home`` and the SQLite file readable by the owner only."""
    if settings.is_sqlite and settings.database_url is None:
        settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(settings.home, 0o700)
        database = settings.home / "exchange.db"
        if not database.exists():
            os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))


def make_engine(settings: HubSettings, *, pooled: bool = True) -> Engine:
    """Create the engine for ``settings`` (creating ``home`` for SQLite)."""
    _prepare_home(settings)
    url = settings.sqlalchemy_url()
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size * 2,
        )
        _configure_sqlite(engine)
        _SQLITE_WRITERS[engine] = threading.RLock()
        return engine
    kwargs: dict[str, Any] = (
        {"pool_size": settings.db_pool_size, "max_overflow": settings.db_pool_size * 2}
        if pooled
        else {"poolclass": NullPool}
    )
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _enable_wal(cursor: Any) -> None:
    """Switch the database to WAL (once per database; a no-op afterwards).

    Switching needs a moment of exclusive access, for which SQLite does not
    wait on its busy handler: processes opening a fresh database together
    retry briefly instead of failing.
    """
    for attempt in range(_WAL_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == _WAL_ATTEMPTS - 1:
                raise
            time.sleep(0.05)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver: we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """Open a connection in a write transaction that commits on success.

    On SQLite the transaction is ``BEGIN IMMEDIATE``: it holds the database's
    write lock from its first statement, so concurrent writers queue (those of
    this process on a lock of the engine's, without polling).
    """
    writers = _SQLITE_WRITERS.get(engine)
    if writers is not None:
        with writers, _write(engine) as connection:
            yield connection
    else:
        with _write(engine) as connection:
            yield connection


@contextmanager
def _write(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        connection.execution_options(immediate=True)
        with connection.begin():
            yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """Open a connection in a read transaction (one consistent snapshot)."""
    with engine.connect() as connection, connection.begin():
        yield connection


def migrate(engine: Engine) -> None:
    """Apply every pending Alembic migration; safe to call from many processes at once."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
