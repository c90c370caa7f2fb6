"""Directly defined components (reference §1.7, §5.6): create, get, update, delete, list, cancel, outputs
and provisioned resources.

A component is created from a manifest and one IaC file given as texts (not a registered template), in
an environment (detached) or attached to a service instance (the environment is then the instance's).
Its provisioning method comes from the manifest's rendering engine: CloudFormation (`jinja`) components
deploy with the environment's `componentRoleArn`; Terraform (`hcl`) components go to the self-managed
provisioning step of `baryon.engine.deploy`, like Terraform bundle parts, and so to the environment's
`provisioningRepository`. Methods do not mix: a Terraform component needs an environment provisioned
through a repository, a CloudFormation one an environment that is not (ValidationException).

Invariants: the manifest, the IaC file, the serviceSpec and the inputs read from it are stored on the
component and copied into each deployment's target state, so a deployment renders exactly what was
submitted; a request that fails changes nothing; an attachment takes effect with the request that makes
it (one component per instance is a unique key), outputs with the deployment's success; an attached
component is neither deleted nor moved to another instance directly (detach first); while the component
or its attached instance has a deployment in flight, UpdateComponent is refused (ConflictException).
"""

from __future__ import annotations

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
    narrowed,
    page_by_name,
    require,
    start_deployment,
    target,
)
from baryon.api.registry import Context, Params, operation
from baryon.api.service_lookup import require_service
from baryon.api.tags import put_tags
from baryon.bundles.component import ComponentManifest, parse_component_manifest
from baryon.bundles.errors import BundleError
from baryon.deployables import COMPONENT, ENVIRONMENT, SERVICE_INSTANCE, Start
from baryon.deployables.wire import with_warnings
from baryon.domain.account_connections import environment_roles
from baryon.domain.deployments import BUSY, CREATE, DELETE, DELETE_IN_PROGRESS, NONE, UPDATE
from baryon.domain.specs import SERVICE_INPUT, Inputs, parse_instance_spec_from_service_spec, spec_inputs
from baryon.domain.template_versions import schema_of
from baryon.protocol.errors import ConflictException, ValidationException
from baryon.store import components as component_store
from baryon.store import templates as template_store
from baryon.store.schema import components, environments, service_instances, services

C = components.c
E = environments.c
I = service_instances.c  # noqa: E741
S = services.c
DIRECTLY_DEFINED = "DIRECTLY_DEFINED"
CLOUDFORMATION = "jinja"
TERRAFORM = "hcl"
MEMBER = "component"


def component_shape(ctx: Context, row: Row[Any], *, summary: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "name": row.name,
        "arn": target(ctx, COMPONENT, row.name).arn,
        "environmentName": row.environment_name,
        "serviceName": row.service_name,
        "serviceInstanceName": row.service_instance_name,
        "lastModifiedAt": row.last_modified_at,
        **deployables.deployment_members(row),
    }
    if not summary:
        shape["description"] = row.description
        shape["serviceSpec"] = row.service_spec
        shape["lastClientRequestToken"] = row.last_client_request_token
    return clean(shape)


def _manifest(manifest: str, template_file: str) -> ComponentManifest:
    try:
        return parse_component_manifest(manifest, template_file)
    except BundleError as error:
        raise ValidationException(error.message) from None


def _usable_environment(environment: Row[Any], manifest: ComponentManifest, component: str) -> None:
    """Refuse an environment the component cannot deploy in: one being deleted, one whose provisioning
    method differs from the manifest's (Terraform components go to the environment's
    provisioningRepository, CloudFormation ones need its componentRoleArn)."""
    if environment.deployment_status == DELETE_IN_PROGRESS:
        raise ConflictException(f"Environment {environment.name} is being deleted.")
    self_managed = environment.provisioning_repository is not None
    if manifest.rendering_engine == TERRAFORM and not self_managed:
        raise ValidationException(
            "The component's manifest names a Terraform file (rendering_engine hcl); environment "
            f"{environment.name} is not provisioned through a repository (self-managed provisioning), so "
            f"component {component} cannot be deployed in it."
        )
    if manifest.rendering_engine == CLOUDFORMATION and self_managed:
        raise ValidationException(
            "The component's manifest names a CloudFormation file (rendering_engine jinja); environment "
            f"{environment.name} is provisioned through a repository (self-managed provisioning), so "
            f"component {component} cannot be deployed in it."
        )
    roles = environment_roles(environment)
    if roles.problem is not None:
        raise ValidationException(roles.problem)
    connection_id = environment.environment_account_connection_id
    if manifest.rendering_engine == CLOUDFORMATION and not roles.component and connection_id:
        raise ValidationException(
            f"The environment account connection {connection_id} of environment {environment.name} has no "
            "componentRoleArn; a CloudFormation component needs it to be provisioned with (set it with "
            "UpdateEnvironmentAccountConnection in the environment account)."
        )
    if manifest.rendering_engine == CLOUDFORMATION and not roles.component:
        raise ValidationException(
            f"Environment {environment.name} has no componentRoleArn; a CloudFormation component needs "
            "the environment's component role to be provisioned with (set it with UpdateEnvironment)."
        )


def _instance_version(connection: Connection, service: Row[Any], instance: Row[Any]) -> Row[Any]:
    version = template_store.find_version(
        connection, service.template_id, instance.template_major, instance.template_minor
    )
    if version is None:
        raise ValidationException(
            f"Version {instance.template_major}.{instance.template_minor} of service template "
            f"{service.template_name} no longer exists."
        )
    return version


def _attachable(
    ctx: Context, connection: Connection, component: str, service_name: str, instance_name: str
) -> tuple[Row[Any], Row[Any]]:
    """(service, instance) a component may be attached to; raises when the instance refuses it."""
    service = require_service(connection, ctx, service_name)
    instance = require(ctx, connection, SERVICE_INSTANCE, service_name, instance_name)
    if instance.deployment_status in BUSY:
        raise ConflictException(
            f"Service instance {instance_name} of service {service_name} has a deployment in progress "
            f"({instance.deployment_status}); wait for it to finish."
        )
    version = _instance_version(connection, service, instance)
    sources = orjson.loads(version.supported_component_sources or "[]")
    if DIRECTLY_DEFINED not in sources:
        raise ValidationException(
            f"Service instance {instance_name} of service {service_name} runs version "
            f"{version.major}.{version.minor} of service template {service.template_name}, whose "
            f"supportedComponentSources does not include {DIRECTLY_DEFINED}."
        )
    other = component_store.attached(connection, [instance.id])
    if other is not None and other.name != component:
        raise ConflictException(
            f"Service instance {instance_name} of service {service_name} already has component "
            f"{other.name} attached; a service instance can have one component."
        )
    return service, instance


def _inputs(
    connection: Connection, component: str, service: Row[Any], instance: Row[Any], service_spec: str | None
) -> Inputs:
    """The instance inputs the component sees: from its serviceSpec, else the instance's own."""
    current: dict[str, Any] = orjson.loads(instance.inputs)
    if service_spec is None:
        return Inputs(current, None)
    return spec_inputs(
        schema_of(_instance_version(connection, service, instance)),
        SERVICE_INPUT,
        parse_instance_spec_from_service_spec(service_spec, instance.name),
        current,
        where=f"component {component}",
    )


def _state(
    *,
    manifest: str,
    template_file: str,
    service_name: str | None,
    instance_name: str | None,
    service_spec: str | None,
    inputs: Inputs | None,
) -> dict[str, Any]:
    """A ComponentState union; `manifest` and `inputs` are kept for the engine and not shown."""
    state: dict[str, Any] = {"templateFile": template_file, "manifest": manifest}
    if service_name and instance_name:
        state["serviceName"] = service_name
        state["serviceInstanceName"] = instance_name
    if service_spec is not None:
        state["serviceSpec"] = service_spec
    if inputs is None:
        return {MEMBER: state}
    state["inputs"] = inputs.values
    return with_warnings({MEMBER: state}, inputs.warnings)


def _current_state(row: Row[Any]) -> dict[str, Any]:
    return _state(
        manifest=row.manifest,
        template_file=row.template_file,
        service_name=row.service_name,
        instance_name=row.service_instance_name,
        service_spec=row.service_spec,
        inputs=None,
    )


def _pair(params: Params) -> tuple[str, str] | None:
    """(serviceName, serviceInstanceName) of CreateComponent, or None when neither is given."""
    service_name, instance_name = params.get("serviceName"), params.get("serviceInstanceName")
    if bool(service_name) != bool(instance_name):
        raise ValidationException(
            "Specify both serviceName and serviceInstanceName to attach the component, or neither."
        )
    return (service_name, instance_name) if service_name and instance_name else None


@operation("CreateComponent", write=True)
def create_component(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    name = params["name"]
    pair = _pair(params)
    if pair is None and not params.get("environmentName"):
        raise ValidationException(
            "Specify environmentName for a detached component, or serviceName and serviceInstanceName "
            "to attach it to a service instance."
        )
    if pair is None and "serviceSpec" in params:
        raise ValidationException(
            "serviceSpec can only be given when the component is attached to a service instance."
        )
    if find(ctx, connection, COMPONENT, name) is not None:
        raise ConflictException(f"A component named {name} already exists.")
    check_account_quota(ctx, connection, components, "components", "components")
    manifest = _manifest(params["manifest"], params["templateFile"])
    inputs = Inputs({}, None)
    instance: Row[Any] | None = None
    if pair is not None:
        service, instance = _attachable(ctx, connection, name, *pair)
        given_environment = params.get("environmentName")
        if given_environment and given_environment != instance.environment_name:
            raise ValidationException(
                f"Service instance {instance.name} of service {service.name} runs in environment "
                f"{instance.environment_name}, not {given_environment}."
            )
        environment = require(ctx, connection, ENVIRONMENT, instance.environment_name)
        inputs = _inputs(connection, name, service, instance, params.get("serviceSpec"))
    else:
        environment = require(ctx, connection, ENVIRONMENT, params["environmentName"])
    _usable_environment(environment, manifest, name)
    now = ctx.now
    columns = {
        "name": name,
        "environment_id": environment.id,
        "service_instance_id": instance.id if instance is not None else None,
        "description": params.get("description"),
        "service_spec": params.get("serviceSpec"),
        "manifest": params["manifest"],
        "template_file": params["templateFile"],
        "rendering_engine": manifest.rendering_engine,
        "last_modified_at": now,
        "last_client_request_token": params.get("clientToken"),
    }
    target_state = _state(
        manifest=params["manifest"],
        template_file=params["templateFile"],
        service_name=pair[0] if pair else None,
        instance_name=pair[1] if pair else None,
        service_spec=params.get("serviceSpec"),
        inputs=inputs,
    )
    resource = target(ctx, COMPONENT, name)
    create_deployable(
        ctx, connection, resource, columns, Start(CREATE, environment.name, target_state), now=now
    )
    put_tags(ctx, connection, resource.arn, params.get("tags") or [])
    return {"component": component_shape(ctx, require(ctx, connection, COMPONENT, name))}


@operation("ListComponents", write=False)
def list_components(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    names = {"environmentName": E.name, "serviceName": S.name, "serviceInstanceName": I.name}
    query, extra = narrowed(deployables.scoped(COMPONENT), params, names)
    shape = partial(component_shape, ctx, summary=True)
    return page_by_name(ctx, params, connection, query, C.name, shape, member="components", extra=extra)


def _refuse_busy(ctx: Context, row: Row[Any], connection: Connection) -> None:
    deployables.refuse_busy(target(ctx, COMPONENT, row.name), row)
    if row.service_instance_id is not None:
        status = connection.execute(
            sa.select(I.deployment_status).where(I.id == row.service_instance_id)
        ).scalar_one()
        if status in BUSY:
            raise ConflictException(
                f"Service instance {row.service_instance_name} of service {row.service_name}, which "
                f"component {row.name} is attached to, has a deployment in progress ({status}); wait for "
                "it to finish."
            )


@operation("UpdateComponent", write=True)
def update_component(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    row = require(ctx, connection, COMPONENT, params["name"])
    _refuse_busy(ctx, row, connection)
    changes: dict[str, Any] = {
        "last_modified_at": ctx.now,
        "last_client_request_token": params.get("clientToken"),
    }
    if "description" in params:
        changes["description"] = params["description"]
    if params["deploymentType"] == NONE:
        given = [
            m for m in ("serviceName", "serviceInstanceName", "serviceSpec", "templateFile") if m in params
        ]
        if given:
            raise ValidationException(
                f"deploymentType NONE can only change the description of a component; "
                f"{', '.join(given)} need deploymentType CURRENT_VERSION."
            )
        connection.execute(sa.update(components).where(C.id == row.id).values(**changes))
        return {"component": component_shape(ctx, require(ctx, connection, COMPONENT, row.name))}
    if row.needs_spec and not params.get("templateFile"):
        raise ValidationException(
            f"Component {row.name} was adopted from CloudFormation stack {row.bound_stack_name} without its "
            "template file, so it cannot be deployed without one; give it: aws proton update-component "
            f"--name {row.name} --template-file file://cloudformation.yaml --deployment-type CURRENT_VERSION"
        )
    service_name, instance_name = _new_attachment(row, params)
    service: Row[Any] | None = None
    instance: Row[Any] | None = None
    same = (service_name, instance_name) == (row.service_name, row.service_instance_name)
    if service_name and instance_name:
        if same:
            service = require_service(connection, ctx, service_name)
            instance = require(ctx, connection, SERVICE_INSTANCE, service_name, instance_name)
        else:
            service, instance = _attachable(ctx, connection, row.name, service_name, instance_name)
            if instance.environment_id != row.environment_id:
                raise ValidationException(
                    f"Service instance {instance_name} of service {service_name} runs in environment "
                    f"{instance.environment_name}; component {row.name} belongs to environment "
                    f"{row.environment_name}."
                )
    service_spec = params.get("serviceSpec")
    if instance is None and service_spec is not None:
        raise ValidationException(
            "serviceSpec can only be given when the component is attached to a service instance."
        )
    if instance is not None and service_spec is None and same:
        service_spec = row.service_spec
    template_file = params.get("templateFile", row.template_file)
    manifest = _manifest(row.manifest, template_file)
    environment = require(ctx, connection, ENVIRONMENT, row.environment_name)
    _usable_environment(environment, manifest, row.name)
    inputs = (
        _inputs(connection, row.name, service, instance, service_spec)
        if service is not None and instance is not None
        else Inputs({}, None)
    )
    changes.update(
        service_instance_id=instance.id if instance is not None else None,
        service_spec=service_spec,
        template_file=template_file,
    )
    start_deployment(
        ctx,
        connection,
        target(ctx, COMPONENT, row.name),
        row,
        Start(
            UPDATE,
            row.environment_name,
            _state(
                manifest=row.manifest,
                template_file=template_file,
                service_name=service_name,
                instance_name=instance_name,
                service_spec=service_spec,
                inputs=inputs,
            ),
            _current_state(row),
            extra=changes,
        ),
    )
    return {"component": component_shape(ctx, require(ctx, connection, COMPONENT, row.name))}


def _new_attachment(row: Row[Any], params: Params) -> tuple[str | None, str | None]:
    """(service, instance) an UpdateComponent asks for: unchanged when neither member is given, None
    for both when both are empty strings (detach)."""
    has_service, has_instance = "serviceName" in params, "serviceInstanceName" in params
    if not has_service and not has_instance:
        return row.service_name, row.service_instance_name
    service_name, instance_name = params.get("serviceName") or "", params.get("serviceInstanceName") or ""
    if has_service != has_instance or bool(service_name) != bool(instance_name):
        raise ValidationException(
            "Specify non-empty serviceName and serviceInstanceName to attach the component, empty strings "
            "for both to detach it, or neither to keep its attachment."
        )
    if not service_name:
        return None, None
    if row.service_instance_id is not None and (service_name, instance_name) != (
        row.service_name,
        row.service_instance_name,
    ):
        raise ConflictException(
            f"Component {row.name} is attached to service instance {row.service_instance_name} of service "
            f"{row.service_name}; detach it first (empty serviceName and serviceInstanceName) before "
            "attaching it to another service instance."
        )
    return service_name, instance_name


@operation("DeleteComponent", write=True)
def delete_component(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    row = require(ctx, connection, COMPONENT, params["name"])
    if row.service_instance_id is not None:
        raise ConflictException(
            f"Component {row.name} is attached to service instance {row.service_instance_name} of service "
            f"{row.service_name}; detach it (UpdateComponent with empty serviceName and "
            "serviceInstanceName) before deleting it."
        )
    resource = target(ctx, COMPONENT, row.name)
    deployables.refuse_busy(resource, row)
    state = _current_state(row)
    start_deployment(
        ctx,
        connection,
        resource,
        row,
        Start(DELETE, row.environment_name, state, state, status=DELETE_IN_PROGRESS),
    )
    return {"component": component_shape(ctx, require(ctx, connection, COMPONENT, row.name))}
