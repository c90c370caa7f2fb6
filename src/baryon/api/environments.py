"""Environments (reference §1.5, §5): create, get, update, delete, list, cancel, outputs, resources.

Invariants: every deploying change writes the environment row, a deployment record and its job in one
transaction; a spec is validated against the target version's schema (defaults applied) before anything
is written; while a deployment is in flight the environment refuses other updates and deletes
(ConflictException); an update's response shows the current version, which changes only on success; an
environment with service instances or components in it cannot be deleted.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.api.common import (
    cancel_deployment,
    check_account_quota,
    clean,
    next_token,
    not_found,
    page_position,
    page_size,
    start_deployment,
)
from baryon.api.kinds import ENVIRONMENT
from baryon.api.registry import Context, Params, operation
from baryon.api.repositories import repository_branch
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
    ENVIRONMENT_INPUT,
    parse_environment_spec,
    resolve_current_values,
    validate_inputs,
)
from baryon.domain.versions import parse_part
from baryon.protocol.errors import (
    ConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from baryon.store import components as component_store
from baryon.store import deployments as deployment_store
from baryon.store.schema import environments, service_instances, services, templates

E = environments.c
T = templates.c
CUSTOMER_MANAGED = "CUSTOMER_MANAGED"


def environment_arn(ctx: Context, name: str) -> str:
    return arns.arn(ctx.region, ctx.account_id, f"environment/{name}")


_FIND = (
    sa.select(environments, T.name.label("template_name"))
    .join(templates, T.id == E.template_id)
    .where(E.account_id == sa.bindparam("account_id"), E.region == sa.bindparam("region"))
)


def find_environment(connection: Connection, ctx: Context, name: str) -> Row[Any] | None:
    return connection.execute(
        _FIND.where(E.name == name), {"account_id": ctx.account_id, "region": ctx.region}
    ).first()


def require_environment(connection: Connection, ctx: Context, name: str) -> Row[Any]:
    row = find_environment(connection, ctx, name)
    if row is None:
        raise not_found("environment", environment_arn(ctx, name))
    return row


def environment_shape(ctx: Context, row: Row[Any], *, summary: bool = False) -> dict[str, Any]:
    shape = {
        "name": row.name,
        "arn": environment_arn(ctx, row.name),
        "templateName": row.template_name,
        "templateMajorVersion": str(row.template_major),
        "templateMinorVersion": str(row.template_minor),
        "deploymentStatus": row.deployment_status,
        "deploymentStatusMessage": row.deployment_status_message,
        "description": row.description,
        "createdAt": row.created_at,
        "lastDeploymentAttemptedAt": row.last_deployment_attempted_at,
        "lastDeploymentSucceededAt": row.last_deployment_succeeded_at,
        "lastAttemptedDeploymentId": row.last_attempted_deployment_id,
        "lastSucceededDeploymentId": row.last_succeeded_deployment_id,
        "protonServiceRoleArn": row.proton_service_role_arn,
        "environmentAccountConnectionId": row.environment_account_connection_id,
        "environmentAccountId": row.environment_account_id,
        "componentRoleArn": row.component_role_arn,
        "provisioning": row.provisioning,
    }
    if not summary:
        shape["spec"] = row.spec
        shape["codebuildRoleArn"] = row.codebuild_role_arn
        shape["provisioningRepository"] = (
            orjson.loads(row.provisioning_repository) if row.provisioning_repository else None
        )
    return clean(shape)


def _refuse_account_connection(params: Params) -> None:
    if params.get("environmentAccountConnectionId"):
        raise ValidationException(
            "Environment account connections are not available on this Baryon server yet."
        )


def _linked_repository(ctx: Context, connection: Connection, params: Params) -> dict[str, str] | None:
    """The stored form of `provisioningRepository` when given; it must name an existing repository link."""
    value = params.get("provisioningRepository")
    if value is None:
        return None
    return repository_branch(ctx, connection, value, missing=ResourceNotFoundException)


_CODEBUILD_ROLE_REQUIRED = "codebuildRoleArn is required to provision an environment with CodeBuild."


def _check_provisioning(
    ctx: Context, connection: Connection, template: Row[Any], version: Row[Any], params: Params
) -> dict[str, str] | None:
    """The provisioning parameters must fit the method the version's bundle uses; returns the stored
    `provisioningRepository` of a Terraform (self-managed) environment."""
    _refuse_account_connection(params)
    repository = _linked_repository(ctx, connection, params)
    label = f"Version {version.major}.{version.minor} of environment template {template.name}"
    if template.provisioning == CUSTOMER_MANAGED:
        if repository is not None:
            raise ValidationException(f"{label} is customer managed; do not give a provisioningRepository.")
        return None
    engine = parts_of(version).get("infrastructure", {}).get("rendering_engine")
    if engine == "codebuild":
        if repository is not None:
            raise ValidationException(
                f"{label} is provisioned by commands (CodeBuild); do not give a provisioningRepository."
            )
        if not params.get("codebuildRoleArn"):
            raise ValidationException(_CODEBUILD_ROLE_REQUIRED)
        return None
    if engine == "hcl":
        if repository is None:
            raise ValidationException(
                f"{label} is a Terraform template; it needs a provisioningRepository (self-managed "
                "provisioning)."
            )
        if params.get("protonServiceRoleArn"):
            raise ValidationException(
                f"{label} is a Terraform template (self-managed provisioning); do not give a "
                "protonServiceRoleArn."
            )
        return repository
    if repository is not None:
        raise ValidationException(
            f"{label} is provisioned through CloudFormation; do not give a provisioningRepository."
        )
    if not params.get("protonServiceRoleArn"):
        raise ValidationException(
            "protonServiceRoleArn is required to provision a CloudFormation environment."
        )
    return None


def _check_update_method(
    row: Row[Any], template: Row[Any], version: Row[Any], changes: dict[str, Any]
) -> None:
    """A deploying update must fit the method of the target version: a Terraform version needs the
    environment's provisioningRepository, any other its protonServiceRoleArn."""
    if template.provisioning == CUSTOMER_MANAGED:
        return
    label = f"Version {version.major}.{version.minor} of environment template {template.name}"
    engine = parts_of(version).get("infrastructure", {}).get("rendering_engine")
    if engine == "codebuild":
        if not changes.get("codebuild_role_arn", row.codebuild_role_arn):
            raise ValidationException(_CODEBUILD_ROLE_REQUIRED)
        return
    if engine == "hcl":
        if row.provisioning_repository is None:
            raise ValidationException(
                f"{label} is a Terraform template; environment {row.name} has no provisioningRepository "
                "(self-managed provisioning)."
            )
        return
    if row.provisioning_repository is not None:
        raise ValidationException(
            f"{label} is not a Terraform template; environment {row.name} is provisioned through a "
            "repository (self-managed provisioning)."
        )
    if not changes.get("proton_service_role_arn", row.proton_service_role_arn):
        raise ValidationException(
            "protonServiceRoleArn is required to provision a CloudFormation environment."
        )


def _target_state(template_name: str, major: int, minor: int, spec: str | None) -> dict[str, Any]:
    state = {
        "templateName": template_name,
        "templateMajorVersion": str(major),
        "templateMinorVersion": str(minor),
    }
    if spec is not None:
        state["spec"] = spec
    return {"environment": state}


def _start(
    ctx: Context,
    connection: Connection,
    row: Row[Any],
    operation_name: str,
    target_state: dict[str, Any],
    initial_state: dict[str, Any] | None,
) -> str:
    return start_deployment(
        ctx,
        connection,
        target_type="ENVIRONMENT",
        arn=environment_arn(ctx, row.name),
        created_at=row.created_at,
        operation_name=operation_name,
        environment_name=row.name,
        target_state=target_state,
        initial_state=initial_state,
        previous=row,
    )


@operation("CreateEnvironment", write=True)
def create_environment(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    name = params["name"]
    template = require_template(ctx, connection, ENVIRONMENT, params["templateName"])
    minor = params.get("templateMinorVersion")
    version = published_version(
        connection,
        ENVIRONMENT,
        template,
        parse_part(params["templateMajorVersion"]),
        parse_part(minor) if minor is not None else None,
    )
    if find_environment(connection, ctx, name) is not None:
        raise ConflictException(f"An environment named {name} already exists.")
    check_account_quota(ctx, connection, environments, "environments", "environments")
    repository = _check_provisioning(ctx, connection, template, version, params)
    raw = resolve_current_values(parse_environment_spec(params["spec"]), {})
    inputs = validate_inputs(schema_of(version), ENVIRONMENT_INPUT, raw, where=f"environment {name}")
    now = ctx.now
    result = connection.execute(
        sa.insert(environments).values(
            account_id=ctx.account_id,
            region=ctx.region,
            name=name,
            template_id=template.id,
            description=params.get("description"),
            proton_service_role_arn=params.get("protonServiceRoleArn"),
            codebuild_role_arn=params.get("codebuildRoleArn"),
            component_role_arn=params.get("componentRoleArn"),
            provisioning=CUSTOMER_MANAGED if template.provisioning == CUSTOMER_MANAGED else None,
            provisioning_repository=orjson.dumps(repository).decode() if repository is not None else None,
            template_major=version.major,
            template_minor=version.minor,
            spec=params["spec"],
            inputs=orjson.dumps(inputs).decode(),
            deployment_status=IN_PROGRESS,
            created_at=now,
            last_deployment_attempted_at=now,
            last_deployment_succeeded_at=now,
            outputs="[]",
            resources="[]",
        )
    )
    assert result.inserted_primary_key is not None
    put_tags(ctx, connection, environment_arn(ctx, name), params.get("tags") or [])
    row = require_environment(connection, ctx, name)
    deployment_id = _start(
        ctx,
        connection,
        row,
        CREATE,
        _target_state(template.name, version.major, version.minor, params["spec"]),
        None,
    )
    connection.execute(
        sa.update(environments).where(E.id == row.id).values(last_attempted_deployment_id=deployment_id)
    )
    return {"environment": environment_shape(ctx, require_environment(connection, ctx, name))}


@operation("GetEnvironment", write=False)
def get_environment(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    return {"environment": environment_shape(ctx, require_environment(connection, ctx, params["name"]))}


@operation("ListEnvironments", write=False)
def list_environments(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    after = page_position(ctx, params, "environments")
    size = page_size(params)
    query = _FIND
    filters = params.get("environmentTemplates") or []
    if filters:
        query = query.where(
            sa.or_(
                *(
                    sa.and_(
                        T.name == item["templateName"], E.template_major == parse_part(item["majorVersion"])
                    )
                    for item in filters
                )
            )
        )
    if after is not None:
        query = query.where(E.name > after)
    rows = connection.execute(
        query.order_by(E.name).limit(size + 1), {"account_id": ctx.account_id, "region": ctx.region}
    ).all()
    result: dict[str, Any] = {
        "environments": [environment_shape(ctx, row, summary=True) for row in rows[:size]]
    }
    if len(rows) > size:
        result["nextToken"] = next_token(ctx, rows[size - 1].name, "environments")
    return result


@operation("UpdateEnvironment", write=True)
def update_environment(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    row = require_environment(connection, ctx, params["name"])
    if row.deployment_status in BUSY:
        raise ConflictException(
            f"Environment {row.name} has a deployment in progress ({row.deployment_status}); wait for it "
            "to finish or cancel it."
        )
    deployment_type = params["deploymentType"]
    changes: dict[str, Any] = {}
    if "description" in params:
        changes["description"] = params["description"]
    for member, column in (
        ("protonServiceRoleArn", "proton_service_role_arn"),
        ("componentRoleArn", "component_role_arn"),
        ("codebuildRoleArn", "codebuild_role_arn"),
    ):
        if member in params:
            changes[column] = params[member]
    _refuse_account_connection(params)
    repository = _linked_repository(ctx, connection, params)
    if repository is not None:
        if row.provisioning_repository is None:
            raise ValidationException(
                f"Environment {row.name} is not provisioned through a repository (self-managed "
                "provisioning); do not give a provisioningRepository."
            )
        changes["provisioning_repository"] = orjson.dumps(repository).decode()
    if row.provisioning_repository is not None and params.get("protonServiceRoleArn"):
        raise ValidationException(
            f"Environment {row.name} is provisioned through a repository (self-managed provisioning); do "
            "not give a protonServiceRoleArn."
        )
    if deployment_type == NONE:
        for member in ("spec", "templateMajorVersion", "templateMinorVersion"):
            if member in params:
                raise ValidationException(f"{member} cannot be given with deploymentType NONE.")
        if changes:
            connection.execute(sa.update(environments).where(E.id == row.id).values(**changes))
        return {"environment": environment_shape(ctx, require_environment(connection, ctx, row.name))}
    template = connection.execute(sa.select(templates).where(T.id == row.template_id)).one()
    version = update_target(
        connection,
        ENVIRONMENT,
        template,
        deployment_type,
        (row.template_major, row.template_minor),
        params.get("templateMajorVersion"),
        params.get("templateMinorVersion"),
    )
    spec_text = params.get("spec", row.spec)
    current = orjson.loads(row.inputs)
    raw = resolve_current_values(parse_environment_spec(spec_text), current) if spec_text else {}
    inputs = validate_inputs(schema_of(version), ENVIRONMENT_INPUT, raw, where=f"environment {row.name}")
    _check_update_method(row, template, version, changes)
    target = _target_state(template.name, version.major, version.minor, spec_text)
    target["environment"]["inputs"] = inputs
    deployment_id = _start(
        ctx,
        connection,
        row,
        UPDATE,
        target,
        _target_state(template.name, row.template_major, row.template_minor, row.spec),
    )
    changes.update(
        deployment_status=IN_PROGRESS,
        deployment_status_message=None,
        last_deployment_attempted_at=ctx.now,
        last_attempted_deployment_id=deployment_id,
    )
    connection.execute(sa.update(environments).where(E.id == row.id).values(**changes))
    return {"environment": environment_shape(ctx, require_environment(connection, ctx, row.name))}


@operation("DeleteEnvironment", write=True)
def delete_environment(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    row = require_environment(connection, ctx, params["name"])
    if row.deployment_status in BUSY:
        raise ConflictException(
            f"Environment {row.name} has a deployment in progress ({row.deployment_status}); wait for it "
            "to finish or cancel it."
        )
    deployed = connection.execute(
        sa.select(service_instances.c.name, services.c.name.label("service_name"))
        .join(services, services.c.id == service_instances.c.service_id)
        .where(service_instances.c.environment_id == row.id)
        .limit(1)
    ).first()
    if deployed is not None:
        raise ConflictException(
            f"Environment {row.name} has service instances deployed in it "
            f"(service instance {deployed.name} of "
            f"service {deployed.service_name}); delete them first."
        )
    component = component_store.in_environment(connection, row.id)
    if component is not None:
        raise ConflictException(
            f"Environment {row.name} has components (component {component.name}); delete them first."
        )
    shape = environment_shape(ctx, row)
    state = _target_state(row.template_name, row.template_major, row.template_minor, row.spec)
    deployment_id = _start(ctx, connection, row, DELETE, state, state)
    connection.execute(
        sa.update(environments)
        .where(E.id == row.id)
        .values(
            deployment_status=DELETE_IN_PROGRESS,
            deployment_status_message=None,
            last_deployment_attempted_at=ctx.now,
            last_attempted_deployment_id=deployment_id,
        )
    )
    shape.update(deploymentStatus=DELETE_IN_PROGRESS, lastAttemptedDeploymentId=deployment_id)
    return {"environment": shape}


@operation("CancelEnvironmentDeployment", write=True)
def cancel_environment_deployment(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    row = require_environment(connection, ctx, params["environmentName"])
    refusal = f"Environment {row.name} has no deployment in progress to cancel ({row.deployment_status})."
    cancel_deployment(ctx, connection, environments, E.id == row.id, row, refusal)
    return {"environment": environment_shape(ctx, require_environment(connection, ctx, row.name))}


def _deployment_record(connection: Connection, ctx: Context, deployment_id: str, row: Row[Any]) -> Any:
    record = deployment_store.find(connection, deployment_id)
    if (
        record is None
        or record.account_id != ctx.account_id
        or record.region != ctx.region
        or record.target_arn != environment_arn(ctx, row.name)
    ):
        raise not_found("deployment", deployment_id)
    return record


@operation("ListEnvironmentOutputs", write=False)
def list_environment_outputs(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    row = require_environment(connection, ctx, params["environmentName"])
    if params.get("deploymentId"):
        record = _deployment_record(connection, ctx, params["deploymentId"], row)
        return {"outputs": orjson.loads(record.outputs or "[]")}
    return {"outputs": orjson.loads(row.outputs)}


@operation("ListEnvironmentProvisionedResources", write=False)
def list_environment_provisioned_resources(
    ctx: Context, params: Params, connection: Connection
) -> dict[str, Any]:
    row = require_environment(connection, ctx, params["environmentName"])
    return {"provisionedResources": orjson.loads(row.resources)}


@resolver("environment")
def _resolve(connection: Connection, ctx: Context, parsed: arns.ParsedArn) -> bool:
    parts = parsed.parts
    return len(parts) == 2 and find_environment(connection, ctx, parts[1]) is not None
