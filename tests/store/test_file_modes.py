"""The SQLite database and the files SQLite makes beside it are readable by their owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import sqlalchemy as sa

from baryon.store.db import Database
from baryon.store.migrate import upgrade
from baryon.store.schema import deployment_settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_and_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        database = Database(f"sqlite:///{tmp_path / 'baryon.db'}")
        upgrade(database)
        with database.write() as connection:
            connection.execute(sa.insert(deployment_settings).values(key="k", value="v"))
        with database.read() as connection:
            assert connection.execute(sa.select(deployment_settings.c.value)).scalar_one() == "v"
            modes = {path.name: _mode(path) for path in tmp_path.iterdir()}
        database.dispose()
    finally:
        os.umask(old_umask)
    assert modes == {
        "baryon.db": 0o600,
        "baryon.db-wal": 0o600,
        "baryon.db-shm": 0o600,
        "baryon.db.migrate-lock": 0o600,
    }


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    database = Database(f"sqlite:///{path}")
    with database.write() as connection:
        connection.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    database.dispose()
    assert _mode(path) == 0o640
