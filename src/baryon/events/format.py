"""The EventBridge `aws.proton` event documents (reference §5.10): detail types, detail members, the
envelope.

Invariants: pure functions of their arguments; `detail` always carries `status`, and `previousStatus`
only when the resource had a status before (a resource being created has none); a resource that is gone
reports the status `DELETED`; the envelope's `time` is ISO 8601 in UTC with a `Z`, to the second.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

SOURCE = "aws.proton"
#: The status an event reports for a resource that no longer exists.
DELETED = "DELETED"

ENVIRONMENT = "AWS Proton Environment Status Change"
SERVICE = "AWS Proton Service Status Change"
SERVICE_INSTANCE = "AWS Proton Service Instance Status Change"
SERVICE_PIPELINE = "AWS Proton Service Pipeline Status Change"
COMPONENT = "AWS Proton Component Status Change"
ENVIRONMENT_ACCOUNT_CONNECTION = "AWS Proton Environment Account Connection Status Change"
ENVIRONMENT_TEMPLATE_VERSION = "AWS Proton Environment Template Version Status Change"
SERVICE_TEMPLATE_VERSION = "AWS Proton Service Template Version Status Change"

#: The detail type of a template version's events, by its template's kind.
TEMPLATE_VERSION_DETAIL_TYPES = {
    "ENVIRONMENT": ENVIRONMENT_TEMPLATE_VERSION,
    "SERVICE": SERVICE_TEMPLATE_VERSION,
}

#: The detail type of a deployable's events, by its deployment target type.
DEPLOYABLE_DETAIL_TYPES = {
    "ENVIRONMENT": ENVIRONMENT,
    "SERVICE_INSTANCE": SERVICE_INSTANCE,
    "SERVICE_PIPELINE": SERVICE_PIPELINE,
    "COMPONENT": COMPONENT,
}


def deployable_names(target_type: str, names: tuple[str, ...]) -> dict[str, str]:
    """The name members of a deployable's detail: environment and component `name`; service instance
    `name` and `serviceName`; service pipeline `serviceName`."""
    if target_type == "SERVICE_INSTANCE":
        return {"name": names[1], "serviceName": names[0]}
    if target_type == "SERVICE_PIPELINE":
        return {"serviceName": names[0]}
    return {"name": names[0]}


def detail(
    names: dict[str, Any],
    status: str,
    previous: str | None,
    *,
    deployment_id: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """A detail document: the names, `status`, `previousStatus` (when there was one), `deploymentId` and
    `statusMessage` (when given)."""
    found: dict[str, Any] = {**names, "status": status}
    if previous is not None:
        found["previousStatus"] = previous
    if deployment_id is not None:
        found["deploymentId"] = deployment_id
    if message:
        found["statusMessage"] = message
    return found


def iso_time(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(
    *,
    event_id: str,
    detail_type: str,
    account_id: str,
    region: str,
    resource_arn: str,
    detail: dict[str, Any],
    now: float,
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": SOURCE,
        "account": account_id,
        "time": iso_time(now),
        "region": region,
        "resources": [resource_arn],
        "detail": detail,
    }


def body(document: dict[str, Any]) -> str:
    """The exact text every delivery of the event sends (and signs)."""
    return orjson.dumps(document).decode()
