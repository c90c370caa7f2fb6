"""Credentials that Baryon issues: access key ids with secrets, each bound to one account.

Two kinds: user credentials (`create`, the `baryon credentials` commands), and run credentials
(`issue_scoped`), each issued to one command run and carrying a `scope` (the one resource ARN it may
notify for, enforced by the dispatcher) and an expiry.

Invariants: secrets are stored encrypted with the deployment key; a revoked credential never
authenticates again, nor does one past its expiry (checked by `sigv4.verify`); a run credential is
deleted, not kept, when its run ends (`discard`), and expired run credentials are deleted whenever a new
one is issued; `list` shows user credentials only; lookups of active credentials are by primary key (one
indexed read per request), except on a PostgreSQL server with `watch_revocations()` on: there an active
credential is kept in memory for at most CACHE_SECONDS, and dropped as soon as its revocation (or
deletion) is announced.
"""

from __future__ import annotations

import secrets as random
import string
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.protocol.sigv4 import Credential
from baryon.store.db import Database
from baryon.store.prepared import Prepared
from baryon.store.revocations import RevocationWatch, notify
from baryon.store.schema import credentials
from baryon.store.secrets import Secrets

_KEY_ALPHABET = string.ascii_uppercase + "234567"
CACHE_SECONDS = 60.0
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


@dataclass(frozen=True)
class CredentialRecord:
    access_key_id: str
    account_id: str
    name: str
    created_at: float
    revoked_at: float | None


class CredentialStore:
    def __init__(self, database: Database, secrets: Secrets) -> None:
        self.database = database
        self.secrets = secrets
        self._plain: dict[str, tuple[str, str]] = {}
        self._active: dict[str, tuple[float, Credential]] = {}
        self._watch: RevocationWatch | None = None
        self._select = Prepared(
            sa.select(
                credentials.c.secret_ciphertext,
                credentials.c.account_id,
                credentials.c.name,
                credentials.c.scope,
                credentials.c.expires_at,
            ).where(credentials.c.access_key_id == sa.bindparam("key"), credentials.c.revoked_at.is_(None))
        )

    def create(self, account_id: str, name: str, now: float) -> Credential:
        """A new user credential for the account."""
        with self.database.write() as connection:
            return self._insert(connection, account_id, name, now, None, None)

    def issue_scoped(
        self, connection: Connection, account_id: str, name: str, scope: str, expires_at: float, now: float
    ) -> Credential:
        """A new run credential that may only notify for the resource `scope` until `expires_at`, in the
        caller's transaction; expired run credentials are deleted on the way."""
        connection.execute(
            sa.delete(credentials).where(credentials.c.scope.is_not(None), credentials.c.expires_at < now)
        )
        return self._insert(connection, account_id, name, now, scope, expires_at)

    def _insert(
        self,
        connection: Connection,
        account_id: str,
        name: str,
        now: float,
        scope: str | None,
        expires_at: float | None,
    ) -> Credential:
        access_key_id = "AKIA" + "".join(random.choice(_KEY_ALPHABET) for _ in range(16))
        secret = "".join(random.choice(_SECRET_ALPHABET) for _ in range(40))
        connection.execute(
            sa.insert(credentials).values(
                access_key_id=access_key_id,
                secret_ciphertext=self.secrets.encrypt(secret),
                account_id=account_id,
                name=name,
                created_at=now,
                revoked_at=None,
                scope=scope,
                expires_at=expires_at,
            )
        )
        return Credential(access_key_id, secret, account_id, name, scope, expires_at)

    def watch_revocations(self) -> None:
        """On PostgreSQL, keep active credentials in memory while revocation notices are heard."""
        if self.database.is_sqlite or self._watch is not None:
            return
        self._watch = RevocationWatch(
            self.database.engine.url,
            on_revoke=self._forget,
            on_reset=self._active.clear,
        )
        self._watch.start()

    def _forget(self, access_key_id: str) -> None:
        self._active.pop(access_key_id, None)

    def close(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    def lookup(self, access_key_id: str, connection: Connection | None = None) -> Credential | None:
        """The active credential with this key id, or None (on `connection` when given)."""
        watching = self._watch is not None and self._watch.live
        if watching:
            cached = self._active.get(access_key_id)
            if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
                return cached[1]
        credential = self._read(access_key_id, connection)
        if watching and credential is not None:
            self._active[access_key_id] = (time.monotonic(), credential)
        return credential

    def _read(self, access_key_id: str, connection: Connection | None) -> Credential | None:
        if connection is None:
            with self.database.read() as own:
                row = self._select.first(own, {"key": access_key_id})
        else:
            row = self._select.first(connection, {"key": access_key_id})
        if row is None:
            return None
        cached = self._plain.get(access_key_id)
        if cached is None or cached[0] != row.secret_ciphertext:
            cached = (row.secret_ciphertext, self.secrets.decrypt(row.secret_ciphertext))
            self._plain[access_key_id] = cached
        return Credential(access_key_id, cached[1], row.account_id, row.name, row.scope, row.expires_at)

    def list(self) -> list[CredentialRecord]:
        """User credentials, oldest first (run credentials are not listed)."""
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(credentials).where(credentials.c.scope.is_(None)).order_by(credentials.c.created_at)
            ).all()
        return [
            CredentialRecord(r.access_key_id, r.account_id, r.name, r.created_at, r.revoked_at) for r in rows
        ]

    def revoke(self, access_key_id: str, now: float) -> bool:
        with self.database.write() as connection:
            result = connection.execute(
                sa.update(credentials)
                .where(credentials.c.access_key_id == access_key_id, credentials.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            if not self.database.is_sqlite:
                notify(connection, access_key_id)
        self._plain.pop(access_key_id, None)
        self._active.pop(access_key_id, None)
        return bool(result.rowcount)

    def discard(self, connection: Connection, access_key_id: str) -> bool:
        """Delete a run credential in the caller's transaction (it never authenticates again); False when
        it was already gone. User credentials are revoked (`revoke`), never discarded."""
        result = connection.execute(
            sa.delete(credentials).where(
                credentials.c.access_key_id == access_key_id, credentials.c.scope.is_not(None)
            )
        )
        if not self.database.is_sqlite:
            notify(connection, access_key_id)
        self._plain.pop(access_key_id, None)
        self._active.pop(access_key_id, None)
        return bool(result.rowcount)

    def first_active(self, name: str) -> Credential | None:
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(credentials.c.access_key_id)
                .where(
                    credentials.c.name == name,
                    credentials.c.revoked_at.is_(None),
                    credentials.c.scope.is_(None),
                )
                .order_by(credentials.c.created_at)
            ).first()
        return self.lookup(row.access_key_id) if row else None
