"""Databases for tests: a fresh SQLite file, or a fresh PostgreSQL database when a server is reachable.

Migrating takes longer than copying, so each session migrates once per database kind into a template —
a SQLite file, a PostgreSQL template database — and every test gets a copy (a file copy;
`CREATE DATABASE … TEMPLATE …`). A copy is indistinguishable from a database migrated by the test itself:
`upgrade` finds it at the newest revision and does nothing. Tests that migrate step by step ask for an
empty database instead.

Invariants: every test has a database of its own, named uniquely, so that parallel sessions on one
PostgreSQL server never meet; the templates are made from the migrations of the tree under test and
dropped at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from baryon.store.db import Database
from baryon.store.migrate import upgrade

PG_ADMIN_URL = os.environ.get("BARYON_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    url = sa.make_url(PG_ADMIN_URL)
    try:
        socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=1).close()
    except OSError:
        return False
    return True


def _postgres_url(name: str) -> str:
    return sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _admin() -> sa.Engine:
    return sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _drop(admin: sa.Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
        )
        # FORCE (PostgreSQL 13+) also ends sessions that connect between the terminate and the drop.
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def fresh_postgres(template: str | None = None) -> Iterator[str]:
    """Create a uniquely named database (a copy of `template`, or empty); yield its URL; drop it after."""
    admin = _admin()
    name = f"baryon_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield _postgres_url(name)
    finally:
        _drop(admin, name)
        admin.dispose()


class MigratedTemplates:
    """One migrated database per kind for a session, made on first use; `close` drops them."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sqlite: Path | None = None
        self._postgres: str | None = None

    def sqlite_copy(self, path: Path) -> None:
        """Make `path` a migrated SQLite database (owner-only, as Baryon creates its file)."""
        if self._sqlite is None:
            template = self._directory / "template.db"
            _migrate(f"sqlite:///{template}")
            with sqlite3.connect(template) as connection:  # fold the WAL into the file before copying it
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._sqlite = template
        shutil.copyfile(self._sqlite, path)
        path.chmod(0o600)

    def postgres_template(self) -> str:
        """The name of a migrated PostgreSQL database to copy (no session stays connected to it)."""
        if self._postgres is None:
            name = f"baryon_template_{uuid.uuid4().hex[:12]}"
            admin = _admin()
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            _migrate(_postgres_url(name))
            self._postgres = name
        return self._postgres

    def close(self) -> None:
        if self._postgres is not None:
            admin = _admin()
            _drop(admin, self._postgres)
            admin.dispose()
            self._postgres = None


def _migrate(url: str) -> None:
    database = Database(url)
    try:
        upgrade(database)
    finally:
        database.dispose()


#: For a test whose subject does not depend on the database (a provisioner's flow, the HTTP front door,
#: a CLI's output): run it on SQLite only. Store queries, leases, notifications and concurrency keep both.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
