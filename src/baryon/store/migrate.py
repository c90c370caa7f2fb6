"""Apply Alembic migrations, serialised across processes.

Invariants: at most one process migrates a database at a time (a PostgreSQL advisory lock, or a lock
file beside the SQLite database); upgrading an up-to-date database is a no-op, and one already at `HEAD`
is recognised by one query, without loading Alembic or the migration scripts (a test keeps `HEAD` equal to
the scripts' head).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from baryon.store.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest migration's revision.
HEAD = "0017"
_LOCK_ID = 0x6261_7279_6F6E  # "baryon"


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


@contextmanager
def _sqlite_lock(database: Database) -> Iterator[None]:
    path = database.engine.url.database
    if not path or path == ":memory:":
        yield
        return
    with os.fdopen(os.open(f"{path}.migrate-lock", os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _recorded_revision(database: Database) -> str | None:
    """The revision in `alembic_version`; None when there is none (or no such table)."""
    try:
        with database.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT version_num FROM alembic_version")).fetchall()
    except sa.exc.DBAPIError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def upgrade(database: Database, target: str = "head") -> None:
    """Migrate to `target` (a revision id, or the newest by default)."""
    if target in ("head", HEAD) and _recorded_revision(database) == HEAD:
        return
    from alembic import command

    config = _config()
    if database.is_sqlite:
        with _sqlite_lock(database), database.engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, target)
            connection.commit()
        return
    with database.engine.connect() as connection:
        connection.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
        connection.commit()
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, target)
            connection.commit()
        finally:
            connection.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
            connection.commit()


def current_revision(database: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        rev: str | None = MigrationContext.configure(connection).get_current_revision()
        return rev
