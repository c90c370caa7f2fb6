"""Opaque, HMAC-signed pagination tokens.

Invariants: a token names the operation and the caller's scope it was issued for and carries the position
after the last item returned; any token not signed with the deployment's key, or issued for another
operation or scope, is refused with ValidationException. The key comes from the deployment's secret, so
tokens survive restarts and are accepted by every server process of one deployment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson

from baryon.protocol.errors import ValidationException

_MAC_LEN = 16


class TokenSigner:
    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(b"baryon-pagination\0" + key).digest()

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()[:_MAC_LEN]

    def issue(self, scope: str, position: Any) -> str:
        data = orjson.dumps({"s": scope, "p": position})
        return base64.b64encode(self._mac(data) + data).decode()

    def read(self, scope: str, token: str) -> Any:
        try:
            raw = base64.b64decode(token.encode(), validate=True)
        except (ValueError, UnicodeEncodeError):
            raise ValidationException("The nextToken provided is invalid.") from None
        mac, data = raw[:_MAC_LEN], raw[_MAC_LEN:]
        if len(mac) != _MAC_LEN or not hmac.compare_digest(mac, self._mac(data)):
            raise ValidationException("The nextToken provided is invalid.")
        payload = orjson.loads(data)
        if payload.get("s") != scope:
            raise ValidationException("The nextToken provided is invalid.")
        return payload["p"]
