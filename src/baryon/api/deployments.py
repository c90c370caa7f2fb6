"""GetDeployment, ListDeployments and DeleteDeployment (reference §1.12).

A deployment's `deploymentStatusMessage` also carries the warnings of the request that started it
(inputs the schema does not define, kept as given); its states show only their model members.

Invariants: deployment records are scoped by account and region; the optional names of GetDeployment
must match the record; a record of a deployment in flight, or the one a resource's current state rests
on, cannot be deleted (ValidationException: DeleteDeployment's model lists no ConflictException).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon import deployables
from baryon.api.common import clean, narrowed, next_token, not_found, page_position, page_size
from baryon.api.registry import Context, Params, operation
from baryon.deployables.wire import state_shape, status_message
from baryon.domain import arns
from baryon.domain.deployments import BUSY
from baryon.protocol.errors import ValidationException
from baryon.store.schema import deployments

D = deployments.c
#: The name members of GetDeployment and ListDeployments, and the record columns they match.
_NAME_COLUMNS = {
    "environmentName": "environment_name",
    "serviceName": "service_name",
    "serviceInstanceName": "service_instance_name",
    "componentName": "component_name",
}


def _arn(ctx: Context, deployment_id: str) -> str:
    return arns.deployment_arn(ctx.region, ctx.account_id, deployment_id)


def deployment_shape(ctx: Context, row: Row[Any], *, summary: bool = False) -> dict[str, Any]:
    shape = {
        "id": row.id,
        "arn": _arn(ctx, row.id),
        "targetArn": row.target_arn,
        "targetResourceType": row.target_type,
        "targetResourceCreatedAt": row.target_created_at,
        "environmentName": row.environment_name,
        "serviceName": row.service_name,
        "serviceInstanceName": row.service_instance_name,
        "componentName": row.component_name,
        "deploymentStatus": row.deployment_status,
        "createdAt": row.created_at,
        "lastModifiedAt": row.last_modified_at,
        "completedAt": row.completed_at,
        "lastAttemptedDeploymentId": row.last_attempted_deployment_id,
        "lastSucceededDeploymentId": row.last_succeeded_deployment_id,
    }
    if not summary:
        shape["deploymentStatusMessage"] = status_message(row.deployment_status_message, row.target_state)
        shape["initialState"] = state_shape(row.initial_state)
        shape["targetState"] = state_shape(row.target_state)
    return clean(shape)


def _require(ctx: Context, connection: Connection, deployment_id: str) -> Row[Any]:
    row = connection.execute(
        sa.select(deployments).where(
            D.id == deployment_id, D.account_id == ctx.account_id, D.region == ctx.region
        )
    ).first()
    if row is None:
        raise not_found("deployment", _arn(ctx, deployment_id))
    return row


@operation("GetDeployment", write=False)
def get_deployment(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    if params.get("serviceInstanceName") and not params.get("serviceName"):
        raise ValidationException("serviceInstanceName needs serviceName.")
    row = _require(ctx, connection, params["id"])
    for member, column in _NAME_COLUMNS.items():
        if params.get(member) and getattr(row, column) != params[member]:
            raise not_found("deployment", _arn(ctx, row.id))
    return {"deployment": deployment_shape(ctx, row)}


@operation("ListDeployments", write=False)
def list_deployments(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    query, extra = narrowed(
        sa.select(deployments).where(D.account_id == ctx.account_id, D.region == ctx.region),
        params,
        {member: D[column] for member, column in _NAME_COLUMNS.items()},
    )
    after = page_position(ctx, params, extra)
    if after is not None:
        created, identifier = after
        query = query.where(
            sa.or_(D.created_at < created, sa.and_(D.created_at == created, D.id < identifier))
        )
    size = page_size(params)
    rows = connection.execute(query.order_by(D.created_at.desc(), D.id.desc()).limit(size + 1)).all()
    result: dict[str, Any] = {
        "deployments": [deployment_shape(ctx, row, summary=True) for row in rows[:size]]
    }
    if len(rows) > size:
        last = rows[size - 1]
        result["nextToken"] = next_token(ctx, [last.created_at, last.id], extra)
    return result


@operation("DeleteDeployment", write=True)
def delete_deployment(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    row = _require(ctx, connection, params["id"])
    if row.deployment_status in BUSY:
        raise ValidationException(
            f"Deployment {row.id} is {row.deployment_status}; it cannot be deleted yet."
        )
    for kind in (deployables.ENVIRONMENT, deployables.COMPONENT):
        column = kind.table.c
        holder = connection.execute(
            sa.select(column.name).where(column.last_succeeded_deployment_id == row.id).limit(1)
        ).first()
        if holder is not None:
            raise ValidationException(
                f"Deployment {row.id} is the last successful deployment of {kind.label} {holder.name}; "
                "it cannot be deleted."
            )
    shape = deployment_shape(ctx, row)
    connection.execute(sa.delete(deployments).where(D.id == row.id))
    return {"deployment": shape}
