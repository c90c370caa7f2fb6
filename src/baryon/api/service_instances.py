"""Service instances (reference §1.6, §5): the wire shape, adding and removing instances, and
CreateServiceInstance, GetServiceInstance, ListServiceInstances, UpdateServiceInstance. Cancel, outputs
and provisioned resources are the deployables' common operations (`baryon.api.deployable_operations`).

Invariants: an instance is written with its CREATE deployment and job in one transaction; an instance
being added or removed by an update of its service, or with a deployment in flight (its own or its
attached component's), refuses updates (ConflictException); `deployedTemplateVersionStatus` filters with
the one definition of "up to date" (`baryon.domain.template_versions.version_status`) against the
instance's own template, as GetResourcesSummary counts; on a service that syncs from git, a create or
update by anyone but the sync opens a sync blocker (`baryon.api.sync_blockers`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon import deployables
from baryon.api.common import (
    clean,
    create_deployable,
    next_token,
    page_position,
    page_size,
    start_deployment,
    target,
)
from baryon.api.kinds import SERVICE
from baryon.api.registry import Context, Params, operation
from baryon.api.service_lookup import (
    check_instance_count,
    compatible_environment,
    refuse_service_busy,
    require_service,
    service_version,
    state,
)
from baryon.api.sync_blockers import instance_changed
from baryon.api.tags import put_tags
from baryon.api.templates import version_for_create, version_for_update
from baryon.deployables import SERVICE_INSTANCE, Start
from baryon.deployables.wire import with_warnings
from baryon.domain.deployments import BUSY, CREATE, NONE, UPDATE
from baryon.domain.specs import (
    SERVICE_INPUT,
    Inputs,
    parse_instance_spec_from_service_spec,
    parse_service_spec,
    spec_inputs,
)
from baryon.domain.template_versions import VERSION_STATUSES, schema_of
from baryon.protocol.errors import ConflictException, ValidationException
from baryon.store import components as component_store
from baryon.store import services as service_state
from baryon.store import templates as template_store
from baryon.store.schema import service_instances, services, templates

I = service_instances.c  # noqa: E741
S = services.c
T = templates.c


def find_instance(connection: Connection, ctx: Context, service: str, name: str) -> Any:
    return deployables.find(connection, target(ctx, SERVICE_INSTANCE, service, name))


def require_instance(connection: Connection, ctx: Context, service: str, name: str) -> Any:
    return deployables.require(connection, target(ctx, SERVICE_INSTANCE, service, name))


def instance_shape(ctx: Context, row: Row[Any], *, summary: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "name": row.name,
        "serviceName": row.service_name,
        "arn": target(ctx, SERVICE_INSTANCE, row.service_name, row.name).arn,
        "environmentName": row.environment_name,
        "templateName": row.template_name,
        **deployables.version_members(row),
        **deployables.deployment_members(row),
    }
    if not summary:
        shape["spec"] = row.spec
        shape["lastClientRequestToken"] = row.last_client_request_token
    return clean(shape)


def add_instance(
    ctx: Context,
    connection: Connection,
    service: Row[Any],
    version: Row[Any],
    name: str,
    env: Row[Any],
    inputs: Inputs,
    spec: str,
    tags: list[dict[str, str]],
    client_token: str | None,
) -> None:
    """Insert an instance with its CREATE deployment and job."""
    chosen = (version.major, version.minor)
    columns = {
        "service_id": service.id,
        "name": name,
        "environment_id": env.id,
        "last_client_request_token": client_token,
        "service_name": service.name,
        "environment_name": env.name,
        "template_name": service.template_name,
        **deployables.version_columns(chosen, spec, inputs.values),
    }
    resource = target(ctx, SERVICE_INSTANCE, service.name, name)
    target_state = state("serviceInstance", service.template_name, chosen, spec, inputs.values)
    create_deployable(
        ctx,
        connection,
        resource,
        columns,
        Start(CREATE, env.name, with_warnings(target_state, inputs.warnings)),
    )
    put_tags(ctx, connection, resource.arn, tags)


def remove_instance(ctx: Context, connection: Connection, service: Row[Any], row: Row[Any]) -> None:
    """Start the DELETE deployment of an instance."""
    service_state.start_instance_deletion(
        connection,
        ctx.runtime.ids,
        account_id=ctx.account_id,
        region=ctx.region,
        service_name=service.name,
        template_name=service.template_name,
        row=row,
        now=ctx.now,
    )
    ctx.after_commit.append(ctx.runtime.wake)


def new_instance_inputs(
    ctx: Context,
    connection: Connection,
    version: Row[Any],
    name: str,
    environment: str,
    given: dict[str, Any],
) -> tuple[Row[Any], Inputs]:
    """The environment and inputs of a new instance, checked against the version it starts on."""
    env = compatible_environment(ctx, connection, version, name, environment)
    inputs = spec_inputs(schema_of(version), SERVICE_INPUT, given, {}, where=f"service instance {name}")
    return env, inputs


@operation("CreateServiceInstance", write=True)
def create_service_instance(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    service = require_service(connection, ctx, params["serviceName"])
    name = params["name"]
    refuse_service_busy(connection, ctx, service, "get a new instance")
    if find_instance(connection, ctx, service.name, name) is not None:
        raise ConflictException(f"Service {service.name} already has an instance named {name}.")
    spec = parse_service_spec(params["spec"])
    instance = next((item for item in spec.instances if item.name == name), None)
    if instance is None:
        raise ValidationException(f"Invalid spec: the ServiceSpec lists no instance named '{name}'.")
    count = connection.execute(sa.select(sa.func.count()).where(I.service_id == service.id)).scalar_one()
    check_instance_count(ctx, connection, count + 1, ValidationException)
    if params.get("templateMajorVersion") is not None:
        template, chosen = version_for_create(
            ctx, connection, SERVICE, {**params, "templateName": service.template_name}
        )
        version = template_store.chosen_version(connection, template, chosen)
    else:
        version = service_version(connection, ctx, service)
    env, inputs = new_instance_inputs(ctx, connection, version, name, instance.environment, instance.inputs)
    add_instance(
        ctx,
        connection,
        service,
        version,
        name,
        env,
        inputs,
        params["spec"],
        params.get("tags") or [],
        params.get("clientToken"),
    )
    instance_changed(ctx, connection, service.id, service.name, name, created=True)
    return {"serviceInstance": instance_shape(ctx, require_instance(connection, ctx, service.name, name))}


_SORT = {
    "name": I.name,
    "deploymentStatus": I.deployment_status,
    "templateName": I.template_name,
    "serviceName": I.service_name,
    "environmentName": I.environment_name,
    "lastDeploymentAttemptedAt": I.last_deployment_attempted_at,
    "createdAt": I.created_at,
}
_ROW_KEY = {
    "name": "name",
    "deploymentStatus": "deployment_status",
    "templateName": "template_name",
    "environmentName": "environment_name",
    "lastDeploymentAttemptedAt": "last_deployment_attempted_at",
    "createdAt": "created_at",
}
_TIMES = {
    "lastDeploymentAttemptedAtBefore": (I.last_deployment_attempted_at, False),
    "lastDeploymentAttemptedAtAfter": (I.last_deployment_attempted_at, True),
    "createdAtBefore": (I.created_at, False),
    "createdAtAfter": (I.created_at, True),
}

#: How far an instance is behind the recommended version of its own service's template.
_VERSION_STATUS = (
    sa.select(
        template_store.version_status_sql(
            I.template_major, I.template_minor, T.recommended_major, T.recommended_minor
        )
    )
    .select_from(services.join(templates, T.id == S.template_id))
    .where(S.id == I.service_id)
    .scalar_subquery()
)


def _stamp(key: str, value: str) -> float:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ValidationException(f"Filter {key} needs an RFC 3339 timestamp, not {value}.") from None


def _filter(key: str, value: str) -> Any:
    if key in _SORT and key not in ("lastDeploymentAttemptedAt", "createdAt"):
        return _SORT[key] == value
    if key in _TIMES:
        column, after = _TIMES[key]
        return column > _stamp(key, value) if after else column < _stamp(key, value)
    if key == "deployedTemplateVersionStatus":
        if value not in VERSION_STATUSES:
            raise ValidationException(
                "deployedTemplateVersionStatus must be UP_TO_DATE, BEHIND_MINOR or BEHIND_MAJOR."
            )
        return value == _VERSION_STATUS
    raise ValidationException(f"Unknown filter key {key}.")


@operation("ListServiceInstances", write=False)
def list_service_instances(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    query = sa.select(service_instances).where(I.account_id == ctx.account_id, I.region == ctx.region)
    if params.get("serviceName"):
        require_service(connection, ctx, params["serviceName"])
        query = query.where(I.service_name == params["serviceName"])
    for item in params.get("filters") or []:
        query = query.where(_filter(item["key"], item["value"]))
    sort_by = params.get("sortBy", "serviceName")
    descending = params.get("sortOrder") == "DESCENDING"
    column = _SORT[sort_by]
    keys = [column, I.service_name, I.name] if sort_by != "serviceName" else [I.service_name, I.name]
    extra = orjson.dumps(
        {k: params.get(k) for k in ("serviceName", "filters", "sortBy", "sortOrder")}
    ).decode()
    after = page_position(ctx, params, extra)
    if after is not None:
        tuple_after = (
            sa.tuple_(*keys) < sa.tuple_(*after) if descending else sa.tuple_(*keys) > sa.tuple_(*after)
        )
        # The redundant bound on the leading key lets the planner use an index range for the keyset.
        leading = keys[0] <= after[0] if descending else keys[0] >= after[0]
        query = query.where(tuple_after, leading)
    size = page_size(params)
    order = [key.desc() if descending else key.asc() for key in keys]
    rows = connection.execute(query.order_by(*order).limit(size + 1)).all()
    result: dict[str, Any] = {"serviceInstances": [instance_shape(ctx, r, summary=True) for r in rows[:size]]}
    if len(rows) > size:
        last = rows[size - 1]
        position = [getattr(last, _ROW_KEY[sort_by])] if sort_by != "serviceName" else []
        result["nextToken"] = next_token(ctx, [*position, last.service_name, last.name], extra)
    return result


def _refuse_update(connection: Connection, service: Row[Any], row: Row[Any]) -> None:
    """ConflictException while the instance cannot be updated: its service's update adds or removes it,
    it (or its service's deletion, or its attached component) has a deployment in flight."""
    if row.name in service_state.touched_by_update(service):
        raise ConflictException(
            f"Service instance {row.name} is being added or removed by an update of service "
            f"{service.name} ({service.status}); wait for it to finish."
        )
    if deployables.busy(row) or service.status == service_state.DELETE_IN_PROGRESS:
        raise ConflictException(
            f"Service instance {row.name} has a deployment in progress "
            f"({row.deployment_status}); wait for it to "
            "finish or cancel it."
        )
    component = component_store.attached(connection, [row.id])
    if component is not None and component.deployment_status in BUSY:
        raise ConflictException(
            f"Component {component.name}, attached to service instance {row.name}, has a deployment in "
            f"progress ({component.deployment_status}); wait for it to finish."
        )


@operation("UpdateServiceInstance", write=True)
def update_service_instance(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    resource = target(ctx, SERVICE_INSTANCE, params["serviceName"], params["name"])
    row = deployables.require(connection, resource)
    service = require_service(connection, ctx, params["serviceName"])
    _refuse_update(connection, service, row)
    if params["deploymentType"] == NONE:
        raise ValidationException("deploymentType NONE has nothing to update on a service instance.")
    deployables.refuse_needs_spec(
        resource,
        row,
        params.get("spec"),
        f"aws proton update-service-instance --service-name {service.name} --name {row.name}",
    )
    template, chosen, version = version_for_update(connection, SERVICE, service.template_id, row, params)
    if version.major != row.template_major:
        compatible_environment(ctx, connection, version, row.name, row.environment_name)
    current = orjson.loads(row.inputs)
    given = parse_instance_spec_from_service_spec(params["spec"], row.name) if params.get("spec") else current
    inputs = spec_inputs(
        schema_of(version), SERVICE_INPUT, given, current, where=f"service instance {row.name}"
    )
    spec_text = params.get("spec", row.spec)
    start_deployment(
        ctx,
        connection,
        resource,
        row,
        Start(
            UPDATE,
            row.environment_name,
            with_warnings(
                state("serviceInstance", template.name, chosen, spec_text, inputs.values), inputs.warnings
            ),
            state("serviceInstance", template.name, (row.template_major, row.template_minor), row.spec, None),
            extra={"last_client_request_token": params.get("clientToken")},
        ),
    )
    instance_changed(ctx, connection, service.id, service.name, row.name, created=False)
    return {"serviceInstance": instance_shape(ctx, deployables.require(connection, resource))}
