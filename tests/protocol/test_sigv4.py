"""SigV4 verification against requests signed by botocore itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from baryon.protocol import sigv4
from baryon.protocol.errors import (
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

CRED = sigv4.Credential("AKIAEXAMPLEEXAMPLE00", "secret/with+chars", "111111111111", "alice")


def _lookup(key: str) -> sigv4.Credential | None:
    return CRED if key == CRED.access_key_id else None


def _signed(
    body: bytes = b'{"name":"x"}',
    secret: str = CRED.secret_access_key,
    key: str = CRED.access_key_id,
    region: str = "eu-west-1",
    service: str = "proton",
) -> tuple[dict[str, str], bytes]:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:7700/",
        data=body,
        headers={
            "X-Amz-Target": "AwsProton20200720.GetEnvironmentTemplate",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:7700"
    return headers, body


def _signed_at(headers: dict[str, str]) -> datetime:
    return datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _verify(headers: dict[str, str], body: bytes, now: datetime | None = None) -> Any:
    return sigv4.verify("POST", "/", "", headers, body, _lookup, now or _signed_at(headers))


def test_botocore_signature_is_accepted_and_scope_gives_region() -> None:
    headers, body = _signed()
    identity = _verify(headers, body)
    assert identity.account_id == "111111111111"
    assert identity.region == "eu-west-1"
    assert identity.principal == "arn:aws:iam::111111111111:user/alice"


def test_tampered_body_is_an_invalid_signature() -> None:
    headers, _ = _signed()
    with pytest.raises(InvalidSignatureException) as caught:
        _verify(headers, b'{"name":"y"}')
    assert caught.value.message.startswith("The request signature we calculated does not match")


def test_wrong_secret_is_an_invalid_signature() -> None:
    headers, body = _signed(secret="other")
    with pytest.raises(InvalidSignatureException):
        _verify(headers, body)


def test_unknown_key() -> None:
    headers, body = _signed(key="AKIAUNKNOWNUNKNOWN00")
    with pytest.raises(UnrecognizedClientException) as caught:
        _verify(headers, body)
    assert caught.value.message == "The security token included in the request is invalid."


def test_expired_and_future_signatures() -> None:
    headers, body = _signed()
    signed_at = _signed_at(headers)
    fmt = "%Y%m%dT%H%M%SZ"
    stamp = headers["x-amz-date"]
    later = signed_at + timedelta(minutes=16)
    with pytest.raises(InvalidSignatureException) as caught:
        _verify(headers, body, now=later)
    assert caught.value.message == (
        f"Signature expired: {stamp} is now earlier than {(later - timedelta(minutes=15)).strftime(fmt)} "
        f"({later.strftime(fmt)} - 15 min.)"
    )
    with pytest.raises(InvalidSignatureException) as caught:
        _verify(headers, body, now=signed_at - timedelta(minutes=16))
    assert caught.value.message.startswith(f"Signature not yet current: {stamp} is still later than")
    assert _verify(headers, body, now=signed_at + timedelta(minutes=14)).account_id == "111111111111"


def test_wrong_service_scope() -> None:
    headers, body = _signed(service="s3")
    with pytest.raises(InvalidSignatureException) as caught:
        _verify(headers, body)
    assert "Credential should be scoped to correct service: 'proton'" in caught.value.message


def test_missing_authorization() -> None:
    with pytest.raises(MissingAuthenticationTokenException):
        sigv4.verify("POST", "/", "", {"host": "x"}, b"", _lookup, datetime.now(UTC))
