"""The Alembic migrations produce exactly the tables the code defines, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from baryon.store.db import Database
from baryon.store.migrate import current_revision, upgrade
from baryon.store.schema import metadata


def test_migrations_match_schema(database_url: str) -> None:
    database = Database(database_url)
    upgrade(database)
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    database.dispose()
    assert differences == []


def test_upgrade_is_idempotent_and_serialised(database_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        database = Database(database_url)
        try:
            upgrade(database)
        except BaseException as error:  # collected and asserted below
            errors.append(error)
        finally:
            database.dispose()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    database = Database(database_url)
    upgrade(database)
    assert current_revision(database) == "0007"
    database.dispose()
