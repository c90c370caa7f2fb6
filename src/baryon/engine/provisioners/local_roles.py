"""Roles in the local cloud: a role that does not exist there cannot be assumed, as in AWS.

moto's STS hands out credentials for any role ARN, so a deployment with a mistyped or never-created role
would succeed in the local cloud and fail on AWS. Before Baryon assumes a role through the local cloud
(`baryon up`), `require_role` looks the role up in the local cloud's IAM and refuses it, with AWS's
wording, when it is not there.

Invariants: acts only when the STS client's endpoint is the local cloud's (`BARYON_LOCAL_CLOUD_URL`, set
by `baryon up` when its local cloud starts: `baryon.localcloud.endpoint_in_use`), never against AWS; the
refusal is a permanent `ProvisionError` (code "InvalidRole") whose message is AWS's "Role … is invalid or
cannot be assumed"; a role is found when IAM knows its name and its ARN is the one
given (so a role of another account, or under another path, is not found).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from baryon.engine import aws
from baryon.engine.provisioners.errors import BOTO_ERRORS, ProvisionError, error_code, from_boto
from baryon.localcloud import endpoint_in_use


def _same_endpoint(one: str, other: str) -> bool:
    return one.rstrip("/") == other.rstrip("/")


def invalid(role_arn: str) -> ProvisionError:
    return ProvisionError(
        f"Role {role_arn} is invalid or cannot be assumed", transient=False, code="InvalidRole"
    )


def require_role(sts: Any, role_arn: str, region: str) -> None:
    """Refuse `role_arn` when `sts` goes to the local cloud and its IAM has no such role."""
    local = endpoint_in_use()
    if local is None or not _same_endpoint(str(sts.meta.endpoint_url), local):
        return
    name = role_arn.rsplit("/", 1)[-1]
    try:
        role = aws.client("iam", region).get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            raise invalid(role_arn) from exc
        raise from_boto(exc, f"GetRole {name} in the local cloud") from exc
    except BOTO_ERRORS as exc:
        raise from_boto(exc, f"GetRole {name} in the local cloud") from exc
    if str(role.get("Arn")) != role_arn:
        raise invalid(role_arn)
