"""SigV4 verification against requests signed by botocore itself."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from baryon.protocol import sigv4
from baryon.protocol.errors import (
    IncompleteSignatureException,
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


# -- the signature binds the body, the host, the operation and a real region ----------------------------


def _signed_with(
    headers: dict[str, str], body: bytes = b'{"name":"x"}', region: str = "eu-west-1"
) -> dict[str, str]:
    """Headers of a botocore-signed request that carried ``headers`` when it was signed."""
    request = AWSRequest(method="POST", url="http://127.0.0.1:7700/", data=body, headers=headers)
    SigV4Auth(Credentials(CRED.access_key_id, CRED.secret_access_key), "proton", region).add_auth(request)
    signed = {k.lower(): v for k, v in request.headers.items()}
    signed.setdefault("host", "127.0.0.1:7700")
    return signed


TARGET = {"X-Amz-Target": "AwsProton20200720.GetEnvironmentTemplate"}
PAYLOAD_MISMATCH = "The provided 'x-amz-content-sha256' header does not match what was computed."


def test_a_declared_payload_hash_must_be_the_body_hash() -> None:
    body = b'{"name":"x"}'
    declared = hashlib.sha256(body).hexdigest()
    headers = _signed_with({**TARGET, "X-Amz-Content-SHA256": declared}, body)
    assert _verify(headers, body).account_id == "111111111111"
    with pytest.raises(InvalidSignatureException) as caught:
        _verify(headers, b'{"name":"other"}')
    assert caught.value.message == PAYLOAD_MISMATCH


def test_unsigned_payload_is_refused() -> None:
    headers = _signed_with({**TARGET, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    with pytest.raises(InvalidSignatureException) as caught:
        _verify(headers, b'{"name":"x"}')
    assert caught.value.message == PAYLOAD_MISMATCH


@pytest.mark.parametrize(
    ("unsigned", "message"),
    [
        ("host", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."),
        ("x-amz-target", "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."),
    ],
)
def test_host_and_target_must_be_signed(unsigned: str, message: str) -> None:
    headers, body = _signed()
    authorization = headers["authorization"]
    signed = authorization.split("SignedHeaders=")[1].split(",")[0]
    kept = ";".join(name for name in signed.split(";") if name != unsigned)
    headers["authorization"] = authorization.replace(f"SignedHeaders={signed}", f"SignedHeaders={kept}")
    with pytest.raises(IncompleteSignatureException) as caught:
        _verify(headers, body)
    assert caught.value.message == message


@pytest.mark.parametrize(
    "region", ["us-east-1", "eu-central-2", "us-gov-west-1", "cn-north-1", "ap-southeast-3", "us-isob-east-1"]
)
def test_aws_region_names_are_accepted(region: str) -> None:
    headers = _signed_with(TARGET, region=region)
    assert _verify(headers, b'{"name":"x"}').region == region


@pytest.mark.parametrize("region", ["", "US-EAST-1", "*", "a" * 200, "us-east", "us_east_1", "us-east-1 "])
def test_malformed_regions_are_refused(region: str) -> None:
    headers = _signed_with(TARGET, region=region)
    with pytest.raises(InvalidSignatureException) as caught:
        _verify(headers, b'{"name":"x"}')
    assert caught.value.message == f"Credential should be scoped to a valid region, not '{region}'. "


def test_a_non_ascii_signature_is_an_incomplete_signature() -> None:
    headers, body = _signed()
    signature = headers["authorization"].split("Signature=")[1]
    headers["authorization"] = headers["authorization"].replace(signature, "é" * 64)
    with pytest.raises(IncompleteSignatureException) as caught:
        _verify(headers, body)
    assert caught.value.message == "Signature must be hexadecimal text. Authorization=AWS4-HMAC-SHA256"


def test_a_non_hex_signature_is_a_mismatch() -> None:
    headers, body = _signed()
    signature = headers["authorization"].split("Signature=")[1]
    headers["authorization"] = headers["authorization"].replace(signature, "z" * 64)
    with pytest.raises(InvalidSignatureException) as caught:
        _verify(headers, body)
    assert caught.value.message.startswith("The request signature we calculated does not match")
