"""GetDeployment, ListDeployments and DeleteDeployment (reference §1.12).

Invariants: deployment records are scoped by account and region; the optional names of GetDeployment
must match the record; a record of a deployment in flight, or the one a resource's current state rests
on, cannot be deleted (ValidationException: DeleteDeployment's model lists no ConflictException).
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.api.common import clean, next_token, not_found, page_position, page_size
from baryon.api.registry import Context, Params, operation
from baryon.contract.model import service_model
from baryon.domain import arns
from baryon.domain.deployments import BUSY
from baryon.protocol.errors import ValidationException
from baryon.store.schema import components, deployments, environments

D = deployments.c
#: The members the model gives each kind's state (ServiceInstanceState, ComponentState, ...).
_STATE_MEMBERS = {
    kind: frozenset(shape.members)
    for kind, shape in service_model().shape_for("DeploymentState").members.items()
}


def _state(text: str | None) -> dict[str, Any] | None:
    """The stored state as its wire union (members Baryon keeps for itself are left out)."""
    if not text:
        return None
    state: dict[str, Any] = orjson.loads(text)
    wire: dict[str, Any] = {}
    for member, value in state.items():
        wire[member] = {k: v for k, v in value.items() if k in _STATE_MEMBERS[member]}
    return wire


def deployment_shape(ctx: Context, row: Row[Any], *, summary: bool = False) -> dict[str, Any]:
    shape = {
        "id": row.id,
        "arn": arns.arn(ctx.region, ctx.account_id, f"deployment/{row.id}"),
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
        shape["deploymentStatusMessage"] = row.deployment_status_message
        shape["initialState"] = _state(row.initial_state)
        shape["targetState"] = _state(row.target_state)
    return clean(shape)


def _require(ctx: Context, connection: Connection, deployment_id: str) -> Row[Any]:
    row = connection.execute(
        sa.select(deployments).where(
            D.id == deployment_id, D.account_id == ctx.account_id, D.region == ctx.region
        )
    ).first()
    if row is None:
        raise not_found("deployment", arns.arn(ctx.region, ctx.account_id, f"deployment/{deployment_id}"))
    return row


@operation("GetDeployment", write=False)
def get_deployment(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    if params.get("serviceInstanceName") and not params.get("serviceName"):
        raise ValidationException("serviceInstanceName needs serviceName.")
    row = _require(ctx, connection, params["id"])
    for member, column in (
        ("environmentName", "environment_name"),
        ("serviceName", "service_name"),
        ("serviceInstanceName", "service_instance_name"),
        ("componentName", "component_name"),
    ):
        if params.get(member) and getattr(row, column) != params[member]:
            raise not_found("deployment", arns.arn(ctx.region, ctx.account_id, f"deployment/{row.id}"))
    return {"deployment": deployment_shape(ctx, row)}


@operation("ListDeployments", write=False)
def list_deployments(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    if params.get("serviceInstanceName") and not params.get("serviceName"):
        raise ValidationException("serviceInstanceName needs serviceName.")
    query = sa.select(deployments).where(D.account_id == ctx.account_id, D.region == ctx.region)
    for member, column in (
        ("environmentName", D.environment_name),
        ("serviceName", D.service_name),
        ("serviceInstanceName", D.service_instance_name),
        ("componentName", D.component_name),
    ):
        if params.get(member):
            query = query.where(column == params[member])
    extra = "|".join(
        str(params.get(k, ""))
        for k in ("environmentName", "serviceName", "serviceInstanceName", "componentName")
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
    current = connection.execute(
        sa.select(environments.c.id).where(environments.c.last_succeeded_deployment_id == row.id).limit(1)
    ).first()
    if current is not None:
        raise ValidationException(
            f"Deployment {row.id} is the last successful deployment of environment {row.environment_name}; "
            "it cannot be deleted."
        )
    component = connection.execute(
        sa.select(components.c.name).where(components.c.last_succeeded_deployment_id == row.id).limit(1)
    ).first()
    if component is not None:
        raise ValidationException(
            f"Deployment {row.id} is the last successful deployment of component {component.name}; "
            "it cannot be deleted."
        )
    shape = deployment_shape(ctx, row)
    connection.execute(sa.delete(deployments).where(D.id == row.id))
    return {"deployment": shape}
