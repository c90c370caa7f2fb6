"""Finding a deployable's row: by kind and names, by ARN, or as the target of a deployment record.

Invariants: one prepared query per kind, used by every layer (handlers, notifications, tagging, the
deployment job), so the row of a kind has the same columns wherever it is read: its own table's
columns plus `template_name` (environment, instance, pipeline), `template_provisioning` and the
`connection_status`, `connection_role_arn`, `connection_codebuild_role_arn`,
`connection_component_role_arn` of its environment account connection (environment; None without one, or
when it was deleted),
`service_name` (pipeline) and `environment_name`, `service_name`, `service_instance_name` (component,
None when detached). A row is found only inside the account and region of its target; `where` selects
the same row in its table for updates.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.deployables.kinds import (
    COMPONENT,
    ENVIRONMENT,
    KINDS,
    SERVICE_INSTANCE,
    SERVICE_PIPELINE,
    Kind,
    Target,
    from_arn,
)
from baryon.protocol.errors import ResourceNotFoundException
from baryon.store import schema
from baryon.store.prepared import Prepared

E, S, I = schema.environments.c, schema.services.c, schema.service_instances.c  # noqa: E741
T = schema.templates.c
X = schema.environment_account_connections.c

#: An environment's account connection, as long as it exists: it must belong to the environment's
#: (management) account and region.
_CONNECTION = sa.and_(
    X.id == E.environment_account_connection_id,
    X.management_account_id == E.account_id,
    X.region == E.region,
)

_SCOPE: dict[str, Any] = {"account_id": sa.bindparam("account_id"), "region": sa.bindparam("region")}

#: The row query of each kind, without its name conditions.
ROWS: dict[str, Any] = {
    ENVIRONMENT.target_type: sa.select(
        schema.environments,
        T.name.label("template_name"),
        T.provisioning.label("template_provisioning"),
        X.status.label("connection_status"),
        X.role_arn.label("connection_role_arn"),
        X.codebuild_role_arn.label("connection_codebuild_role_arn"),
        X.component_role_arn.label("connection_component_role_arn"),
    )
    .join(schema.templates, T.id == E.template_id)
    .outerjoin(schema.environment_account_connections, _CONNECTION),
    SERVICE_INSTANCE.target_type: sa.select(schema.service_instances),
    SERVICE_PIPELINE.target_type: sa.select(
        schema.service_pipelines, S.name.label("service_name"), T.name.label("template_name")
    )
    .join(schema.services, S.id == schema.service_pipelines.c.service_id)
    .join(schema.templates, T.id == S.template_id),
    COMPONENT.target_type: sa.select(
        schema.components,
        E.name.label("environment_name"),
        S.name.label("service_name"),
        I.name.label("service_instance_name"),
    ).select_from(
        schema.components.join(schema.environments, E.id == schema.components.c.environment_id)
        .outerjoin(schema.service_instances, I.id == schema.components.c.service_instance_id)
        .outerjoin(schema.services, S.id == I.service_id)
    ),
}


def scope_condition(kind: Kind) -> Any:
    """The condition that keeps a kind's rows to one account and region (bound parameters)."""
    if kind is SERVICE_PIPELINE:
        return sa.and_(S.account_id == _SCOPE["account_id"], S.region == _SCOPE["region"])
    column = kind.table.c
    return sa.and_(column.account_id == _SCOPE["account_id"], column.region == _SCOPE["region"])


def scoped(kind: Kind) -> Any:
    """The row query of a kind kept to one account and region (bind `account_id` and `region`), for
    lists."""
    return ROWS[kind.target_type].where(scope_condition(kind))


def _names_condition(kind: Kind) -> Any:
    name: Any = sa.bindparam("name0")
    if kind is SERVICE_INSTANCE:
        return sa.and_(I.service_name == name, I.name == sa.bindparam("name1"))
    if kind is SERVICE_PIPELINE:
        return S.name == name
    return kind.table.c.name == name


_FIND = {kind.target_type: Prepared(scoped(kind).where(_names_condition(kind))) for kind in KINDS.values()}


def find(connection: Connection, target: Target) -> Any:
    """The row of a deployable, or None."""
    values = {"account_id": target.account_id, "region": target.region}
    values.update({f"name{index}": name for index, name in enumerate(target.names)})
    return _FIND[target.kind.target_type].first(connection, values)


def not_found(target: Target) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"The requested {target.kind.label} does not exist: {target.arn}")


def require(connection: Connection, target: Target) -> Any:
    """The row of a deployable; ResourceNotFoundException naming its ARN when there is none."""
    row = find(connection, target)
    if row is None:
        raise not_found(target)
    return row


def find_by_arn(connection: Connection, account_id: str, region: str, arn: str) -> tuple[Target, Any] | None:
    """The deployable an ARN names and its row, when the ARN is of the caller's account and region and
    the resource exists."""
    target = from_arn(arn)
    if target is None or target.account_id != account_id or target.region != region:
        return None
    row = find(connection, target)
    return (target, row) if row is not None else None


def where(kind: Kind, row: Any) -> Any:
    """The condition that selects `row` in its kind's table."""
    if kind is SERVICE_PIPELINE:
        return schema.service_pipelines.c.service_id == row.service_id
    return kind.table.c.id == row.id
