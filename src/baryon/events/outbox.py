"""The outbox: an event row, and one delivery (with its job) per webhook target of the event's account,
written in the caller's transaction, which is the transaction of the status change the event tells.

Job: `emit` writes any event; `deployable_changed`, `service_changed`, `template_version_changed` and
`connection_changed` are the one call per kind that the places changing a status make.

Invariants: nothing is written when the status did not change (`previous == status`); the event, its
deliveries and their jobs commit or roll back with the change (no change without its event, no event
without its change, none lost across a crash); deliveries go only to targets of the event's account;
a target created after an event does not receive it.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.domain import arns
from baryon.domain import jobs as job_kinds
from baryon.events import format
from baryon.events.policy import DEFAULT
from baryon.store import prepared
from baryon.store.jobs import enqueue
from baryon.store.schema import event_deliveries, event_targets, events, template_versions, templates

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"

# `seq` is left to the database (it orders the events).
_INSERT_EVENT = sa.insert(events).values(
    {
        name: sa.bindparam(name)
        for name in ("id", "account_id", "region", "detail_type", "resource_arn", "body", "created_at")
    }
)
_TARGETS = prepared.Prepared(
    sa.select(event_targets.c.id)
    .where(event_targets.c.account_id == sa.bindparam("account_id"))
    .order_by(event_targets.c.created_at, event_targets.c.id)
)


def emit(
    connection: Connection,
    *,
    detail_type: str,
    account_id: str,
    region: str,
    resource_arn: str,
    detail: dict[str, Any],
    now: float,
) -> str:
    """Write the event and a delivery per target of its account in the caller's transaction; its id."""
    event_id = str(uuid.uuid4())
    document = format.envelope(
        event_id=event_id,
        detail_type=detail_type,
        account_id=account_id,
        region=region,
        resource_arn=resource_arn,
        detail=detail,
        now=now,
    )
    connection.execute(
        _INSERT_EVENT,
        {
            "id": event_id,
            "account_id": account_id,
            "region": region,
            "detail_type": detail_type,
            "resource_arn": resource_arn,
            "body": format.body(document),
            "created_at": now,
        },
    )
    for target in _TARGETS.all(connection, {"account_id": account_id}):
        delivery_id = str(uuid.uuid4())
        prepared.insert(event_deliveries).run(
            connection,
            {
                "id": delivery_id,
                "event_id": event_id,
                "target_id": target.id,
                "state": PENDING,
                "attempts": 0,
                "last_status_code": None,
                "last_error": None,
                "next_attempt_at": now,
                "delivered_at": None,
                "created_at": now,
                "updated_at": now,
            },
        )
        enqueue(
            connection,
            job_id=delivery_id,
            kind=job_kinds.DELIVER_EVENT,
            payload={"delivery_id": delivery_id, "event_id": event_id, "policy": DEFAULT.to_dict()},
            now=now,
            policy=job_kinds.DELIVER_EVENT_POLICY,
        )
    return event_id


def deployable_changed(
    connection: Connection,
    *,
    target_type: str,
    account_id: str,
    region: str,
    names: tuple[str, ...],
    previous: str | None,
    status: str,
    now: float,
    deployment_id: str | None = None,
    message: str | None = None,
) -> None:
    """An environment, service instance, service pipeline or component (`target_type` as a deployment's
    targetResourceType, `names` as `baryon.deployables` names it) moved from `previous` to `status`."""
    if previous == status:
        return
    emit(
        connection,
        detail_type=format.DEPLOYABLE_DETAIL_TYPES[target_type],
        account_id=account_id,
        region=region,
        resource_arn=arns.deployable_arn(region, account_id, target_type, names),
        detail=format.detail(
            format.deployable_names(target_type, names),
            status,
            previous,
            deployment_id=deployment_id,
            message=message,
        ),
        now=now,
    )


def service_changed(
    connection: Connection,
    *,
    account_id: str,
    region: str,
    name: str,
    previous: str | None,
    status: str,
    now: float,
    message: str | None = None,
) -> None:
    """A service moved from `previous` to `status`."""
    if previous == status:
        return
    emit(
        connection,
        detail_type=format.SERVICE,
        account_id=account_id,
        region=region,
        resource_arn=arns.service_arn(region, account_id, name),
        detail=format.detail({"name": name}, status, previous, message=message),
        now=now,
    )


_VERSION = prepared.Prepared(
    sa.select(
        templates.c.account_id,
        templates.c.region,
        templates.c.kind,
        templates.c.name,
        template_versions.c.major,
        template_versions.c.minor,
    )
    .join(templates, templates.c.id == template_versions.c.template_id)
    .where(template_versions.c.id == sa.bindparam("id"))
)


def template_version_changed(
    connection: Connection,
    version_id: int,
    *,
    previous: str | None,
    status: str,
    now: float,
    message: str | None = None,
) -> None:
    """The template version (its row id) moved from `previous` to `status`."""
    if previous == status:
        return
    row = _VERSION.first(connection, {"id": version_id})
    if row is None:
        return
    resource = arns.template_version_resource(row.kind, row.name, row.major, row.minor)
    emit(
        connection,
        detail_type=(
            format.ENVIRONMENT_TEMPLATE_VERSION
            if row.kind == "ENVIRONMENT"
            else format.SERVICE_TEMPLATE_VERSION
        ),
        account_id=row.account_id,
        region=row.region,
        resource_arn=arns.arn(row.region, row.account_id, resource),
        detail=format.detail(
            {"name": row.name, "majorVersion": str(row.major), "minorVersion": str(row.minor)},
            status,
            previous,
            message=message,
        ),
        now=now,
    )


def connection_changed(
    connection: Connection,
    *,
    account_id: str,
    region: str,
    connection_id: str,
    previous: str | None,
    status: str,
    now: float,
) -> None:
    """An environment account connection (owned by, and told to, its environment account `account_id`)
    moved from `previous` to `status`."""
    if previous == status:
        return
    emit(
        connection,
        detail_type=format.ENVIRONMENT_ACCOUNT_CONNECTION,
        account_id=account_id,
        region=region,
        resource_arn=arns.environment_account_connection_arn(region, account_id, connection_id),
        detail=format.detail({"id": connection_id}, status, previous),
        now=now,
    )
