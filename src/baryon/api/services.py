"""Services (reference §1.6, §5): CreateService, GetService, ListServices, UpdateService, DeleteService.
Their instances and pipelines have their own modules (`service_instances`, `service_pipelines`).

Invariants: CreateService validates the whole ServiceSpec (every instance against its environment and
the template's schema, the pipeline section exactly when the template has a pipeline) before writing
anything, then writes the service, its instances, its pipeline, their deployment records and jobs in
one transaction; an instance with an attached component is never removed (UpdateService, DeleteService
refuse with ConflictException); UpdateService with a spec adds and removes instances, redeploys the
pipeline and stores the update's plan on the service in the same transaction (its outcome and rollback:
store/services.py); a description-only UpdateService leaves the status alone; service actions wait while
the service is in any *_IN_PROGRESS status; on a service that syncs from git, the instances an
UpdateService adds open sync blockers on themselves and those it removes one on the service
(`baryon.api.sync_blockers`).

A service's spec follows its instances: once no service action is in flight, GetService shows the
instances that exist and are not being (or failed to be) deleted, each with the inputs it was last
deployed with (after UpdateServiceInstance, CreateServiceInstance, or an update rolled back), and the
pipeline section the inputs the pipeline was last given (after UpdateServicePipeline), so that a spec
read from GetService can be edited and given back to UpdateService.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon import deployables
from baryon.api.common import (
    check_account_quota,
    clean,
    create_deployable,
    page_by_name,
    target,
)
from baryon.api.kinds import SERVICE
from baryon.api.registry import Context, Params, operation
from baryon.api.resources import resolver
from baryon.api.service_instances import add_instance, new_instance_inputs, remove_instance
from baryon.api.service_lookup import (
    SERVICE_ROWS,
    check_instance_count,
    find_pipeline,
    find_service,
    refuse_service_busy,
    require_service,
    service_arn,
    service_version,
    state,
)
from baryon.api.service_pipelines import pipeline_shape, start_pipeline
from baryon.api.sync_blockers import instance_changed, instance_removed
from baryon.api.tags import put_tags
from baryon.api.templates import version_for_create
from baryon.deployables import SERVICE_PIPELINE, Start
from baryon.deployables.wire import with_warnings
from baryon.domain import arns
from baryon.domain.deployments import CREATE, DELETE, DELETE_IN_PROGRESS, LEAVING, UPDATE
from baryon.domain.specs import (
    PIPELINE_INPUT,
    InstanceSpec,
    instance_inputs_in,
    parse_pipeline_spec,
    parse_service_spec,
    resolve_current_values,
    spec_inputs,
    spec_with_instances,
    spec_with_pipeline,
)
from baryon.domain.template_versions import rendering_engine, schema_of
from baryon.events import outbox
from baryon.protocol.errors import ConflictException, ValidationException
from baryon.store import components as component_store
from baryon.store import services as service_state
from baryon.store import templates as template_store
from baryon.store.schema import account_settings, service_instances, services

S = services.c
I = service_instances.c  # noqa: E741
CUSTOMER_MANAGED = "CUSTOMER_MANAGED"


def current_spec(connection: Connection, service: Row[Any], pipeline: Row[Any] | None) -> str:
    """The service's spec with the instances it has now, each with the inputs it was given for its last
    successful deployment (`CURRENT_VAL` resolved), and the inputs its pipeline was given; while a create,
    update or delete of the service is in flight, the spec it asked for."""
    if service.status in service_state.IN_FLIGHT:
        return str(service.spec)
    rows = connection.execute(
        sa.select(I.name, I.environment_name, I.spec, I.inputs)
        .where(I.service_id == service.id, I.deployment_status.not_in(LEAVING))
        .order_by(I.name)
    ).all()
    readers: dict[str, Callable[[str], dict[str, Any]]] = {}
    instances = []
    for row in rows:
        current = orjson.loads(row.inputs)
        if row.spec not in readers:
            readers[row.spec] = instance_inputs_in(row.spec)
        given = resolve_current_values(readers[row.spec](row.name), current)
        instances.append(InstanceSpec(row.name, row.environment_name, given))
    text = spec_with_instances(service.spec, instances)
    if pipeline is None:
        return text
    given = resolve_current_values(parse_pipeline_spec(pipeline.spec), orjson.loads(pipeline.inputs))
    return spec_with_pipeline(text, given)


def service_shape(
    ctx: Context, connection: Connection, row: Row[Any], *, summary: bool = False
) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "name": row.name,
        "arn": service_arn(ctx, row.name),
        "templateName": row.template_name,
        "status": row.status,
        "statusMessage": row.status_message,
        "description": row.description,
        "createdAt": row.created_at,
        "lastModifiedAt": row.last_modified_at,
    }
    if not summary:
        pipeline = find_pipeline(connection, ctx, row.name)
        shape.update(
            spec=current_spec(connection, row, pipeline),
            repositoryConnectionArn=row.repository_connection_arn,
            repositoryId=row.repository_id,
            branchName=row.branch_name,
        )
        if pipeline is not None:
            shape["pipeline"] = pipeline_shape(ctx, pipeline)
    return clean(shape)


def _check_pipeline_settings(
    ctx: Context, connection: Connection, template: Row[Any], version: Row[Any]
) -> None:
    """The account settings must provide what the pipeline's provisioning method needs."""
    settings = connection.execute(
        sa.select(
            account_settings.c.pipeline_service_role_arn,
            account_settings.c.pipeline_codebuild_role_arn,
            account_settings.c.pipeline_provisioning_repository,
        ).where(account_settings.c.account_id == ctx.account_id, account_settings.c.region == ctx.region)
    ).first()
    pipeline_engine = rendering_engine(version, "pipeline_infrastructure")
    if pipeline_engine == "codebuild":
        if settings is None or not settings.pipeline_codebuild_role_arn:
            raise ValidationException(
                "The account has no pipelineCodebuildRoleArn (UpdateAccountSettings) "
                "to provision the pipeline with CodeBuild."
            )
    elif pipeline_engine == "hcl":
        if settings is None or not settings.pipeline_provisioning_repository:
            raise ValidationException(
                f"The pipeline of service template {template.name} is a Terraform template; the account "
                "has no pipelineProvisioningRepository (UpdateAccountSettings) to provision it with."
            )
    elif settings is None or not settings.pipeline_service_role_arn:
        raise ValidationException(
            "The account has no pipelineServiceRoleArn (UpdateAccountSettings) "
            "to provision the pipeline with."
        )


@operation("CreateService", write=True)
def create_service(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    name = params["name"]
    template, chosen = version_for_create(ctx, connection, SERVICE, params)
    if find_service(connection, ctx, name) is not None:
        raise ConflictException(f"A service named {name} already exists.")
    check_account_quota(ctx, connection, services, "services", "services")
    version = template_store.chosen_version(connection, template, chosen)
    has_pipeline = template.provisioning != CUSTOMER_MANAGED
    repository = [params.get(k) for k in ("repositoryConnectionArn", "repositoryId", "branchName")]
    if not has_pipeline and any(repository):
        raise ValidationException(
            f"Service template {template.name} has no pipeline; do not give repositoryConnectionArn, "
            "repositoryId or branchName."
        )
    spec = parse_service_spec(params["spec"])
    check_instance_count(ctx, connection, len(spec.instances))
    new_instances = [
        (
            instance.name,
            *new_instance_inputs(
                ctx, connection, version, instance.name, instance.environment, instance.inputs
            ),
        )
        for instance in spec.instances
    ]
    pipeline_inputs = None
    if has_pipeline:
        if spec.pipeline is None:
            raise ValidationException(
                f"Invalid spec: service template {template.name} has a pipeline; "
                "the spec needs a 'pipeline' section."
            )
        pipeline_inputs = spec_inputs(
            schema_of(version), PIPELINE_INPUT, spec.pipeline, {}, where=f"pipeline of service {name}"
        )
        _check_pipeline_settings(ctx, connection, template, version)
    elif spec.pipeline is not None:
        raise ValidationException(
            f"Invalid spec: service template {template.name} has no pipeline; remove the 'pipeline' section."
        )
    now = ctx.now
    connection.execute(
        sa.insert(services).values(
            account_id=ctx.account_id,
            region=ctx.region,
            name=name,
            template_id=template.id,
            description=params.get("description"),
            spec=params["spec"],
            status=service_state.CREATE_IN_PROGRESS,
            repository_connection_arn=params.get("repositoryConnectionArn"),
            repository_id=params.get("repositoryId"),
            branch_name=params.get("branchName"),
            created_at=now,
            last_modified_at=now,
        )
    )
    service = require_service(connection, ctx, name)
    _changed(ctx, connection, name, None, service_state.CREATE_IN_PROGRESS)
    put_tags(ctx, connection, service_arn(ctx, name), params.get("tags") or [])
    for instance_name, env, inputs in new_instances:
        add_instance(
            ctx,
            connection,
            service,
            version,
            instance_name,
            env,
            inputs,
            params["spec"],
            params.get("tags") or [],
            None,
        )
    if pipeline_inputs is not None:
        columns = {
            "service_id": service.id,
            **deployables.version_columns(chosen, params["spec"], pipeline_inputs.values),
        }
        target_state = state("servicePipeline", template.name, chosen, params["spec"], pipeline_inputs.values)
        start = Start(
            CREATE, spec.instances[0].environment, with_warnings(target_state, pipeline_inputs.warnings)
        )
        create_deployable(ctx, connection, target(ctx, SERVICE_PIPELINE, name), columns, start, now=now)
    return {"service": service_shape(ctx, connection, require_service(connection, ctx, name))}


@operation("GetService", write=False)
def get_service(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    return {"service": service_shape(ctx, connection, require_service(connection, ctx, params["name"]))}


@operation("ListServices", write=False)
def list_services(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    query = SERVICE_ROWS.where(S.account_id == ctx.account_id, S.region == ctx.region)
    shape = partial(service_shape, ctx, connection, summary=True)
    return page_by_name(ctx, params, connection, query, S.name, shape, member="services")


@operation("UpdateService", write=True)
def update_service(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    service = require_service(connection, ctx, params["name"])
    refuse_service_busy(connection, ctx, service, "be updated")
    changes: dict[str, Any] = {"last_modified_at": ctx.now}
    if "description" in params:
        changes["description"] = params["description"]
    if "spec" in params:
        plan = _update_instances(ctx, connection, service, params["spec"])
        changes.update(
            spec=params["spec"],
            status=service_state.UPDATE_IN_PROGRESS,
            status_message=None,
            update_state=plan.dumps(),
        )
    connection.execute(sa.update(services).where(S.id == service.id).values(**changes))
    if "status" in changes:
        _changed(ctx, connection, service.name, service.status, changes["status"])
    if "spec" in params:
        # An update that deploys nothing is complete at once.
        service_state.refresh(connection, service.id, service_arn(ctx, service.name), ctx.now)
    return {"service": service_shape(ctx, connection, require_service(connection, ctx, service.name))}


def _changed(ctx: Context, connection: Connection, name: str, previous: str | None, status: str) -> None:
    """The service's status changed in this transaction: its event, in the same transaction."""
    outbox.service_changed(
        connection,
        account_id=ctx.account_id,
        region=ctx.region,
        name=name,
        previous=previous,
        status=status,
        now=ctx.now,
    )


DETACH_FIRST = "detach it first (UpdateComponent with empty serviceName and serviceInstanceName)"


def _attached(connection: Connection, instances: Sequence[Row[Any]]) -> tuple[str, str] | None:
    """(component, instance) of the first component attached to one of the instances, if any."""
    component = component_store.attached(connection, [row.id for row in instances])
    if component is None:
        return None
    return component.name, next(row.name for row in instances if row.id == component.service_instance_id)


def _update_instances(
    ctx: Context, connection: Connection, service: Row[Any], spec_text: str
) -> service_state.UpdatePlan:
    """Add the instances the new spec names and remove those it no longer names (reference §1.6); return
    the plan that settling their deployments follows (store/services.py)."""
    spec = parse_service_spec(spec_text)
    current = {
        row.name: row
        for row in connection.execute(sa.select(service_instances).where(I.service_id == service.id)).all()
    }
    wanted = {instance.name: instance for instance in spec.instances}
    found = _attached(connection, [row for name, row in current.items() if name not in wanted])
    if found is not None:
        raise ConflictException(
            f"Service {service.name} cannot remove service instance {found[1]}: component {found[0]} is "
            f"attached to it; {DETACH_FIRST}."
        )
    check_instance_count(ctx, connection, len(wanted))
    for name, instance in wanted.items():
        row = current.get(name)
        if row is None:
            continue
        if instance.environment != row.environment_name:
            raise ValidationException(
                f"UpdateService cannot move service instance {name} to another environment; "
                "remove it and add a new instance instead."
            )
        stored = orjson.loads(row.inputs)
        given = resolve_current_values(instance.inputs, stored)
        if any(stored.get(key) != value for key, value in given.items()):
            raise ValidationException(
                f"UpdateService cannot change the inputs of service instance {name}; "
                "use UpdateServiceInstance."
            )
    version = service_version(connection, ctx, service)
    added = [
        (name, *new_instance_inputs(ctx, connection, version, name, instance.environment, instance.inputs))
        for name, instance in wanted.items()
        if name not in current
    ]
    for name, env, inputs in added:
        add_instance(ctx, connection, service, version, name, env, inputs, spec_text, [], None)
        instance_changed(ctx, connection, service.id, service.name, name, created=True)
    removed = [name for name in current if name not in wanted]
    for name in removed:
        remove_instance(ctx, connection, service, current[name])
        instance_removed(ctx, connection, service.id, service.name, name)
    pipeline = find_pipeline(connection, ctx, service.name)
    pipeline_deployment = None
    if pipeline is not None and (added or removed):
        first = next(iter(wanted.values()))
        version_now = (pipeline.template_major, pipeline.template_minor)
        same = state(
            "servicePipeline",
            service.template_name,
            version_now,
            pipeline.spec,
            orjson.loads(pipeline.inputs),
        )
        pipeline_deployment = start_pipeline(
            ctx, connection, pipeline, Start(UPDATE, first.environment, same, same)
        )
    return service_state.UpdatePlan(
        previous_spec=service.spec,
        added=[name for name, _, _ in added],
        removed=sorted(removed),
        pipeline_deployment=pipeline_deployment,
    )


@operation("DeleteService", write=True)
def delete_service(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    service = require_service(connection, ctx, params["name"])
    refuse_service_busy(connection, ctx, service, "be deleted")
    now = ctx.now
    instances = connection.execute(sa.select(service_instances).where(I.service_id == service.id)).all()
    found = _attached(connection, instances)
    if found is not None:
        raise ConflictException(
            f"Service {service.name} cannot be deleted: component {found[0]} is attached to service "
            f"instance {found[1]}; {DETACH_FIRST}."
        )
    for row in instances:
        remove_instance(ctx, connection, service, row)
    pipeline = find_pipeline(connection, ctx, service.name)
    if pipeline is not None:
        version_now = (pipeline.template_major, pipeline.template_minor)
        same = state("servicePipeline", service.template_name, version_now, pipeline.spec, None)
        start_pipeline(
            ctx,
            connection,
            pipeline,
            Start(
                DELETE,
                instances[0].environment_name if instances else "",
                same,
                same,
                status=DELETE_IN_PROGRESS,
            ),
        )
    connection.execute(
        sa.update(services)
        .where(S.id == service.id)
        .values(status=service_state.DELETE_IN_PROGRESS, status_message=None, last_modified_at=now)
    )
    _changed(ctx, connection, service.name, service.status, service_state.DELETE_IN_PROGRESS)
    service_state.refresh(connection, service.id, service_arn(ctx, service.name), now)
    remaining = find_service(connection, ctx, service.name)
    shape = service_shape(ctx, connection, remaining if remaining is not None else service)
    shape.update(status=service_state.DELETE_IN_PROGRESS, spec=service.spec)
    return {"service": shape}


@resolver("service")
def _resolve(connection: Connection, ctx: Context, parsed: arns.ParsedArn) -> bool:
    return len(parsed.parts) == 2 and find_service(connection, ctx, parsed.parts[1]) is not None
