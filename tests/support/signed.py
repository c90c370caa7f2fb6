"""Raw Proton requests signed by botocore's own SigV4 signer, sent to the dispatcher or over real HTTP.

For tests that need what a boto3 client never sends: a body other than the one signed, a chosen
`X-Amz-Content-SHA256`, a body that is not the model's shape."""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlsplit

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from baryon.api.dispatch import Dispatcher
from baryon.contract.model import TARGET_PREFIX
from baryon.protocol.sigv4 import Credential

IN_PROCESS = "http://baryon.test"


def sign(
    credential: Credential,
    operation: str,
    body: bytes,
    *,
    endpoint: str = IN_PROCESS,
    region: str = "us-east-1",
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """Lowercase headers (with ``host``) of a POST of ``body`` to ``operation``, signed as botocore does."""
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={
            "X-Amz-Target": TARGET_PREFIX + operation,
            "Content-Type": "application/x-amz-json-1.0",
            **(headers or {}),
        },
    )
    keys = Credentials(credential.access_key_id, credential.secret_access_key)
    SigV4Auth(keys, "proton", region).add_auth(request)
    signed = {name.lower(): value for name, value in request.headers.items()}
    signed.setdefault("host", urlsplit(endpoint).netloc)
    return signed


def send(dispatcher: Dispatcher, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    """The dispatcher's status and decoded JSON body for a raw request."""
    response = dispatcher.handle("POST", "/", "", headers, body)
    return response.status, orjson.loads(response.body)


def send_http(endpoint: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    """The same over a real HTTP connection to ``endpoint``."""
    parts = urlsplit(endpoint)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, orjson.loads(response.read())
    finally:
        connection.close()


def error(answer: tuple[int, dict[str, Any]]) -> tuple[int, str, str]:
    """(status, error code without namespace, message) of an error answer."""
    status, body = answer
    return status, str(body.get("__type", "")).rpartition("#")[2], str(body.get("message", ""))
