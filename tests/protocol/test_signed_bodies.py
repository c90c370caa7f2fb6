"""A signed request cannot be replayed with another body: in process and over a real HTTP server."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from baryon.api.dispatch import Dispatcher
from baryon.protocol.sigv4 import Credential
from baryon.runtime import Runtime
from tests.support.api_server import ApiServer
from tests.support.signed import IN_PROCESS, error, send, send_http, sign

PAYLOAD_MISMATCH = "The provided 'x-amz-content-sha256' header does not match what was computed."
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
SIGNED = orjson.dumps({"name": "signed-template", "displayName": "as signed"})
REPLAYED = orjson.dumps({"name": "replayed-template", "displayName": "as replayed"})

Sender = Callable[[dict[str, str], bytes], tuple[int, dict[str, Any]]]


@pytest.fixture(params=["in-process", "http"])
def path(
    request: pytest.FixtureRequest, runtime: Runtime, dispatcher: Dispatcher
) -> Iterator[tuple[str, Sender]]:
    if request.param == "in-process":
        yield IN_PROCESS, lambda headers, body: send(dispatcher, headers, body)
        return
    server = ApiServer(runtime).start()
    try:
        yield server.url, lambda headers, body: send_http(server.url, headers, body)
    finally:
        server.stop()


def _templates(path: tuple[str, Sender], credential: Credential) -> list[str]:
    endpoint, deliver = path
    body = b"{}"
    status, answer = deliver(sign(credential, "ListEnvironmentTemplates", body, endpoint=endpoint), body)
    assert status == 200, answer
    return sorted(template["name"] for template in answer["templates"])


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        (None, SIGNATURE_MISMATCH),
        (hashlib.sha256(SIGNED).hexdigest(), PAYLOAD_MISMATCH),
        ("UNSIGNED-PAYLOAD", PAYLOAD_MISMATCH),
    ],
)
def test_a_signed_create_replayed_with_another_body_creates_nothing(
    path: tuple[str, Sender], credential: Credential, declared: str | None, message: str
) -> None:
    endpoint, deliver = path
    extra = {} if declared is None else {"X-Amz-Content-SHA256": declared}
    headers = sign(credential, "CreateEnvironmentTemplate", SIGNED, endpoint=endpoint, headers=extra)
    assert error(deliver(headers, REPLAYED)) == (400, "InvalidSignatureException", message)
    assert _templates(path, credential) == []
    if declared != "UNSIGNED-PAYLOAD":
        status, answer = deliver(headers, SIGNED)
        assert status == 200, answer
        assert _templates(path, credential) == ["signed-template"]


def test_unsigned_payload_is_refused_even_for_its_own_body(
    path: tuple[str, Sender], credential: Credential
) -> None:
    endpoint, deliver = path
    headers = sign(
        credential,
        "CreateEnvironmentTemplate",
        SIGNED,
        endpoint=endpoint,
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
    )
    assert error(deliver(headers, SIGNED)) == (400, "InvalidSignatureException", PAYLOAD_MISMATCH)
    assert _templates(path, credential) == []


@pytest.mark.parametrize("region", ["", "US-EAST-1", "*", "a" * 200])
def test_a_malformed_region_creates_nothing(
    path: tuple[str, Sender], credential: Credential, region: str
) -> None:
    endpoint, deliver = path
    headers = sign(credential, "CreateEnvironmentTemplate", SIGNED, endpoint=endpoint, region=region)
    assert error(deliver(headers, SIGNED)) == (
        400,
        "InvalidSignatureException",
        f"Credential should be scoped to a valid region, not '{region}'. ",
    )
    assert _templates(path, credential) == []


def test_a_non_ascii_signature_is_not_a_server_error(
    path: tuple[str, Sender], credential: Credential
) -> None:
    endpoint, deliver = path
    headers = sign(credential, "ListEnvironmentTemplates", b"{}", endpoint=endpoint)
    signature = headers["authorization"].split("Signature=")[1]
    headers["authorization"] = headers["authorization"].replace(signature, "\u00e9" * 64)
    raw = {name: value.encode("latin-1").decode("latin-1") for name, value in headers.items()}
    assert error(deliver(raw, b"{}")) == (
        400,
        "IncompleteSignatureException",
        "Signature must be hexadecimal text. Authorization=AWS4-HMAC-SHA256",
    )
