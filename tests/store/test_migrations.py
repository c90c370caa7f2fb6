"""The Alembic migrations produce exactly the tables the code defines, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from baryon.store.db import Database
from baryon.store.migrate import current_revision, upgrade
from baryon.store.schema import metadata

#: These tests migrate themselves, from nothing or step by step.
pytestmark = pytest.mark.empty_database


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
    assert current_revision(database) == "0017"
    database.dispose()


def test_instance_names_are_backfilled(database_url: str) -> None:
    database = Database(database_url)
    upgrade(database, "0003")
    statements = [
        "INSERT INTO templates (id, account_id, region, kind, name, created_at, last_modified_at) "
        "VALUES (1, '111111111111', 'us-east-1', 'SERVICE', 'web', 1, 1)",
        "INSERT INTO environments (id, account_id, region, name, template_id, template_major, "
        "template_minor, spec, inputs, deployment_status, created_at, last_deployment_attempted_at, "
        "last_deployment_succeeded_at, outputs, resources) VALUES (1, '111111111111', 'us-east-1', "
        "'prod', 1, 1, 0, NULL, '{}', 'SUCCEEDED', 1, 1, 1, '[]', '[]')",
        "INSERT INTO services (id, account_id, region, name, template_id, spec, status, created_at, "
        "last_modified_at) VALUES (1, '111111111111', 'us-east-1', 'api', 1, '', 'ACTIVE', 1, 1)",
        "INSERT INTO service_instances (id, service_id, name, environment_id, template_major, "
        "template_minor, inputs, deployment_status, created_at, last_deployment_attempted_at, "
        "last_deployment_succeeded_at, outputs, resources) VALUES (1, 1, 'one', 1, 1, 0, '{}', "
        "'SUCCEEDED', 1, 1, 1, '[]', '[]')",
    ]
    with database.engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    upgrade(database)
    with database.engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT account_id, region, service_name, environment_name, template_name FROM service_instances"
        ).one()
    database.dispose()
    assert tuple(row) == ("111111111111", "us-east-1", "api", "prod", "web")


def test_head_names_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    from baryon.store import migrate

    assert ScriptDirectory.from_config(migrate._config()).get_current_head() == migrate.HEAD


def test_an_up_to_date_database_is_known_without_alembic(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic import command

    database = Database(database_url)
    try:
        upgrade(database, "0016")
        ran: list[str] = []
        real = command.upgrade
        monkeypatch.setattr(
            command, "upgrade", lambda config, target: ran.append(target) or real(config, target)
        )
        upgrade(database)
        assert ran == ["head"] and current_revision(database) == "0017"
        upgrade(database)
        assert ran == ["head"]
    finally:
        database.dispose()
