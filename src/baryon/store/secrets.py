"""The deployment secret: encryption of stored secrets and the key behind signed tokens.

Invariants: the key comes from BARYON_SECRET_KEY or from `<data-dir>/secret.key` (created 0600 on first
use); the database remembers a fingerprint of the key it was set up with, and a process holding another
key refuses to start instead of failing on every request. Plain secrets never reach the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from baryon.store.db import Database
from baryon.store.schema import deployment_settings

_FINGERPRINT = "secret_key_fingerprint"


class SecretKeyMismatch(RuntimeError):
    pass


class SecretKeyInvalid(ValueError):
    """The configured key, or the key file, is not 32 bytes in urlsafe base64."""


MAKE_KEY = 'python3 -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'


def _decode(text: str, source: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        raise SecretKeyInvalid(
            f"{source} is not a Baryon secret key (32 bytes in urlsafe base64); use the key this deployment "
            f"was set up with, or make a new one with: {MAKE_KEY}"
        )
    return raw


def load_key(secret_key: str | None, data_dir: Path) -> bytes:
    """Return the raw 32-byte deployment key, creating the key file on first use."""
    if secret_key:
        return _decode(secret_key, "BARYON_SECRET_KEY")
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode())
    return _decode(path.read_text(errors="replace"), f"The key file {path}")


class Secrets:
    def __init__(self, key: bytes) -> None:
        self.key = key
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    @property
    def fingerprint(self) -> str:
        return hmac.new(self.key, b"baryon-key-fingerprint", hashlib.sha256).hexdigest()

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretKeyMismatch("a stored secret cannot be decrypted with this secret key") from None

    def bind(self, database: Database) -> None:
        """Record the key's fingerprint on first use; refuse a database set up with another key."""
        with database.write() as connection:
            row = connection.execute(
                sa.select(deployment_settings.c.value).where(deployment_settings.c.key == _FINGERPRINT)
            ).first()
            if row is None:
                connection.execute(
                    sa.insert(deployment_settings).values(key=_FINGERPRINT, value=self.fingerprint)
                )
            elif row.value != self.fingerprint:
                raise SecretKeyMismatch(
                    "This database was set up with another secret key. Give every Baryon process of one "
                    "deployment the same BARYON_SECRET_KEY (or the same data dir)."
                )
