"""Verification of AWS Signature Version 4 on incoming requests.

Invariants: a request is accepted only when its signature matches the one computed with the secret of an
active credential that Baryon issued and that has not expired, its credential scope names the `proton`
service and a well-formed region (`REGION_PATTERN`), and its time stamp is within 15 minutes of the server
clock. The signature binds the body: the payload hash in the canonical request is always the SHA-256 of the
body the server received (an `X-Amz-Content-SHA256` header, when sent, must equal it; `UNSIGNED-PAYLOAD` is
refused), and `host` and `x-amz-target` must be among the signed headers, so a captured request cannot be
replayed with another body, against another host or as another operation. The credential scope's region
becomes the request's region; a credential's resource scope (see `Credential.scope`) passes to the `Identity`.
Derived signing keys are cached per (secret, date, region); secrets are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote, unquote

from baryon.protocol.errors import (
    ExpiredTokenException,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "proton"
MAX_SKEW = timedelta(minutes=15)
_INVALID_TOKEN = "The security token included in the request is invalid."
_EXPIRED_TOKEN = "The security token included in the request is expired"
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
_SPACES = re.compile(r"\s+")
#: AWS region names: ``us-east-1``, ``eu-central-2``, ``us-gov-west-1``, ``cn-north-1``, ``us-isob-east-1``.
REGION_PATTERN = r"[a-z]{2}(?:-[a-z]+){1,3}-[0-9]{1,2}"
_REGION = re.compile(REGION_PATTERN)
_REGION_MAX = 32
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")
#: Headers every request must sign (lowercase), with the name AWS uses in its message.
REQUIRED_SIGNED_HEADERS = {"host": "'Host' or ':authority'", "x-amz-target": "'X-Amz-Target'"}
_PAYLOAD_MISMATCH = "The provided 'x-amz-content-sha256' header does not match what was computed."


@dataclass(frozen=True, slots=True)
class Credential:
    """An active credential: what a key id resolves to."""

    access_key_id: str
    secret_access_key: str
    account_id: str
    name: str
    #: The one resource ARN a credential issued to a command run may notify for; None: unrestricted.
    scope: str | None = None
    #: Epoch seconds after which the credential no longer authenticates; None: never.
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who made a request, established from its signature."""

    account_id: str
    region: str
    access_key_id: str
    principal: str
    scope: str | None = None


CredentialLookup = Callable[[str], Credential | None]


def _parse_authorization(header: str) -> tuple[str, list[str], str]:
    if not header.startswith(ALGORITHM + " "):
        raise IncompleteSignatureException(
            f"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header and the "
            f"algorithm {ALGORITHM}."
        )
    fields: dict[str, str] = {}
    for part in header[len(ALGORITHM) + 1 :].split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key] = value
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in fields]
    if missing:
        raise IncompleteSignatureException(
            " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
            + f" Authorization={header.split(' ')[0]}"
        )
    signature = fields["Signature"]
    if not signature.isascii():
        raise IncompleteSignatureException(
            f"Signature must be hexadecimal text. Authorization={header.split(' ')[0]}"
        )
    return fields["Credential"], fields["SignedHeaders"].split(";"), signature


def _check_signed_headers(signed_headers: list[str]) -> None:
    for name, shown in REQUIRED_SIGNED_HEADERS.items():
        if name not in signed_headers:
            raise IncompleteSignatureException(f"{shown} must be a 'SignedHeader' in the AWS Authorization.")


def _payload_hash(headers: Mapping[str, str], body: bytes) -> str:
    """The SHA-256 of the body as received; a declared hash that differs (or UNSIGNED-PAYLOAD) is refused."""
    computed = hashlib.sha256(body).hexdigest()
    declared = headers.get("x-amz-content-sha256")
    if declared is not None and declared.strip().lower() != computed:
        raise InvalidSignatureException(_PAYLOAD_MISMATCH)
    return computed


@lru_cache(maxsize=4096)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    key = hmac.new(key, region.encode(), hashlib.sha256).digest()
    key = hmac.new(key, service.encode(), hashlib.sha256).digest()
    return hmac.new(key, b"aws4_request", hashlib.sha256).digest()


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        key, _, value = item.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _parse_stamp(value: str) -> datetime:
    """`YYYYMMDDTHHMMSSZ` (the only form SigV4 uses) as an aware datetime."""
    if len(value) != 16 or value[8] != "T" or value[15] != "Z":
        raise ValueError(value)
    return datetime(
        int(value[0:4]),
        int(value[4:6]),
        int(value[6:8]),
        int(value[9:11]),
        int(value[11:13]),
        int(value[13:15]),
        tzinfo=UTC,
    )


@lru_cache(maxsize=256)
def _canonical_path(path: str) -> str:
    return quote(quote(path or "/", safe="/-_.~"), safe="/-_.~")


def verify(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    lookup: CredentialLookup,
    now: datetime,
) -> Identity:
    """Check the request's SigV4 signature; return the caller's identity or raise the AWS error."""
    authorization = headers.get("authorization")
    if not authorization:
        raise MissingAuthenticationTokenException("Request is missing Authentication Token")
    credential_field, signed_headers, signature = _parse_authorization(authorization)
    scope = credential_field.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise IncompleteSignatureException(
            f"Credential should be scoped to a valid region. Credential={credential_field}"
        )
    access_key_id, date, region, service, _ = scope
    if service != SERVICE:
        raise InvalidSignatureException(f"Credential should be scoped to correct service: '{SERVICE}'. ")
    if len(region) > _REGION_MAX or _REGION.fullmatch(region) is None:
        raise InvalidSignatureException(f"Credential should be scoped to a valid region, not '{region}'. ")
    _check_signed_headers(signed_headers)
    amz_date = headers.get("x-amz-date", "")
    try:
        stamp = _parse_stamp(amz_date)
    except ValueError:
        raise IncompleteSignatureException(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        ) from None
    credential = lookup(access_key_id)
    if credential is None:
        raise UnrecognizedClientException(_INVALID_TOKEN)
    fmt = "%Y%m%dT%H%M%SZ"
    if stamp < now - MAX_SKEW:
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} is now earlier than {(now - MAX_SKEW).strftime(fmt)} "
            f"({now.strftime(fmt)} - 15 min.)"
        )
    if stamp > now + MAX_SKEW:
        raise InvalidSignatureException(
            f"Signature not yet current: {amz_date} is still later than {(now + MAX_SKEW).strftime(fmt)} "
            f"({now.strftime(fmt)} + 15 min.)"
        )
    if date != amz_date[:8]:
        raise InvalidSignatureException(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    canonical_headers = "".join(
        f"{name}:{_SPACES.sub(' ', headers.get(name, '')).strip()}\n" for name in signed_headers
    )
    payload_hash = _payload_hash(headers, body)
    canonical_request = "\n".join(
        (
            method,
            _canonical_path(path),
            _canonical_query(query),
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        )
    )
    string_to_sign = "\n".join(
        (
            ALGORITHM,
            amz_date,
            f"{date}/{region}/{service}/aws4_request",
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        )
    )
    key = _signing_key(credential.secret_access_key, date, region, service)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if _HEX_SIGNATURE.fullmatch(signature) is None or not hmac.compare_digest(expected, signature):
        raise InvalidSignatureException(_MISMATCH)
    if credential.expires_at is not None and now.timestamp() >= credential.expires_at:
        raise ExpiredTokenException(_EXPIRED_TOKEN)
    return Identity(
        account_id=credential.account_id,
        region=region,
        access_key_id=access_key_id,
        principal=f"arn:aws:iam::{credential.account_id}:user/{credential.name}",
        scope=credential.scope,
    )
