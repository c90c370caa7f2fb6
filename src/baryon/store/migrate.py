"""Apply Alembic migrations, serialised across processes.

Invariants: at most one process migrates a database at a time (a PostgreSQL advisory lock, or a lock
file beside the SQLite database); upgrading an up-to-date database is a no-op, and one already at `HEAD`
is recognised by reading its version table, without loading Alembic or the migration scripts (a test
keeps `HEAD` equal to the scripts' head); `current_revision` reads the same table the same way.
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


def _recorded(database: Database) -> list[str]:
    """The revisions `alembic_version` holds, read without loading Alembic ([] for a database never
    migrated)."""
    with database.engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return []
        rows = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    return [str(row) for row in rows]


def upgrade(database: Database, target: str = "head") -> None:
    """Migrate to `target` (a revision id, or the newest by default)."""
    if target in ("head", HEAD) and _recorded(database) == [HEAD]:
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
    """The database's revision; None for a database never migrated."""
    found = _recorded(database)
    if len(found) > 1:
        raise RuntimeError("Version table 'alembic_version' has more than one head present.")
    return found[0] if found else None
