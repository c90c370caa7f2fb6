"""Where a provisioner acts: the target account and region, and boto3 clients with the right credentials.

Job: give provisioners a client for (target, service). Without a role ARN that is
`baryon.engine.aws.client` (boto3's default credential chain). With one, Baryon calls STS AssumeRole
(session name `baryon-<12 hex>`, the AssumeRole call itself made with the default chain) and builds the
client from the temporary credentials; the role's trust policy must therefore allow Baryon's own
principal. Baryon does not pass the role to CloudFormation as a stack service role (`RoleARN`). In the
local cloud (whose STS would hand out credentials for any ARN) the role must exist in its IAM
(`local_roles`).

Invariants: clients honour the per-service endpoint variables (`AWS_ENDPOINT_URL_CLOUDFORMATION`, …)
exactly as `baryon.engine.aws` does; assumed-role sessions are cached per thread and per role, and are
renewed five minutes before they expire or when `forget` is called after an expired-token error (boto3
sessions are not thread-safe, so nothing is shared between threads); an AssumeRole failure is raised as a
`ProvisionError` naming the role (AccessDenied is permanent).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from baryon.engine import aws
from baryon.engine.provisioners.errors import BOTO_ERRORS, from_boto
from baryon.engine.provisioners.local_roles import require_role

_CONFIG = Config(connect_timeout=10, read_timeout=60, retries={"mode": "standard", "max_attempts": 3})
_RENEW_BEFORE = 300.0  # seconds before expiry at which cached credentials are replaced
_DURATION = 3600  # seconds asked of AssumeRole
_local = threading.local()


@dataclass(frozen=True)
class Target:
    """The account and region a stack lives in, and the role to assume there (None: default chain).

    `account_id` is the account the caller expects the stack in; it names the target in messages. The
    credentials (the role, or the default chain) decide where AWS really puts the stack.
    """

    region: str
    account_id: str
    role_arn: str | None = None


@dataclass
class _Assumed:
    expires: float
    session: Any
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)


def session_name() -> str:
    """A fresh STS role session name: `baryon-` and 12 hex digits (visible in CloudTrail)."""
    return f"baryon-{uuid.uuid4().hex[:12]}"


def _cache() -> dict[str, _Assumed]:
    cache: dict[str, _Assumed] | None = getattr(_local, "assumed", None)
    if cache is None:
        cache = {}
        _local.assumed = cache
    return cache


def _assume(target: Target) -> _Assumed:
    assert target.role_arn is not None
    sts = aws.client("sts", target.region)
    require_role(sts, target.role_arn, target.region)
    try:
        answer = sts.assume_role(
            RoleArn=target.role_arn, RoleSessionName=session_name(), DurationSeconds=_DURATION
        )
    except BOTO_ERRORS as exc:
        raise from_boto(exc, f"Assuming role {target.role_arn}") from exc
    credentials = answer["Credentials"]
    expiration = credentials.get("Expiration")
    expires = expiration.timestamp() if hasattr(expiration, "timestamp") else time.time() + _DURATION
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return _Assumed(expires=expires, session=session)


def client(target: Target, service: str) -> Any:
    """A boto3 client for `service` in the target's region, with the target's credentials."""
    if target.role_arn is None:
        return aws.client(service, target.region)
    cache = _cache()
    assumed = cache.get(target.role_arn)
    if assumed is None or assumed.expires - time.time() < _RENEW_BEFORE:
        assumed = _assume(target)
        cache[target.role_arn] = assumed
    key = (service, target.region)
    if key not in assumed.clients:
        assumed.clients[key] = assumed.session.client(service, region_name=target.region, config=_CONFIG)
    return assumed.clients[key]


def forget(target: Target) -> None:
    """Drop this thread's cached credentials for the target's role (after an expired-token error)."""
    if target.role_arn is not None:
        _cache().pop(target.role_arn, None)
