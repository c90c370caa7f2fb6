"""Services, their instances and pipelines (reference §1.6, §5): create, get, update, delete, list,
cancel, outputs and provisioned resources.

Invariants: CreateService validates the whole ServiceSpec (every instance against its environment and
the template's schema, the pipeline section exactly when the template has a pipeline) before writing
anything, then writes the service, its instances, its pipeline, their deployment records and jobs in
one transaction; instances and the pipeline move between versions independently afterwards; a resource
with a deployment in flight refuses updates (ConflictException), and so does an instance whose attached
component has one; an instance with an attached component is never removed (UpdateService, DeleteService
refuse with ConflictException); UpdateService with a spec adds and removes instances, redeploys the
pipeline and stores the update's plan on the service in the same transaction (its outcome and rollback:
store/services.py); a description-only UpdateService leaves the status alone; service actions wait while
the service is in any *_IN_PROGRESS status.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.api.common import (
    account_quota,
    cancel_deployment,
    check_account_quota,
    clean,
    next_token,
    not_found,
    page_position,
    page_size,
    start_deployment,
)
from baryon.api.kinds import SERVICE
from baryon.api.registry import Context, Params, operation
from baryon.api.resources import resolver
from baryon.api.tags import put_tags
from baryon.api.templates import require_template
from baryon.api.versioning import parts_of, published_version, schema_of, update_target
from baryon.domain import arns
from baryon.domain.deployments import (
    BUSY,
    CREATE,
    DELETE,
    DELETE_IN_PROGRESS,
    IN_PROGRESS,
    NONE,
    UPDATE,
)
from baryon.domain.specs import (
    PIPELINE_INPUT,
    SERVICE_INPUT,
    parse_instance_spec_from_service_spec,
    parse_pipeline_spec,
    parse_service_spec,
    resolve_current_values,
    validate_inputs,
)
from baryon.domain.versions import parse_part
from baryon.protocol.errors import ConflictException, ServiceQuotaExceededException, ValidationException
from baryon.store import components as component_store
from baryon.store import deployments as deployment_store
from baryon.store import prepared
from baryon.store import services as service_state
from baryon.store.prepared import Prepared
from baryon.store.schema import (
    account_settings,
    environments,
    service_instances,
    service_pipelines,
    services,
    templates,
)

S = services.c
I = service_instances.c  # noqa: E741
P = service_pipelines.c
E = environments.c
T = templates.c
CUSTOMER_MANAGED = "CUSTOMER_MANAGED"


def service_arn(ctx: Context, name: str) -> str:
    return arns.arn(ctx.region, ctx.account_id, f"service/{name}")


def instance_arn(ctx: Context, service: str, name: str) -> str:
    return arns.arn(ctx.region, ctx.account_id, f"service/{service}/service-instance/{name}")


def pipeline_arn(ctx: Context, service: str) -> str:
    return arns.arn(ctx.region, ctx.account_id, f"service/{service}/pipeline")


_SERVICE = sa.select(
    services, T.name.label("template_name"), T.provisioning.label("pipeline_provisioning")
).join(templates, T.id == S.template_id)


def find_service(connection: Connection, ctx: Context, name: str) -> Row[Any] | None:
    return connection.execute(
        _SERVICE.where(S.account_id == ctx.account_id, S.region == ctx.region, S.name == name)
    ).first()


def require_service(connection: Connection, ctx: Context, name: str) -> Row[Any]:
    row = find_service(connection, ctx, name)
    if row is None:
        raise not_found("service", service_arn(ctx, name))
    return row


_INSTANCE = sa.select(service_instances)
_INSTANCE_BY_NAME = Prepared(
    _INSTANCE.where(
        I.account_id == sa.bindparam("account_id"),
        I.region == sa.bindparam("region"),
        I.service_name == sa.bindparam("service"),
        I.name == sa.bindparam("name"),
    )
)


def find_instance(connection: Connection, ctx: Context, service: str, name: str) -> Any:
    return _INSTANCE_BY_NAME.first(
        connection, {"account_id": ctx.account_id, "region": ctx.region, "service": service, "name": name}
    )


def require_instance(connection: Connection, ctx: Context, service: str, name: str) -> Any:
    row = find_instance(connection, ctx, service, name)
    if row is None:
        raise not_found("service instance", instance_arn(ctx, service, name))
    return row


def find_pipeline(connection: Connection, service_id: int) -> Row[Any] | None:
    return connection.execute(sa.select(service_pipelines).where(P.service_id == service_id)).first()


def _require_pipeline(connection: Connection, ctx: Context, service: Row[Any]) -> Row[Any]:
    pipeline = find_pipeline(connection, service.id)
    if pipeline is None:
        raise not_found("service pipeline", pipeline_arn(ctx, service.name))
    return pipeline


def _deployment_fields(row: Row[Any]) -> dict[str, Any]:
    return {
        "templateMajorVersion": str(row.template_major),
        "templateMinorVersion": str(row.template_minor),
        "deploymentStatus": row.deployment_status,
        "deploymentStatusMessage": row.deployment_status_message,
        "createdAt": row.created_at,
        "lastDeploymentAttemptedAt": row.last_deployment_attempted_at,
        "lastDeploymentSucceededAt": row.last_deployment_succeeded_at,
        "lastAttemptedDeploymentId": row.last_attempted_deployment_id,
        "lastSucceededDeploymentId": row.last_succeeded_deployment_id,
    }


def pipeline_shape(ctx: Context, service: Row[Any], row: Row[Any]) -> dict[str, Any]:
    return clean(
        {"arn": pipeline_arn(ctx, service.name), "templateName": service.template_name, "spec": row.spec}
        | _deployment_fields(row)
    )


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
        shape.update(
            spec=row.spec,
            repositoryConnectionArn=row.repository_connection_arn,
            repositoryId=row.repository_id,
            branchName=row.branch_name,
        )
        pipeline = find_pipeline(connection, row.id)
        if pipeline is not None:
            shape["pipeline"] = pipeline_shape(ctx, row, pipeline)
    return clean(shape)


def instance_shape(ctx: Context, row: Row[Any], *, summary: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "name": row.name,
        "serviceName": row.service_name,
        "arn": instance_arn(ctx, row.service_name, row.name),
        "environmentName": row.environment_name,
        "templateName": row.template_name,
    } | _deployment_fields(row)
    if not summary:
        shape["spec"] = row.spec
        shape["lastClientRequestToken"] = row.last_client_request_token
    return clean(shape)


def _state(
    member: str, template: str, major: int, minor: int, spec: str | None, inputs: Any
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "templateName": template,
        "templateMajorVersion": str(major),
        "templateMinorVersion": str(minor),
        "inputs": inputs,
    }
    if spec is not None:
        state["spec"] = spec
    return {member: state}


def _new_deployable(now: float, version: Row[Any], spec: str, inputs: Any) -> dict[str, Any]:
    return {
        "template_major": version.major,
        "template_minor": version.minor,
        "spec": spec,
        "inputs": orjson.dumps(inputs).decode(),
        "deployment_status": IN_PROGRESS,
        "created_at": now,
        "last_deployment_attempted_at": now,
        "last_deployment_succeeded_at": now,
        "outputs": "[]",
        "resources": "[]",
    }


def _compatible_environment(
    ctx: Context, connection: Connection, version: Row[Any], instance: str, environment_name: str
) -> Row[Any]:
    env = connection.execute(
        sa.select(environments, T.name.label("template_name"))
        .join(templates, T.id == E.template_id)
        .where(E.account_id == ctx.account_id, E.region == ctx.region, E.name == environment_name)
    ).first()
    if env is None:
        raise ValidationException(
            f"Invalid spec for service instance {instance}: environment {environment_name} does not exist."
        )
    compatible = orjson.loads(version.compatible_environment_templates or "[]")
    if not any(
        c["templateName"] == env.template_name and int(c["majorVersion"]) == env.template_major
        for c in compatible
    ):
        raise ValidationException(
            f"Environment {environment_name} (template {env.template_name} "
            f"major version {env.template_major}) is "
            f"not compatible with version {version.major}.{version.minor} of the service template."
        )
    if env.deployment_status != "SUCCEEDED" and env.last_succeeded_deployment_id is None:
        raise ValidationException(
            f"Environment {environment_name} has not been deployed successfully yet "
            f"({env.deployment_status})."
        )
    engine = parts_of(version).get("instance_infrastructure", {}).get("rendering_engine")
    label = f"Version {version.major}.{version.minor} of the service template"
    if engine == "hcl":
        if not env.provisioning_repository:
            raise ValidationException(
                f"{label} is a Terraform template; environment {environment_name} is not provisioned through "
                f"a repository (self-managed provisioning), so service instance {instance} cannot be "
                "deployed in it."
            )
        return env
    if engine == "codebuild":
        if not env.codebuild_role_arn:
            raise ValidationException(
                f"Environment {environment_name} has no codebuildRoleArn to provision service instances "
                "with CodeBuild."
            )
        return env
    if env.provisioning_repository:
        raise ValidationException(
            f"{label} is provisioned through CloudFormation; environment {environment_name} is provisioned "
            f"through a repository (self-managed provisioning), so service instance {instance} cannot be "
            "deployed in it."
        )
    if not env.proton_service_role_arn:
        raise ValidationException(
            f"Environment {environment_name} has no protonServiceRoleArn to provision service instances with."
        )
    return env


def _add_instance(
    ctx: Context,
    connection: Connection,
    service_id: int,
    service_name: str,
    template_name: str,
    version: Row[Any],
    name: str,
    env: Row[Any],
    inputs: dict[str, Any],
    spec: str,
    tags: list[dict[str, str]],
    client_token: str | None,
) -> None:
    """Insert an instance with its CREATE deployment and job."""
    now = ctx.now
    connection.execute(
        sa.insert(service_instances).values(
            service_id=service_id,
            name=name,
            environment_id=env.id,
            last_client_request_token=client_token,
            account_id=ctx.account_id,
            region=ctx.region,
            service_name=service_name,
            environment_name=env.name,
            template_name=template_name,
            **_new_deployable(now, version, spec, inputs),
        )
    )
    arn = instance_arn(ctx, service_name, name)
    put_tags(ctx, connection, arn, tags)
    deployment_id = start_deployment(
        ctx,
        connection,
        target_type="SERVICE_INSTANCE",
        arn=arn,
        created_at=now,
        operation_name=CREATE,
        environment_name=env.name,
        service_name=service_name,
        instance_name=name,
        target_state=_state("serviceInstance", template_name, version.major, version.minor, spec, inputs),
        initial_state=None,
        previous=None,
    )
    connection.execute(
        sa.update(service_instances)
        .where(I.service_id == service_id, I.name == name)
        .values(last_attempted_deployment_id=deployment_id)
    )


def _remove_instance(ctx: Context, connection: Connection, service: Row[Any], row: Row[Any]) -> None:
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


def _service_version(connection: Connection, service: Row[Any]) -> Row[Any]:
    """The version new instances of a service start on: that of its pipeline, else of its newest instance."""
    pipeline = find_pipeline(connection, service.id)
    source = (
        pipeline
        or connection.execute(
            sa.select(I.template_major, I.template_minor)
            .where(I.service_id == service.id)
            .order_by(I.template_major.desc(), I.template_minor.desc())
            .limit(1)
        ).first()
    )
    if source is None:
        raise ValidationException(
            f"Service {service.name} has no instance to take the template version from."
        )
    template = connection.execute(sa.select(templates).where(T.id == service.template_id)).one()
    return published_version(connection, SERVICE, template, source.template_major, source.template_minor)


def _start_pipeline(
    ctx: Context,
    connection: Connection,
    service_id: int,
    *,
    status: str,
    created_at: float,
    operation_name: str,
    environment_name: str,
    service_name: str,
    target_state: dict[str, Any],
    initial_state: dict[str, Any] | None,
    previous: Row[Any] | None,
) -> str:
    """Start a deployment of a service's pipeline and mark the pipeline with it; return its id."""
    deployment_id = start_deployment(
        ctx,
        connection,
        target_type="SERVICE_PIPELINE",
        arn=pipeline_arn(ctx, service_name),
        created_at=created_at,
        operation_name=operation_name,
        environment_name=environment_name,
        service_name=service_name,
        instance_name=None,
        target_state=target_state,
        initial_state=initial_state,
        previous=previous,
    )
    connection.execute(
        sa.update(service_pipelines)
        .where(P.service_id == service_id)
        .values(
            deployment_status=status,
            deployment_status_message=None,
            last_deployment_attempted_at=ctx.now,
            last_attempted_deployment_id=deployment_id,
        )
    )
    return deployment_id


@operation("CreateService", write=True)
def create_service(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    name = params["name"]
    template = require_template(ctx, connection, SERVICE, params["templateName"])
    minor = params.get("templateMinorVersion")
    version = published_version(
        connection,
        SERVICE,
        template,
        parse_part(params["templateMajorVersion"]),
        parse_part(minor) if minor is not None else None,
    )
    if find_service(connection, ctx, name) is not None:
        raise ConflictException(f"A service named {name} already exists.")
    check_account_quota(ctx, connection, services, "services", "services")
    has_pipeline = template.provisioning != CUSTOMER_MANAGED
    repository = [params.get(k) for k in ("repositoryConnectionArn", "repositoryId", "branchName")]
    if not has_pipeline and any(repository):
        raise ValidationException(
            f"Service template {template.name} has no pipeline; do not give repositoryConnectionArn, "
            "repositoryId or branchName."
        )
    spec = parse_service_spec(params["spec"])
    quota = account_quota(ctx, connection, "instances_per_service")
    if quota is not None and len(spec.instances) > quota:
        raise ServiceQuotaExceededException(f"A service can have at most {quota} instances.")
    schema = schema_of(version)
    instance_inputs = []
    for instance in spec.instances:
        env = _compatible_environment(ctx, connection, version, instance.name, instance.environment)
        inputs = validate_inputs(
            schema,
            SERVICE_INPUT,
            resolve_current_values(instance.inputs, {}),
            where=f"service instance {instance.name}",
        )
        instance_inputs.append((instance, env, inputs))
    pipeline_inputs: dict[str, Any] | None = None
    if has_pipeline:
        if spec.pipeline is None:
            raise ValidationException(
                f"Invalid spec: service template {template.name} has a pipeline; "
                "the spec needs a 'pipeline' section."
            )
        pipeline_inputs = validate_inputs(
            schema,
            PIPELINE_INPUT,
            resolve_current_values(spec.pipeline, {}),
            where=f"pipeline of service {name}",
        )
        settings = connection.execute(
            sa.select(
                account_settings.c.pipeline_service_role_arn,
                account_settings.c.pipeline_codebuild_role_arn,
                account_settings.c.pipeline_provisioning_repository,
            ).where(account_settings.c.account_id == ctx.account_id, account_settings.c.region == ctx.region)
        ).first()
        pipeline_engine = parts_of(version).get("pipeline_infrastructure", {}).get("rendering_engine")
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
    elif spec.pipeline is not None:
        raise ValidationException(
            f"Invalid spec: service template {template.name} has no pipeline; remove the 'pipeline' section."
        )
    now = ctx.now
    result = connection.execute(
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
    assert result.inserted_primary_key is not None
    service_id = int(result.inserted_primary_key[0])
    put_tags(ctx, connection, service_arn(ctx, name), params.get("tags") or [])
    for instance, env, inputs in instance_inputs:
        _add_instance(
            ctx,
            connection,
            service_id,
            name,
            template.name,
            version,
            instance.name,
            env,
            inputs,
            params["spec"],
            params.get("tags") or [],
            None,
        )
    if pipeline_inputs is not None:
        connection.execute(
            sa.insert(service_pipelines).values(
                service_id=service_id, **_new_deployable(now, version, params["spec"], pipeline_inputs)
            )
        )
        _start_pipeline(
            ctx,
            connection,
            service_id,
            status=IN_PROGRESS,
            created_at=now,
            operation_name=CREATE,
            environment_name=spec.instances[0].environment,
            service_name=name,
            target_state=_state(
                "servicePipeline",
                template.name,
                version.major,
                version.minor,
                params["spec"],
                pipeline_inputs,
            ),
            initial_state=None,
            previous=None,
        )
    return {"service": service_shape(ctx, connection, require_service(connection, ctx, name))}


@operation("GetService", write=False)
def get_service(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    return {"service": service_shape(ctx, connection, require_service(connection, ctx, params["name"]))}


@operation("ListServices", write=False)
def list_services(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    after = page_position(ctx, params)
    size = page_size(params)
    query = _SERVICE.where(S.account_id == ctx.account_id, S.region == ctx.region)
    if after is not None:
        query = query.where(S.name > after)
    rows = connection.execute(query.order_by(S.name).limit(size + 1)).all()
    result: dict[str, Any] = {
        "services": [service_shape(ctx, connection, r, summary=True) for r in rows[:size]]
    }
    if len(rows) > size:
        result["nextToken"] = next_token(ctx, rows[size - 1].name)
    return result


def _service_busy(connection: Connection, service: Row[Any]) -> str | None:
    if service.status in service_state.IN_FLIGHT:
        return f"service {service.name} is {service.status}"
    busy = connection.execute(
        sa.select(I.name).where(I.service_id == service.id, I.deployment_status.in_(BUSY)).limit(1)
    ).first()
    if busy is not None:
        return f"service instance {busy.name} has a deployment in progress"
    pipeline = find_pipeline(connection, service.id)
    if pipeline is not None and pipeline.deployment_status in BUSY:
        return "the pipeline has a deployment in progress"
    return None


@operation("UpdateService", write=True)
def update_service(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    service = require_service(connection, ctx, params["name"])
    reason = _service_busy(connection, service)
    if reason is not None:
        raise ConflictException(f"Service {service.name} cannot be updated now: {reason}.")
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
    if "spec" in params:
        # An update that deploys nothing is complete at once.
        service_state.refresh(connection, service.id, service_arn(ctx, service.name), ctx.now)
    return {"service": service_shape(ctx, connection, require_service(connection, ctx, service.name))}


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
    current = {row.name: row for row in connection.execute(_INSTANCE.where(I.service_id == service.id)).all()}
    wanted = {instance.name: instance for instance in spec.instances}
    found = _attached(connection, [row for name, row in current.items() if name not in wanted])
    if found is not None:
        raise ConflictException(
            f"Service {service.name} cannot remove service instance {found[1]}: component {found[0]} is "
            f"attached to it; {DETACH_FIRST}."
        )
    quota = account_quota(ctx, connection, "instances_per_service")
    if quota is not None and len(wanted) > quota:
        raise ServiceQuotaExceededException(f"A service can have at most {quota} instances.")
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
    version = _service_version(connection, service)
    schema = schema_of(version)
    added = []
    for name, instance in wanted.items():
        if name in current:
            continue
        env = _compatible_environment(ctx, connection, version, name, instance.environment)
        inputs = validate_inputs(
            schema,
            SERVICE_INPUT,
            resolve_current_values(instance.inputs, {}),
            where=f"service instance {name}",
        )
        added.append((name, env, inputs))
    for name, env, inputs in added:
        _add_instance(
            ctx,
            connection,
            service.id,
            service.name,
            service.template_name,
            version,
            name,
            env,
            inputs,
            spec_text,
            [],
            None,
        )
    removed = [name for name in current if name not in wanted]
    for name in removed:
        _remove_instance(ctx, connection, service, current[name])
    pipeline = find_pipeline(connection, service.id)
    pipeline_deployment = None
    if pipeline is not None and (added or removed):
        first = next(iter(wanted.values()))
        state = _state(
            "servicePipeline",
            service.template_name,
            pipeline.template_major,
            pipeline.template_minor,
            pipeline.spec,
            orjson.loads(pipeline.inputs),
        )
        pipeline_deployment = _start_pipeline(
            ctx,
            connection,
            service.id,
            status=IN_PROGRESS,
            created_at=pipeline.created_at,
            operation_name=UPDATE,
            environment_name=first.environment,
            service_name=service.name,
            target_state=state,
            initial_state=state,
            previous=pipeline,
        )
    return service_state.UpdatePlan(
        previous_spec=service.spec,
        added=[name for name, _, _ in added],
        removed=sorted(removed),
        pipeline_deployment=pipeline_deployment,
    )


@operation("CreateServiceInstance", write=True)
def create_service_instance(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    service = require_service(connection, ctx, params["serviceName"])
    name = params["name"]
    reason = _service_busy(connection, service)
    if reason is not None:
        raise ConflictException(f"Service {service.name} cannot get a new instance now: {reason}.")
    existing = connection.execute(sa.select(I.id).where(I.service_id == service.id, I.name == name)).first()
    if existing is not None:
        raise ConflictException(f"Service {service.name} already has an instance named {name}.")
    spec = parse_service_spec(params["spec"])
    instance = next((item for item in spec.instances if item.name == name), None)
    if instance is None:
        raise ValidationException(f"Invalid spec: the ServiceSpec lists no instance named '{name}'.")
    quota = account_quota(ctx, connection, "instances_per_service")
    count = connection.execute(sa.select(sa.func.count()).where(I.service_id == service.id)).scalar_one()
    if quota is not None and count >= quota:
        raise ValidationException(f"A service can have at most {quota} instances.")
    if params.get("templateMajorVersion") is not None:
        template = connection.execute(sa.select(templates).where(T.id == service.template_id)).one()
        minor = params.get("templateMinorVersion")
        version = published_version(
            connection,
            SERVICE,
            template,
            parse_part(params["templateMajorVersion"]),
            parse_part(minor) if minor is not None else None,
        )
    else:
        version = _service_version(connection, service)
    env = _compatible_environment(ctx, connection, version, name, instance.environment)
    inputs = validate_inputs(
        schema_of(version),
        SERVICE_INPUT,
        resolve_current_values(instance.inputs, {}),
        where=f"service instance {name}",
    )
    _add_instance(
        ctx,
        connection,
        service.id,
        service.name,
        service.template_name,
        version,
        name,
        env,
        inputs,
        params["spec"],
        params.get("tags") or [],
        params.get("clientToken"),
    )
    return {"serviceInstance": instance_shape(ctx, require_instance(connection, ctx, service.name, name))}


@operation("DeleteService", write=True)
def delete_service(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    service = require_service(connection, ctx, params["name"])
    reason = _service_busy(connection, service)
    if reason is not None:
        raise ConflictException(f"Service {service.name} cannot be deleted now: {reason}.")
    now = ctx.now
    instances = connection.execute(_INSTANCE.where(I.service_id == service.id)).all()
    found = _attached(connection, instances)
    if found is not None:
        raise ConflictException(
            f"Service {service.name} cannot be deleted: component {found[0]} is attached to service "
            f"instance {found[1]}; {DETACH_FIRST}."
        )
    for row in instances:
        _remove_instance(ctx, connection, service, row)
    pipeline = find_pipeline(connection, service.id)
    if pipeline is not None:
        state = _state(
            "servicePipeline",
            service.template_name,
            pipeline.template_major,
            pipeline.template_minor,
            pipeline.spec,
            None,
        )
        _start_pipeline(
            ctx,
            connection,
            service.id,
            status=DELETE_IN_PROGRESS,
            created_at=pipeline.created_at,
            operation_name=DELETE,
            environment_name=instances[0].environment_name if instances else "",
            service_name=service.name,
            target_state=state,
            initial_state=state,
            previous=pipeline,
        )
    connection.execute(
        sa.update(services)
        .where(S.id == service.id)
        .values(status=service_state.DELETE_IN_PROGRESS, status_message=None, last_modified_at=now)
    )
    service_state.refresh(connection, service.id, service_arn(ctx, service.name), now)
    remaining = find_service(connection, ctx, service.name)
    shape = service_shape(ctx, connection, remaining if remaining is not None else service)
    shape["status"] = service_state.DELETE_IN_PROGRESS
    return {"service": shape}


@operation("GetServiceInstance", write=False)
def get_service_instance(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    row = require_instance(connection, ctx, params["serviceName"], params["name"])
    return {"serviceInstance": instance_shape(ctx, row)}


_SORT = {
    "name": I.name,
    "deploymentStatus": I.deployment_status,
    "templateName": I.template_name,
    "serviceName": I.service_name,
    "environmentName": I.environment_name,
    "lastDeploymentAttemptedAt": I.last_deployment_attempted_at,
    "createdAt": I.created_at,
}


def _filter(key: str, value: str) -> Any:
    from datetime import datetime

    def stamp() -> float:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise ValidationException(f"Filter {key} needs an RFC 3339 timestamp, not {value}.") from None

    simple = {
        "name": I.name,
        "deploymentStatus": I.deployment_status,
        "templateName": I.template_name,
        "serviceName": I.service_name,
        "environmentName": I.environment_name,
    }
    if key in simple:
        return simple[key] == value
    if key == "lastDeploymentAttemptedAtBefore":
        return I.last_deployment_attempted_at < stamp()
    if key == "lastDeploymentAttemptedAtAfter":
        return I.last_deployment_attempted_at > stamp()
    if key == "createdAtBefore":
        return I.created_at < stamp()
    if key == "createdAtAfter":
        return I.created_at > stamp()
    if key == "deployedTemplateVersionStatus":
        latest = sa.and_(T.recommended_major == I.template_major, T.recommended_minor == I.template_minor)
        if value == "UP_TO_DATE":
            return latest
        if value == "BEHIND_MINOR":
            return sa.and_(T.recommended_major == I.template_major, T.recommended_minor > I.template_minor)
        if value == "BEHIND_MAJOR":
            return T.recommended_major > I.template_major
        raise ValidationException(
            "deployedTemplateVersionStatus must be UP_TO_DATE, BEHIND_MINOR or BEHIND_MAJOR."
        )
    raise ValidationException(f"Unknown filter key {key}.")


@operation("ListServiceInstances", write=False)
def list_service_instances(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    query = _INSTANCE.where(I.account_id == ctx.account_id, I.region == ctx.region)
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
        values = {"serviceName": last.service_name, "name": last.name}
        position = [getattr(last, _row_key(sort_by))] if sort_by != "serviceName" else []
        result["nextToken"] = next_token(ctx, [*position, values["serviceName"], values["name"]], extra)
    return result


def _row_key(sort_by: str) -> str:
    return {
        "name": "name",
        "deploymentStatus": "deployment_status",
        "templateName": "template_name",
        "environmentName": "environment_name",
        "lastDeploymentAttemptedAt": "last_deployment_attempted_at",
        "createdAt": "created_at",
    }[sort_by]


@operation("UpdateServiceInstance", write=True)
def update_service_instance(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    row = require_instance(connection, ctx, params["serviceName"], params["name"])
    service = require_service(connection, ctx, params["serviceName"])
    if row.name in service_state.touched_by_update(service):
        raise ConflictException(
            f"Service instance {row.name} is being added or removed by an update of service "
            f"{service.name} ({service.status}); wait for it to finish."
        )
    if row.deployment_status in BUSY or service.status == service_state.DELETE_IN_PROGRESS:
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
    deployment_type = params["deploymentType"]
    if deployment_type == NONE:
        raise ValidationException("deploymentType NONE has nothing to update on a service instance.")
    template = connection.execute(sa.select(templates).where(T.id == service.template_id)).one()
    version = update_target(
        connection,
        SERVICE,
        template,
        deployment_type,
        (row.template_major, row.template_minor),
        params.get("templateMajorVersion"),
        params.get("templateMinorVersion"),
    )
    if version.major != row.template_major:
        _compatible_environment(ctx, connection, version, row.name, row.environment_name)
    current = orjson.loads(row.inputs)
    given = parse_instance_spec_from_service_spec(params["spec"], row.name) if params.get("spec") else current
    inputs = validate_inputs(
        schema_of(version),
        SERVICE_INPUT,
        resolve_current_values(given, current),
        where=f"service instance {row.name}",
    )
    spec_text = params.get("spec", row.spec)
    deployment_id = start_deployment(
        ctx,
        connection,
        target_type="SERVICE_INSTANCE",
        arn=instance_arn(ctx, service.name, row.name),
        created_at=row.created_at,
        operation_name=UPDATE,
        environment_name=row.environment_name,
        service_name=service.name,
        instance_name=row.name,
        target_state=_state(
            "serviceInstance", template.name, version.major, version.minor, spec_text, inputs
        ),
        initial_state=_state(
            "serviceInstance", template.name, row.template_major, row.template_minor, row.spec, None
        ),
        previous=row,
    )
    started = {
        "deployment_status": IN_PROGRESS,
        "deployment_status_message": None,
        "last_deployment_attempted_at": ctx.now,
        "last_attempted_deployment_id": deployment_id,
        "last_client_request_token": params.get("clientToken"),
    }
    prepared.update(service_instances, ("id",), tuple(started)).run(
        connection, {"where_id": row.id, **started}
    )
    return {"serviceInstance": instance_shape(ctx, require_instance(connection, ctx, service.name, row.name))}


@operation("UpdateServicePipeline", write=True)
def update_service_pipeline(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    service = require_service(connection, ctx, params["serviceName"])
    pipeline = find_pipeline(connection, service.id)
    if pipeline is None:
        raise not_found("service pipeline", pipeline_arn(ctx, service.name))
    if pipeline.deployment_status in BUSY or service.status in service_state.IN_FLIGHT:
        raise ConflictException(
            f"The pipeline of service {service.name} has a deployment in progress; wait for it to finish."
        )
    deployment_type = params["deploymentType"]
    if deployment_type == NONE:
        raise ValidationException("deploymentType NONE has nothing to update on a service pipeline.")
    template = connection.execute(sa.select(templates).where(T.id == service.template_id)).one()
    version = update_target(
        connection,
        SERVICE,
        template,
        deployment_type,
        (pipeline.template_major, pipeline.template_minor),
        params.get("templateMajorVersion"),
        params.get("templateMinorVersion"),
    )
    current = orjson.loads(pipeline.inputs)
    inputs = validate_inputs(
        schema_of(version),
        PIPELINE_INPUT,
        resolve_current_values(parse_pipeline_spec(params["spec"]), current),
        where=f"pipeline of service {service.name}",
    )
    first = connection.execute(_INSTANCE.where(I.service_id == service.id).order_by(I.name)).first()
    _start_pipeline(
        ctx,
        connection,
        service.id,
        status=IN_PROGRESS,
        created_at=pipeline.created_at,
        operation_name=UPDATE,
        environment_name=first.environment_name if first else "",
        service_name=service.name,
        target_state=_state(
            "servicePipeline", template.name, version.major, version.minor, params["spec"], inputs
        ),
        initial_state=_state(
            "servicePipeline",
            template.name,
            pipeline.template_major,
            pipeline.template_minor,
            pipeline.spec,
            None,
        ),
        previous=pipeline,
    )
    return {"pipeline": pipeline_shape(ctx, service, _require_pipeline(connection, ctx, service))}


@operation("CancelServiceInstanceDeployment", write=True)
def cancel_service_instance_deployment(
    ctx: Context, params: Params, connection: Connection
) -> dict[str, Any]:
    row = require_instance(connection, ctx, params["serviceName"], params["serviceInstanceName"])
    refusal = (
        f"Service instance {row.name} has no deployment in progress to cancel ({row.deployment_status})."
    )
    cancel_deployment(ctx, connection, service_instances, I.id == row.id, row, refusal)
    return {
        "serviceInstance": instance_shape(ctx, require_instance(connection, ctx, row.service_name, row.name))
    }


@operation("CancelServicePipelineDeployment", write=True)
def cancel_service_pipeline_deployment(
    ctx: Context, params: Params, connection: Connection
) -> dict[str, Any]:
    service = require_service(connection, ctx, params["serviceName"])
    pipeline = find_pipeline(connection, service.id)
    if pipeline is None:
        raise not_found("service pipeline", pipeline_arn(ctx, service.name))
    refusal = f"The pipeline of service {service.name} has no deployment in progress to cancel."
    cancel_deployment(ctx, connection, service_pipelines, P.service_id == service.id, pipeline, refusal)
    return {"pipeline": pipeline_shape(ctx, service, _require_pipeline(connection, ctx, service))}


def _outputs_of(
    connection: Connection, ctx: Context, row: Row[Any], arn: str, deployment_id: str | None
) -> list[Any]:
    if not deployment_id:
        outputs: list[Any] = orjson.loads(row.outputs)
        return outputs
    record = deployment_store.find(connection, deployment_id)
    if (
        record is None
        or record.account_id != ctx.account_id
        or record.region != ctx.region
        or record.target_arn != arn
    ):
        raise not_found("deployment", deployment_id)
    recorded: list[Any] = orjson.loads(record.outputs or "[]")
    return recorded


@operation("ListServiceInstanceOutputs", write=False)
def list_service_instance_outputs(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    row = require_instance(connection, ctx, params["serviceName"], params["serviceInstanceName"])
    arn = instance_arn(ctx, row.service_name, row.name)
    return {"outputs": _outputs_of(connection, ctx, row, arn, params.get("deploymentId"))}


@operation("ListServiceInstanceProvisionedResources", write=False)
def list_service_instance_provisioned_resources(
    ctx: Context, params: Params, connection: Connection
) -> dict[str, Any]:
    row = require_instance(connection, ctx, params["serviceName"], params["serviceInstanceName"])
    return {"provisionedResources": orjson.loads(row.resources)}


@operation("ListServicePipelineOutputs", write=False)
def list_service_pipeline_outputs(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    service = require_service(connection, ctx, params["serviceName"])
    pipeline = find_pipeline(connection, service.id)
    if pipeline is None:
        raise not_found("service pipeline", pipeline_arn(ctx, service.name))
    return {
        "outputs": _outputs_of(
            connection, ctx, pipeline, pipeline_arn(ctx, service.name), params.get("deploymentId")
        )
    }


@operation("ListServicePipelineProvisionedResources", write=False)
def list_service_pipeline_provisioned_resources(
    ctx: Context, params: Params, connection: Connection
) -> dict[str, Any]:
    service = require_service(connection, ctx, params["serviceName"])
    pipeline = find_pipeline(connection, service.id)
    if pipeline is None:
        raise not_found("service pipeline", pipeline_arn(ctx, service.name))
    return {"provisionedResources": orjson.loads(pipeline.resources)}


@resolver("service")
def _resolve(connection: Connection, ctx: Context, parsed: arns.ParsedArn) -> bool:
    parts = parsed.parts
    service = find_service(connection, ctx, parts[1]) if len(parts) >= 2 else None
    if service is None:
        return False
    if len(parts) == 2:
        return True
    if len(parts) == 4 and parts[2] == "service-instance":
        return (
            connection.execute(sa.select(I.id).where(I.service_id == service.id, I.name == parts[3])).first()
            is not None
        )
    return len(parts) == 3 and parts[2] == "pipeline" and find_pipeline(connection, service.id) is not None
