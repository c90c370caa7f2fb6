"""Credentials that Baryon issues: access key ids with secrets, each bound to one account.

Invariants: secrets are stored encrypted with the deployment key; a revoked credential never
authenticates again; lookups of active credentials are by primary key (one indexed read per request).
"""

from __future__ import annotations

import secrets as random
import string
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.protocol.sigv4 import Credential
from baryon.store.db import Database
from baryon.store.prepared import Prepared
from baryon.store.schema import credentials
from baryon.store.secrets import Secrets

_KEY_ALPHABET = string.ascii_uppercase + "234567"
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
        self._select = Prepared(
            sa.select(credentials.c.secret_ciphertext, credentials.c.account_id, credentials.c.name).where(
                credentials.c.access_key_id == sa.bindparam("key"), credentials.c.revoked_at.is_(None)
            )
        )

    def create(self, account_id: str, name: str, now: float) -> Credential:
        access_key_id = "AKIA" + "".join(random.choice(_KEY_ALPHABET) for _ in range(16))
        secret = "".join(random.choice(_SECRET_ALPHABET) for _ in range(40))
        with self.database.write() as connection:
            connection.execute(
                sa.insert(credentials).values(
                    access_key_id=access_key_id,
                    secret_ciphertext=self.secrets.encrypt(secret),
                    account_id=account_id,
                    name=name,
                    created_at=now,
                    revoked_at=None,
                )
            )
        return Credential(access_key_id, secret, account_id, name)

    def lookup(self, access_key_id: str, connection: Connection | None = None) -> Credential | None:
        """The active credential with this key id, or None (on `connection` when given)."""
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
        return Credential(access_key_id, cached[1], row.account_id, row.name)

    def list(self) -> list[CredentialRecord]:
        with self.database.read() as connection:
            rows = connection.execute(sa.select(credentials).order_by(credentials.c.created_at)).all()
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
        self._plain.pop(access_key_id, None)
        return bool(result.rowcount)

    def first_active(self, name: str) -> Credential | None:
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(credentials.c.access_key_id)
                .where(credentials.c.name == name, credentials.c.revoked_at.is_(None))
                .order_by(credentials.c.created_at)
            ).first()
        return self.lookup(row.access_key_id) if row else None
