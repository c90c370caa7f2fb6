"""What every deployable kind does the same way: the deployment members of its wire shape, the "a
deployment is in progress" guard, starting and cancelling a deployment, outputs per deployment and
provisioned resources.

Invariants: a deployment is started in the caller's transaction: the deployment record, its job and
the resource's deployment columns (status, attempted time, last attempted id, message cleared) are
written together, with the status-change event (`baryon.events.outbox`); the record's name columns
follow from the target (a component's service and instance come from its target state, as it may be
attached or not); a cancel moves both the resource and its deployment to CANCELLING (an event too), and
is refused (ConflictException) unless a deployment is IN_PROGRESS; outputs of a given deployment are
those recorded on it, and only a deployment of the same resource, account and region is found. A
resource adopted without its spec (`needs_spec`) refuses a deploying update that gives none
(ValidationException, `needs_spec_message`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.clock import Ids
from baryon.deployables.kinds import COMPONENT, SERVICE_INSTANCE, SERVICE_PIPELINE, Target
from baryon.deployables.lookup import require
from baryon.domain.deployments import BUSY, CANCELLING, DELETE_IN_PROGRESS, IN_PROGRESS
from baryon.events import outbox
from baryon.protocol.errors import ConflictException, ResourceNotFoundException, ValidationException
from baryon.store import deployments as deployment_store
from baryon.store import prepared

#: The wire members every deployable's shape carries, and the row columns they come from.
DEPLOYMENT_MEMBERS = {
    "deploymentStatus": "deployment_status",
    "deploymentStatusMessage": "deployment_status_message",
    "createdAt": "created_at",
    "lastDeploymentAttemptedAt": "last_deployment_attempted_at",
    "lastDeploymentSucceededAt": "last_deployment_succeeded_at",
    "lastAttemptedDeploymentId": "last_attempted_deployment_id",
    "lastSucceededDeploymentId": "last_succeeded_deployment_id",
}


def deployment_members(row: Any) -> dict[str, Any]:
    """The deployment members of a deployable's wire shape (None where unset)."""
    return {member: getattr(row, column) for member, column in DEPLOYMENT_MEMBERS.items()}


def version_members(row: Any) -> dict[str, Any]:
    """The template version members of a template-based deployable's wire shape."""
    return {"templateMajorVersion": str(row.template_major), "templateMinorVersion": str(row.template_minor)}


def busy(row: Any) -> bool:
    return bool(row.deployment_status in BUSY)


def busy_message(target: Target, status: str) -> str:
    return f"{target.title} has a deployment in progress ({status}); wait for it to finish or cancel it."


def refuse_busy(target: Target, row: Any) -> None:
    """ConflictException while the resource has a deployment in flight."""
    if busy(row):
        raise ConflictException(busy_message(target, row.deployment_status))


def needs_spec_message(target: Target, row: Any, command: str) -> str:
    """Why a resource adopted without its spec cannot be deployed without one, and how to give it."""
    return (
        f"{target.title} was adopted from CloudFormation stack {row.bound_stack_name} without its spec, so "
        f"it cannot be deployed without one; give its spec: {command} --spec file://spec.yaml "
        "--deployment-type CURRENT_VERSION"
    )


def refuse_needs_spec(target: Target, row: Any, given: Any, command: str) -> None:
    """ValidationException when a deploying update gives no spec (`given`) to a resource adopted without
    its spec; `command` is the AWS CLI command, with its names, that gives one."""
    if row.needs_spec and not given:
        raise ValidationException(needs_spec_message(target, row, command))


def _record_names(target: Target, member: dict[str, Any]) -> dict[str, Any]:
    kind, names = target.kind, target.names
    if kind is SERVICE_INSTANCE:
        return {"service_name": names[0], "service_instance_name": names[1]}
    if kind is SERVICE_PIPELINE:
        return {"service_name": names[0]}
    if kind is COMPONENT:
        return {
            "component_name": names[0],
            "service_name": member.get("serviceName"),
            "service_instance_name": member.get("serviceInstanceName"),
        }
    return {}


def _key(target: Target, row: Any) -> dict[str, Any]:
    return {"service_id": row.service_id} if target.kind is SERVICE_PIPELINE else {"id": row.id}


def update_row(connection: Connection, target: Target, row: Any, values: dict[str, Any]) -> None:
    """Set `values` on the resource's row (a statement prepared once per set of columns)."""
    key = _key(target, row)
    prepared.update(target.kind.table, tuple(key), tuple(values)).run(
        connection, {**{f"where_{k}": v for k, v in key.items()}, **values}
    )


@dataclass(frozen=True)
class Start:
    """A deployment to start: its operation (CREATE, UPDATE, DELETE), the environment it names, its
    target and initial states (the kind's state member), the resource's status while it runs, and
    further columns of the resource row written with its deployment columns."""

    operation: str
    environment_name: str
    target_state: dict[str, Any]
    initial_state: dict[str, Any] | None = None
    status: str = IN_PROGRESS
    extra: dict[str, Any] = field(default_factory=dict)


def start(
    connection: Connection,
    target: Target,
    row: Any,
    start: Start,
    *,
    ids: Ids,
    now: float,
    created: bool = False,
) -> str:
    """Start a deployment of the resource (`row`, already written; `created`: by this transaction) in the
    caller's transaction and return its id; the status change is an event in the same transaction."""
    deployment_id = ids.uuid()
    deployment_store.start(
        connection,
        deployment_id=deployment_id,
        job_id=ids.uuid(),
        account_id=target.account_id,
        region=target.region,
        target_type=target.kind.target_type,
        target_arn=target.arn,
        target_created_at=row.created_at,
        operation=start.operation,
        environment_name=start.environment_name,
        target_state=start.target_state,
        initial_state=start.initial_state,
        last_attempted=row.last_attempted_deployment_id,
        last_succeeded=row.last_succeeded_deployment_id,
        now=now,
        **_record_names(target, start.target_state[target.kind.state_member]),
    )
    values = {
        "deployment_status": start.status,
        "deployment_status_message": None,
        "last_deployment_attempted_at": now,
        "last_attempted_deployment_id": deployment_id,
        **start.extra,
    }
    update_row(connection, target, row, values)
    _changed(connection, target, None if created else row.deployment_status, start.status, deployment_id, now)
    return deployment_id


def _changed(
    connection: Connection,
    target: Target,
    previous: str | None,
    status: str,
    deployment_id: str | None,
    now: float,
) -> None:
    outbox.deployable_changed(
        connection,
        target_type=target.kind.target_type,
        account_id=target.account_id,
        region=target.region,
        names=target.names,
        previous=previous,
        status=status,
        deployment_id=deployment_id,
        now=now,
    )


def version_columns(version: tuple[int, int], spec: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The columns of a template-based deployable that say what it deploys."""
    return {
        "template_major": version[0],
        "template_minor": version[1],
        "spec": spec,
        "inputs": orjson.dumps(inputs).decode(),
    }


def create(
    connection: Connection,
    target: Target,
    columns: dict[str, Any],
    start_with: Start,
    *,
    ids: Ids,
    now: float,
) -> str:
    """Insert a new resource of the target's kind (`columns`: those of its own) and start its CREATE
    deployment in the caller's transaction; return the deployment's id. A template-based resource shows
    its creation time as `lastDeploymentSucceededAt` until a deployment succeeds."""
    values: dict[str, Any] = {
        "deployment_status": IN_PROGRESS,
        "created_at": now,
        "last_deployment_attempted_at": now,
        "outputs": "[]",
        "resources": "[]",
    }
    if target.kind is not COMPONENT:
        values["last_deployment_succeeded_at"] = now
    if target.kind is not SERVICE_PIPELINE:
        values.update(account_id=target.account_id, region=target.region)
    connection.execute(sa.insert(target.kind.table).values(**values, **columns))
    return start(connection, target, require(connection, target), start_with, ids=ids, now=now, created=True)


def cancel(connection: Connection, target: Target, row: Any, now: float) -> str:
    """Ask for the cancel of the resource's in-flight deployment; return that deployment's id."""
    if row.deployment_status not in (IN_PROGRESS, DELETE_IN_PROGRESS):
        raise ConflictException(
            f"{target.title} has no deployment in progress to cancel ({row.deployment_status})."
        )
    update_row(connection, target, row, {"deployment_status": CANCELLING})
    deployment_id: str = row.last_attempted_deployment_id
    deployment_store.set_status(connection, deployment_id, CANCELLING, now)
    _changed(connection, target, row.deployment_status, CANCELLING, deployment_id, now)
    return deployment_id


def outputs(connection: Connection, target: Target, row: Any, deployment_id: str | None) -> list[Any]:
    """The resource's current outputs, or those recorded on one of its deployments."""
    if not deployment_id:
        current: list[Any] = orjson.loads(row.outputs)
        return current
    record = deployment_store.find(connection, deployment_id)
    if (
        record is None
        or record.account_id != target.account_id
        or record.region != target.region
        or record.target_arn != target.arn
    ):
        raise ResourceNotFoundException(f"The requested deployment does not exist: {deployment_id}")
    recorded: list[Any] = orjson.loads(record.outputs or "[]")
    return recorded


def provisioned_resources(row: Any) -> list[Any]:
    resources: list[Any] = orjson.loads(row.resources)
    return resources
