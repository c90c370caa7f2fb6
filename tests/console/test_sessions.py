"""Console sign-in, sessions and CSRF tokens, without a browser (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from baryon.console.sessions import INVALID_KEY, Session, Sessions, SignInError, csrf_ok, token_hash
from baryon.console.web import safe_next
from baryon.runtime import Runtime
from baryon.store.schema import console_sessions
from tests.conftest import ACCOUNT

NOW = 1_800_000_000.0


def _sessions(runtime: Runtime, hours: float = 12.0) -> Sessions:
    return Sessions(runtime.database, runtime.credentials, hours)


def test_sign_in_stores_only_the_hash_and_finds_the_session(runtime: Runtime) -> None:
    credential = runtime.credentials.create(ACCOUNT, "alice", NOW)
    sessions = _sessions(runtime)
    token, session = sessions.sign_in(
        credential.access_key_id, credential.secret_access_key, "eu-west-1", NOW
    )
    assert session.account_id == ACCOUNT and session.region == "eu-west-1"
    # The console acts as the principal a signed request of this credential has.
    assert session.principal == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert session.expires_at == NOW + 12 * 3600
    with runtime.database.read() as connection:
        rows = connection.execute(sa.select(console_sessions)).all()
    assert [row.token_hash for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert token not in {str(value) for value in rows[0]}
    found = sessions.find(token, NOW + 60)
    assert found == session
    assert sessions.find(token, NOW + 12 * 3600 + 1) is None
    assert sessions.find("not-the-token", NOW) is None


@pytest.mark.parametrize("wrong", ["secret", "key", "region"])
def test_a_wrong_pair_gets_one_message(runtime: Runtime, wrong: str) -> None:
    credential = runtime.credentials.create(ACCOUNT, "alice", NOW)
    key = "AKIANOSUCHKEY0000000" if wrong == "key" else credential.access_key_id
    secret = "x" * 40 if wrong == "secret" else credential.secret_access_key
    region = "not a region" if wrong == "region" else "us-east-1"
    with pytest.raises(SignInError) as caught:
        _sessions(runtime).sign_in(key, secret, region, NOW)
    if wrong == "region":
        assert "region" in str(caught.value)
    else:
        assert str(caught.value) == INVALID_KEY
    with runtime.database.read() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(console_sessions)).scalar() == 0


def test_revoked_and_run_scoped_credentials_do_not_sign_in(runtime: Runtime) -> None:
    sessions = _sessions(runtime)
    revoked = runtime.credentials.create(ACCOUNT, "gone", NOW)
    runtime.credentials.revoke(revoked.access_key_id, NOW)
    with runtime.database.write() as connection:
        scoped = runtime.credentials.issue_scoped(
            connection, ACCOUNT, "run", "arn:aws:proton:us-east-1:111111111111:environment/e", NOW + 600, NOW
        )
    for credential in (revoked, scoped):
        with pytest.raises(SignInError, match=INVALID_KEY):
            sessions.sign_in(credential.access_key_id, credential.secret_access_key, "us-east-1", NOW)


def test_revoking_the_credential_ends_the_session(runtime: Runtime) -> None:
    credential = runtime.credentials.create(ACCOUNT, "alice", NOW)
    sessions = _sessions(runtime)
    token, _ = sessions.sign_in(credential.access_key_id, credential.secret_access_key, "us-east-1", NOW)
    runtime.credentials.revoke(credential.access_key_id, NOW + 1)
    assert sessions.find(token, NOW + 2) is None
    with runtime.database.read() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(console_sessions)).scalar() == 0


def test_sign_out_and_region(runtime: Runtime) -> None:
    credential = runtime.credentials.create(ACCOUNT, "alice", NOW)
    sessions = _sessions(runtime)
    token, session = sessions.sign_in(
        credential.access_key_id, credential.secret_access_key, "us-east-1", NOW
    )
    sessions.set_region(session, "eu-central-1")
    found = sessions.find(token, NOW)
    assert found is not None and found.region == "eu-central-1"
    with pytest.raises(SignInError):
        sessions.set_region(session, "<script>")
    sessions.end(token_hash(token))
    assert sessions.find(token, NOW) is None


def test_csrf_check() -> None:
    session = Session("h", "AKIA", ACCOUNT, "us-east-1", "right-token", NOW, "alice")
    assert csrf_ok(session, "right-token")
    assert not csrf_ok(session, "wrong-token")
    assert not csrf_ok(session, "")
    assert not csrf_ok(session, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/console/environments/a?nextToken=x", "/console/environments/a?nextToken=x"),
        ("/console/", "/console/"),
        ("https://evil.example/console/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("/console//evil.example", "/console/"),
        ("/console/\\evil", "/console/"),
        ("/metrics", "/console/"),
        (None, "/console/"),
    ],
)
def test_next_is_a_console_path(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected
