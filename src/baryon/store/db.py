"""Database engine and transactions for SQLite (WAL, foreign keys) and PostgreSQL (psycopg 3).

Invariants: `write()` is one transaction that commits on success and rolls back on any exception; on
SQLite it starts with BEGIN IMMEDIATE so that writers queue on the database lock instead of failing
half-way; a new SQLite database file is created readable and writable by its owner only (0600, like the
secret key beside it; SQLite gives its -wal and -shm files the database file's mode); `read()` never
writes and runs its statements in autocommit mode (no BEGIN/ROLLBACK round trips; each statement sees
committed data). Both dialects are reached only through SQLAlchemy Core.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

_WRITE = "baryon_write"
#: Seconds a new PostgreSQL connection may take.
CONNECT_TIMEOUT = 10


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` as the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _create_private(path: str | None) -> None:
    """Create the SQLite database file with mode 0600 unless it exists (or is not a file)."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        _create_private(sa.engine.make_url(url).database)
        engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            if connection.get_execution_options().get(_WRITE, False):
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # No pre-ping (a round trip per checkout); connections that died are invalidated by SQLAlchemy on
    # the first error and recycled after an hour. A server that does not answer fails a connection after
    # CONNECT_TIMEOUT seconds (unless the URL sets connect_timeout) instead of never.
    connect_args = (
        {} if "connect_timeout" in sa.engine.make_url(url).query else {"connect_timeout": CONNECT_TIMEOUT}
    )
    return sa.create_engine(url, pool_size=10, max_overflow=20, pool_recycle=3600, connect_args=connect_args)


class Database:
    """The engine plus the two ways of using it."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._held = threading.local()
        self._read_engine = (
            self.engine if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    @contextmanager
    def read(self, *, hold: bool = False) -> Iterator[Connection]:
        """A read-only connection. With `hold`, the calling thread keeps one connection open between
        calls (for the event loop thread's inline reads; other threads use the pool)."""
        if not hold:
            with self._read_engine.connect() as connection:
                yield connection
            return
        held: Connection | None = getattr(self._held, "connection", None)
        if held is None or held.closed or held.invalidated:
            held = self._read_engine.connect()
            self._held.connection = held
        try:
            yield held
        except sa.exc.DBAPIError:
            self._held.connection = None
            held.close()
            raise
        if held.in_transaction():
            held.rollback()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            if self.is_sqlite:
                connection = connection.execution_options(**{_WRITE: True})
            with connection.begin():
                yield connection

    def dispose(self) -> None:
        held = getattr(self._held, "connection", None)
        if held is not None:
            held.close()
            self._held.connection = None
        self.engine.dispose()
