"""Credentials are stored encrypted, revocation is immediate, and one database keeps one secret key."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import sqlalchemy as sa

from baryon.config import Settings
from baryon.runtime import Runtime, open_runtime
from baryon.store.schema import credentials
from baryon.store.secrets import SecretKeyMismatch
from tests.support.waiting import poll, wait_for


def test_secret_is_encrypted_at_rest(runtime: Runtime) -> None:
    credential = runtime.credentials.create("111111111111", "alice", runtime.clock.now())
    with runtime.database.read() as connection:
        stored = connection.execute(sa.select(credentials.c.secret_ciphertext)).scalar_one()
    assert credential.secret_access_key not in stored
    assert runtime.secrets.decrypt(stored) == credential.secret_access_key
    looked_up = runtime.credentials.lookup(credential.access_key_id)
    assert looked_up == credential


def test_revoked_credentials_stop_at_once(runtime: Runtime) -> None:
    credential = runtime.credentials.create("111111111111", "alice", runtime.clock.now())
    assert runtime.credentials.lookup(credential.access_key_id) is not None
    assert runtime.credentials.revoke(credential.access_key_id, runtime.clock.now())
    assert runtime.credentials.lookup(credential.access_key_id) is None
    assert not runtime.credentials.revoke(credential.access_key_id, runtime.clock.now())
    [record] = runtime.credentials.list()
    assert record.revoked_at is not None


def test_a_database_refuses_another_secret_key(runtime: Runtime, database_url: str, tmp_path: Path) -> None:
    other_key = base64.urlsafe_b64encode(b"z" * 32).decode()
    settings = Settings(data_dir=tmp_path / "other", database_url=database_url, secret_key=other_key)
    with pytest.raises(SecretKeyMismatch, match="set up with another secret key"):
        open_runtime(settings)


def test_key_file_is_created_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", database_url=None, secret_key=None)
    rt = open_runtime(settings)
    key_file = tmp_path / "d" / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    rt.close()
    again = open_runtime(Settings(data_dir=tmp_path / "d", database_url=None, secret_key=None))
    assert again.secrets.key == rt.secrets.key
    again.close()


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_cached_credentials_are_dropped_when_revoked_elsewhere(
    runtime: Runtime, database_url: str, tmp_path: Path
) -> None:
    """Credentials are cached in memory only on PostgreSQL, whose notifications announce revocations."""
    runtime.credentials.watch_revocations()
    wait_for(
        lambda: runtime.credentials._watch and runtime.credentials._watch.live,
        timeout=10,
        what="the revocation listener to start",
    )
    credential = runtime.credentials.create("111111111111", "alice", runtime.clock.now())
    assert runtime.credentials.lookup(credential.access_key_id) == credential
    assert credential.access_key_id in runtime.credentials._active
    other = open_runtime(
        Settings(data_dir=tmp_path / "cli", database_url=database_url, secret_key=runtime.settings.secret_key)
    )
    assert other.credentials.revoke(credential.access_key_id, other.clock.now())
    other.close()
    poll(
        lambda: runtime.credentials.lookup(credential.access_key_id),
        lambda found: found is None,
        timeout=5,
        interval=0.01,
        what="the revoked credential to leave the memory cache",
    )
