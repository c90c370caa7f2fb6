"""Environments (reference §1.5, §5): create, get, update, delete, list, cancel, outputs, resources.

Invariants: every deploying change writes the environment row, a deployment record and its job in one
transaction; a spec is validated against the target version's schema (defaults applied) before anything
is written; while a deployment is in flight the environment refuses other updates and deletes
(ConflictException); an update's response shows the current version, which changes only on success; an
environment with service instances or components in it cannot be deleted. An environment with an
environment account connection takes no roles or repository of its own (they are the connection's, read
at each deployment); it is created only with a CONNECTED connection of the caller for its name, moves only
to another such connection of the same environment account, and cannot be deployed or deleted while its
connection is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    find,
    page_by_name,
    require,
    start_deployment,
    target,
)
from baryon.api.kinds import ENVIRONMENT as TEMPLATE_KIND
from baryon.api.registry import Context, Params, operation
from baryon.api.repositories import repository_branch
from baryon.api.tags import put_tags
from baryon.api.templates import version_for_create, version_for_update
from baryon.deployables import ENVIRONMENT, Start
from baryon.deployables.wire import with_warnings
from baryon.domain.account_connections import CONNECTED, environment_roles
from baryon.domain.deployments import CREATE, DELETE, DELETE_IN_PROGRESS, NONE, UPDATE
from baryon.domain.specs import ENVIRONMENT_INPUT, parse_environment_spec, spec_inputs
from baryon.domain.template_versions import rendering_engine, schema_of
from baryon.domain.versions import parse_part
from baryon.protocol.errors import ConflictException, ResourceNotFoundException, ValidationException
from baryon.store import account_connections as connection_store
from baryon.store import components as component_store
from baryon.store import templates as template_store
from baryon.store.schema import environments, service_instances, services, templates

E = environments.c
T = templates.c
CUSTOMER_MANAGED = "CUSTOMER_MANAGED"


def environment_shape(ctx: Context, row: Row[Any], *, summary: bool = False) -> dict[str, Any]:
    shape = {
        "name": row.name,
        "arn": target(ctx, ENVIRONMENT, row.name).arn,
        "templateName": row.template_name,
        **deployables.version_members(row),
        **deployables.deployment_members(row),
        "description": row.description,
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


#: Members that an environment with an environment account connection takes from the connection instead.
_CONNECTION_REPLACES = (
    "protonServiceRoleArn",
    "codebuildRoleArn",
    "componentRoleArn",
    "provisioningRepository",
)


def _account_connection(ctx: Context, connection: Connection, connection_id: str, name: str) -> Row[Any]:
    """The environment account connection `connection_id` that environment `name` may use: one of the
    caller's (management) account in this region, CONNECTED, for an environment of that name."""
    row = connection_store.find(connection, ctx.region, connection_id)
    if row is None or row.management_account_id != ctx.account_id:
        raise ValidationException(
            f"Environment account connection {connection_id} does not exist in this management account "
            "and region."
        )
    if row.status == connection_store.REJECTED:
        raise ValidationException(
            f"Environment account connection {connection_id} was rejected; a rejected connection cannot be "
            "used."
        )
    if row.status != CONNECTED:
        raise ValidationException(
            f"Environment account connection {connection_id} is {row.status}; it can be used once the "
            "management account accepts it (AcceptEnvironmentAccountConnection)."
        )
    if row.environment_name != name:
        raise ValidationException(
            f"Environment account connection {connection_id} is for environment {row.environment_name}, "
            f"not {name}."
        )
    return row


def _refuse_with_connection(params: Params, what: str) -> None:
    """Roles and a repository are the connection's when one is given or in use (`what` says which)."""
    for member in _CONNECTION_REPLACES:
        if member in params:
            raise ValidationException(
                f"Do not give {member} with {what}: the environment's infrastructure is provisioned in the "
                "environment account with the roles of its environment account connection."
            )


def _check_connection_method(label: str, engine: str | None, linked: Any) -> None:
    """A connection serves CloudFormation and CodeBuild provisioning (the latter only with its
    codebuildRoleArn), never Terraform (self-managed) provisioning."""
    if engine == "hcl":
        raise ValidationException(
            f"{label} is a Terraform template (self-managed provisioning); an environment account "
            "connection cannot be used with it."
        )
    if engine == "codebuild" and not linked.codebuild_role_arn:
        raise ValidationException(
            f"Environment account connection {linked.id} has no codebuildRoleArn to provision an "
            "environment with CodeBuild."
        )


def _linked_repository(ctx: Context, connection: Connection, params: Params) -> dict[str, str] | None:
    """The stored form of `provisioningRepository` when given; it must name an existing repository link."""
    value = params.get("provisioningRepository")
    if value is None:
        return None
    return repository_branch(ctx, connection, value, missing=ResourceNotFoundException)


_CODEBUILD_ROLE_REQUIRED = "codebuildRoleArn is required to provision an environment with CodeBuild."


def _check_provisioning(
    ctx: Context,
    connection: Connection,
    template: Row[Any],
    version: Row[Any],
    params: Params,
    linked: Row[Any] | None,
) -> dict[str, str] | None:
    """The provisioning parameters must fit the method the version's bundle uses; returns the stored
    `provisioningRepository` of a Terraform (self-managed) environment. `linked` is the environment
    account connection given, which replaces the roles and the repository."""
    label = f"Version {version.major}.{version.minor} of environment template {template.name}"
    if linked is not None:
        _refuse_with_connection(params, "environmentAccountConnectionId")
        if template.provisioning != CUSTOMER_MANAGED:
            _check_connection_method(label, rendering_engine(version, "infrastructure"), linked)
        return None
    repository = _linked_repository(ctx, connection, params)
    if template.provisioning == CUSTOMER_MANAGED:
        if repository is not None:
            raise ValidationException(f"{label} is customer managed; do not give a provisioningRepository.")
        return None
    engine = rendering_engine(version, "infrastructure")
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
    row: Row[Any],
    template: Row[Any],
    version: Row[Any],
    changes: dict[str, Any],
    linked: Any,
) -> None:
    """A deploying update must fit the method of the target version: a Terraform version needs the
    environment's provisioningRepository, any other its protonServiceRoleArn (or its account connection:
    `linked` when the update gives a new one, else the one it has, which must still be CONNECTED)."""
    if linked is None and row.environment_account_connection_id:
        problem = environment_roles(row).problem
        if problem is not None:
            raise ValidationException(problem)
        linked = _CurrentConnection(row.environment_account_connection_id, row.connection_codebuild_role_arn)
    if template.provisioning == CUSTOMER_MANAGED:
        return
    label = f"Version {version.major}.{version.minor} of environment template {template.name}"
    engine = rendering_engine(version, "infrastructure")
    if linked is not None:
        _check_connection_method(label, engine, linked)
        return
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


@dataclass(frozen=True)
class _CurrentConnection:
    """The parts of an environment's current account connection that the method check reads."""

    id: str
    codebuild_role_arn: str | None


def _state(template_name: str, major: int, minor: int, spec: str | None) -> dict[str, Any]:
    state = {
        "templateName": template_name,
        "templateMajorVersion": str(major),
        "templateMinorVersion": str(minor),
    }
    if spec is not None:
        state["spec"] = spec
    return {"environment": state}


def _current_state(row: Row[Any]) -> dict[str, Any]:
    return _state(row.template_name, row.template_major, row.template_minor, row.spec)


@operation("CreateEnvironment", write=True)
def create_environment(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    name = params["name"]
    template, chosen = version_for_create(ctx, connection, TEMPLATE_KIND, params)
    if find(ctx, connection, ENVIRONMENT, name) is not None:
        raise ConflictException(f"An environment named {name} already exists.")
    check_account_quota(ctx, connection, environments, "environments", "environments")
    version = template_store.chosen_version(connection, template, chosen)
    linked = (
        _account_connection(ctx, connection, params["environmentAccountConnectionId"], name)
        if params.get("environmentAccountConnectionId")
        else None
    )
    repository = _check_provisioning(ctx, connection, template, version, params, linked)
    inputs = spec_inputs(
        schema_of(version),
        ENVIRONMENT_INPUT,
        parse_environment_spec(params["spec"]),
        {},
        where=f"environment {name}",
    )
    columns = {
        "name": name,
        "template_id": template.id,
        "description": params.get("description"),
        "proton_service_role_arn": params.get("protonServiceRoleArn"),
        "codebuild_role_arn": params.get("codebuildRoleArn"),
        "component_role_arn": params.get("componentRoleArn"),
        "provisioning": CUSTOMER_MANAGED if template.provisioning == CUSTOMER_MANAGED else None,
        "provisioning_repository": orjson.dumps(repository).decode() if repository is not None else None,
        "environment_account_connection_id": linked.id if linked is not None else None,
        "environment_account_id": linked.account_id if linked is not None else None,
        **deployables.version_columns(chosen, params["spec"], inputs.values),
    }
    resource = target(ctx, ENVIRONMENT, name)
    target_state = with_warnings(_state(template.name, *chosen, params["spec"]), inputs.warnings)
    create_deployable(ctx, connection, resource, columns, Start(CREATE, name, target_state))
    put_tags(ctx, connection, resource.arn, params.get("tags") or [])
    return {"environment": environment_shape(ctx, require(ctx, connection, ENVIRONMENT, name))}


@operation("ListEnvironments", write=False)
def list_environments(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    query = deployables.scoped(ENVIRONMENT)
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
    shape = partial(environment_shape, ctx, summary=True)
    return page_by_name(
        ctx, params, connection, query, E.name, shape, member="environments", extra="environments"
    )


def _connection_change(
    ctx: Context, connection: Connection, row: Row[Any], params: Params
) -> Row[Any] | None:
    """The new environment account connection an UpdateEnvironment gives, checked as Proton does: only
    an environment that has a connection moves to another, of the same environment account and for the
    same environment, and then gives no roles or repository; an environment with a connection takes no
    roles of its own."""
    current = row.environment_account_connection_id
    given = params.get("environmentAccountConnectionId")
    if not given:
        if current:
            _refuse_with_connection(params, f"environment {row.name}, which uses environment account "
                                    f"connection {current}")  # fmt: skip
        return None
    if not current:
        raise ValidationException(
            f"Environment {row.name} is not associated with an environment account connection, so it "
            "cannot be connected to one (give environmentAccountConnectionId only to an environment "
            "created with one)."
        )
    _refuse_with_connection(params, "environmentAccountConnectionId")
    linked = _account_connection(ctx, connection, given, row.name)
    if linked.account_id != row.environment_account_id:
        raise ValidationException(
            f"Environment account connection {given} is of environment account {linked.account_id}; "
            f"environment {row.name} is in environment account {row.environment_account_id}, and a new "
            "connection must come from the same environment account."
        )
    return linked


def _setting_changes(
    ctx: Context, connection: Connection, row: Row[Any], params: Params, linked: Row[Any] | None
) -> dict[str, Any]:
    """The columns an UpdateEnvironment changes besides its deployment (description, roles, repository,
    account connection)."""
    changes: dict[str, Any] = {}
    if linked is not None and linked.id != row.environment_account_connection_id:
        changes["environment_account_connection_id"] = linked.id
    if "description" in params:
        changes["description"] = params["description"]
    for member, column in (
        ("protonServiceRoleArn", "proton_service_role_arn"),
        ("componentRoleArn", "component_role_arn"),
        ("codebuildRoleArn", "codebuild_role_arn"),
    ):
        if member in params:
            changes[column] = params[member]
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
    return changes


@operation("UpdateEnvironment", write=True)
def update_environment(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    resource = target(ctx, ENVIRONMENT, params["name"])
    row = deployables.require(connection, resource)
    deployables.refuse_busy(resource, row)
    deployment_type = params["deploymentType"]
    linked = _connection_change(ctx, connection, row, params)
    changes = _setting_changes(ctx, connection, row, params, linked)
    if deployment_type == NONE:
        for member in ("spec", "templateMajorVersion", "templateMinorVersion"):
            if member in params:
                raise ValidationException(f"{member} cannot be given with deploymentType NONE.")
        if changes:
            connection.execute(sa.update(environments).where(E.id == row.id).values(**changes))
        return {"environment": environment_shape(ctx, require(ctx, connection, ENVIRONMENT, row.name))}
    deployables.refuse_needs_spec(
        resource, row, params.get("spec"), f"aws proton update-environment --name {row.name}"
    )
    template, chosen, version = version_for_update(connection, TEMPLATE_KIND, row.template_id, row, params)
    spec_text = params.get("spec", row.spec)
    given = parse_environment_spec(spec_text) if spec_text else {}
    inputs = spec_inputs(
        schema_of(version),
        ENVIRONMENT_INPUT,
        given,
        orjson.loads(row.inputs),
        where=f"environment {row.name}",
    )
    _check_update_method(row, template, version, changes, linked)
    state = _state(template.name, *chosen, spec_text)
    state["environment"]["inputs"] = inputs.values
    start_deployment(
        ctx,
        connection,
        resource,
        row,
        Start(UPDATE, row.name, with_warnings(state, inputs.warnings), _current_state(row), extra=changes),
    )
    return {"environment": environment_shape(ctx, require(ctx, connection, ENVIRONMENT, row.name))}


@operation("DeleteEnvironment", write=True)
def delete_environment(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    resource = target(ctx, ENVIRONMENT, params["name"])
    row = deployables.require(connection, resource)
    deployables.refuse_busy(resource, row)
    problem = environment_roles(row).problem
    if problem is not None:
        raise ValidationException(problem)
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
    state = _current_state(row)
    start_deployment(
        ctx, connection, resource, row, Start(DELETE, row.name, state, state, status=DELETE_IN_PROGRESS)
    )
    return {"environment": environment_shape(ctx, require(ctx, connection, ENVIRONMENT, row.name))}
