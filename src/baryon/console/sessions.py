"""Console sign-in and sessions: credential check, server-side session rows, CSRF tokens.

Invariants: the cookie holds a random token and the row only its SHA-256; a session is valid while its row
exists, has not expired, and its credential is still active, unscoped and unexpired (checked on every
request, so revoking a credential ends its sessions); secrets and CSRF tokens are compared with
`hmac.compare_digest`; a failed sign-in says the same thing whatever was wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from baryon.protocol.sigv4 import Credential
from baryon.store.credentials import CredentialStore
from baryon.store.db import Database
from baryon.store.schema import console_sessions

C = console_sessions.c
#: What a failed sign-in says, whatever was wrong.
INVALID_KEY = "The access key ID or secret access key is not valid."
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


@dataclass(frozen=True)
class Session:
    token_hash: str
    access_key_id: str
    account_id: str
    region: str
    csrf_token: str
    expires_at: float
    #: The credential's name: the console acts as `arn:aws:iam::<account>:user/<name>`, as a signed
    #: request of the same credential does.
    credential_name: str = ""

    @property
    def principal(self) -> str:
        return f"arn:aws:iam::{self.account_id}:user/{self.credential_name}"


class SignInError(Exception):
    """The access key pair does not sign in (its message is INVALID_KEY or about the region)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def valid_region(region: str) -> bool:
    return len(region) <= 32 and REGION.fullmatch(region) is not None


def csrf_ok(session: Session, submitted: str | None) -> bool:
    """Whether a form's CSRF field matches the session's token."""
    return bool(submitted) and hmac.compare_digest(session.csrf_token.encode(), (submitted or "").encode())


def _usable(credential: Credential | None, now: float) -> Credential | None:
    """`credential` when it is an active user credential (found, so not revoked; not a run's; not
    expired), else None."""
    if credential is None or credential.scope is not None:
        return None
    if credential.expires_at is not None and credential.expires_at <= now:
        return None
    return credential


class Sessions:
    def __init__(self, database: Database, credentials: CredentialStore, hours: float) -> None:
        self.database = database
        self.credentials = credentials
        self.seconds = hours * 3600.0

    def sign_in(self, access_key_id: str, secret: str, region: str, now: float) -> tuple[str, Session]:
        """A new session for the key pair: (the cookie's token, the session). Raises SignInError."""
        if not valid_region(region):
            raise SignInError("Choose a valid region, such as us-east-1.")
        credential = self.credentials.lookup(access_key_id) if 0 < len(access_key_id) <= 128 else None
        expected = credential.secret_access_key if credential is not None else secrets.token_urlsafe(30)
        matches = hmac.compare_digest(expected.encode(), secret.encode())
        if credential is None or not matches or _usable(credential, now) is None:
            raise SignInError(INVALID_KEY)
        token = secrets.token_urlsafe(32)
        session = Session(
            token_hash(token),
            access_key_id,
            credential.account_id,
            region,
            secrets.token_urlsafe(32),
            now + self.seconds,
            credential.name,
        )
        with self.database.write() as connection:
            connection.execute(sa.delete(console_sessions).where(C.expires_at <= now))
            connection.execute(
                sa.insert(console_sessions).values(
                    token_hash=session.token_hash,
                    access_key_id=session.access_key_id,
                    account_id=session.account_id,
                    region=session.region,
                    csrf_token=session.csrf_token,
                    created_at=now,
                    expires_at=session.expires_at,
                )
            )
        return token, session

    def find(self, token: str | None, now: float) -> Session | None:
        """The live session the cookie's token names, or None (expired, signed out, credential revoked)."""
        if not token or len(token) > 200:
            return None
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(console_sessions).where(C.token_hash == token_hash(token), C.expires_at > now)
            ).first()
        if row is None:
            return None
        credential = _usable(self.credentials.lookup(row.access_key_id), now)
        if credential is None or credential.account_id != row.account_id:
            self.end(row.token_hash)
            return None
        return Session(
            row.token_hash,
            row.access_key_id,
            row.account_id,
            row.region,
            row.csrf_token,
            float(row.expires_at),
            credential.name,
        )

    def end(self, hashed: str) -> None:
        with self.database.write() as connection:
            connection.execute(sa.delete(console_sessions).where(C.token_hash == hashed))

    def set_region(self, session: Session, region: str) -> None:
        if not valid_region(region):
            raise SignInError("Choose a valid region, such as us-east-1.")
        with self.database.write() as connection:
            connection.execute(
                sa.update(console_sessions).where(C.token_hash == session.token_hash).values(region=region)
            )
