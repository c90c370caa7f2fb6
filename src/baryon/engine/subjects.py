"""What a deployment deploys: the resource row behind a deployment record, loaded with everything the
deployment job needs (template, bundle part, role, stack name, managed tags, rendering namespace,
provisioning method). A resource adopted from a stack (its `bound_stack_name`) deploys and deletes that
stack; any other gets the stack name of `stack_names`.

Invariants: the resource row is found through the deployables registry (`baryon.deployables`), as the API
finds it; one loader per target resource type; a subject is read in one connection, so its parts are
consistent; rendering contexts read the *current* outputs of the environment, of the instances and of
an instance's attached component, so outputs reach a consumer at its next deployment, never earlier; a
pipeline's instances are those not being (or failed to be) deleted, and its deployment is blocked while an
instance deploys. A component carries its own IaC file in the deployment's target state (`source`), so a
deployment renders exactly what was submitted; its manifest's rendering engine (`engine`) picks the
provisioning method, as a bundle part's does for the other resources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon import deployables
from baryon.bundles.component import parse_component_manifest
from baryon.bundles.errors import BundleError
from baryon.deployables import STATE_MEMBER
from baryon.deployables.lookup import ROWS
from baryon.domain import arns
from baryon.domain.account_connections import environment_roles
from baryon.domain.deployments import FINAL, LEAVING
from baryon.engine.provisioners import stack_names as cfn
from baryon.render.context import (
    component_context,
    environment_context,
    pipeline_context,
    service_instance_context,
)
from baryon.render.errors import RenderError
from baryon.store import schema
from baryon.store.prepared import Prepared

E, S, I, P = (  # noqa: E741
    t.c for t in (schema.environments, schema.services, schema.service_instances, schema.service_pipelines)
)
T, C = schema.templates.c, schema.components.c

ENVIRONMENT = deployables.ENVIRONMENT.target_type
SERVICE_INSTANCE = deployables.SERVICE_INSTANCE.target_type
SERVICE_PIPELINE = deployables.SERVICE_PIPELINE.target_type
COMPONENT = deployables.COMPONENT.target_type


def version_settled(target: dict[str, Any]) -> dict[str, Any]:
    """The columns a successful deployment of a template-version-based resource sets from its target
    state: the version it ran, its spec and (when recorded) its inputs."""
    values: dict[str, Any] = {
        "template_major": int(target["templateMajorVersion"]),
        "template_minor": int(target["templateMinorVersion"]),
        "spec": target.get("spec"),
    }
    if "inputs" in target:
        values["inputs"] = orjson.dumps(target["inputs"]).decode()
    if target.get("spec") is not None:
        values["needs_spec"] = None  # a resource adopted without its spec has one now
    return values


@dataclass
class Subject:
    table: sa.Table
    where: Any
    row: Any
    template_id: int
    template_name: str
    template_kind: str
    part: str
    customer_managed: bool
    role_arn: str | None
    stack_name: str
    tags: dict[str, str]
    context: Callable[[dict[str, Any]], dict[str, Any]]
    service_id: int | None = None
    #: True while the subject must not start yet (a pipeline waits for its service's instances).
    blocked: bool = False
    #: The rendering engine of the subject's own IaC file ("jinja", "hcl"), which picks the provisioning
    #: method; None: the engine of the subject's part in its template version.
    engine: str | None = None
    #: (file name, IaC text) of a deployment's target state, for subjects that carry their own file
    #: (components); None: the file of the subject's part in its registered template version.
    source: Callable[[dict[str, Any]], tuple[str, str]] | None = None
    #: The resource columns a successful deployment sets from its target state.
    settled: Callable[[dict[str, Any]], dict[str, Any]] = version_settled
    #: The columns and values that `where` matches (for prepared updates); None: use `where`.
    key: dict[str, Any] | None = None
    #: Why the subject cannot be deployed now (its environment's account connection was deleted): the
    #: deployment fails with this message before any provisioner acts.
    problem: str | None = None


def _outputs(text: str) -> dict[str, str]:
    return {item["key"]: item["valueString"] for item in orjson.loads(text)}


def _service_view(service: Any) -> dict[str, Any]:
    return {
        "name": service.name,
        "branch_name": service.branch_name,
        "repository_connection_arn": service.repository_connection_arn,
        "repository_id": service.repository_id,
    }


def _tags(record: Any, kind: str, template_name: str, **extra: str) -> dict[str, str]:
    tags = {
        "aws:proton:account": record.account_id,
        "aws:proton:template": arns.template_arn(record.region, record.account_id, kind, template_name),
    }
    tags.update(extra)
    return cfn.stack_tags(tags)


def load(connection: Connection, record: Any) -> Subject | None:
    """The subject of a deployment record: its resource row (through the deployables registry) and what
    its deployment needs; None when the resource no longer exists."""
    if record.target_type not in deployables.KINDS:
        return None
    row = deployables.find(connection, deployables.of_record(record))
    if row is None:
        return None
    return _LOADERS[record.target_type](connection, record, row)


def _environment(connection: Connection, record: Any, row: Any) -> Subject | None:
    where = E.id == row.id
    roles = environment_roles(row)

    def context(inputs: dict[str, Any]) -> dict[str, Any]:
        return environment_context(name=row.name, account_id=roles.account_id, inputs=inputs)

    return Subject(
        table=schema.environments,
        where=where,
        row=row,
        template_id=row.template_id,
        template_name=row.template_name,
        template_kind="ENVIRONMENT",
        part="infrastructure",
        customer_managed=row.template_provisioning == "CUSTOMER_MANAGED",
        role_arn=roles.cloudformation,
        problem=roles.problem,
        stack_name=row.bound_stack_name
        or cfn.stack_name("environment", row.name, account_id=record.account_id, region=record.region),
        tags=_tags(record, "ENVIRONMENT", row.template_name, **{"aws:proton:environment": record.target_arn}),
        context=context,
        key={"id": row.id},
    )


_SERVICE = Prepared(
    sa.select(schema.services, T.name.label("template_name"))
    .join(schema.templates, T.id == S.template_id)
    .where(
        S.account_id == sa.bindparam("account_id"),
        S.region == sa.bindparam("region"),
        S.name == sa.bindparam("name"),
    )
)
#: An environment by id, with the columns of its account connection (as the deployables lookup reads it).
_ENVIRONMENT_BY_ID = Prepared(ROWS[deployables.ENVIRONMENT.target_type].where(E.id == sa.bindparam("id")))
_ATTACHED = Prepared(sa.select(C.name, C.outputs).where(C.service_instance_id == sa.bindparam("id")))
_DEPLOYMENT_STATUS = Prepared(
    sa.select(schema.deployments.c.deployment_status).where(schema.deployments.c.id == sa.bindparam("id"))
)


def _service(connection: Connection, record: Any) -> Any:
    return _SERVICE.first(
        connection, {"account_id": record.account_id, "region": record.region, "name": record.service_name}
    )


def _service_subject(record: Any, service: Any, row: Any, *, tags: dict[str, str], **members: Any) -> Subject:
    """A subject deployed from its service's template (an instance or the pipeline): `tags` are its own
    managed tags, next to the account and template ones."""
    return Subject(
        row=row,
        template_id=service.template_id,
        template_name=service.template_name,
        template_kind="SERVICE",
        customer_managed=False,
        tags=_tags(record, "SERVICE", service.template_name, **tags),
        service_id=service.id,
        **members,
    )


def _instance(connection: Connection, record: Any, row: Any) -> Subject | None:
    service = _service(connection, record)
    if service is None:
        return None
    where = I.id == row.id
    environment = _ENVIRONMENT_BY_ID.first(connection, {"id": row.environment_id})
    roles = environment_roles(environment)
    component = _ATTACHED.first(connection, {"id": row.id})

    def context(inputs: dict[str, Any]) -> dict[str, Any]:
        return service_instance_context(
            environment={
                "name": environment.name,
                "account_id": roles.account_id,
                "outputs": _outputs(environment.outputs),
            },
            service=_service_view(service),
            instance={"name": row.name, "inputs": inputs},
            component=(
                {"name": component.name, "outputs": _outputs(component.outputs)}
                if component is not None
                else None
            ),
        )

    service_arn = arns.service_arn(record.region, record.account_id, service.name)
    return _service_subject(
        record,
        service,
        row,
        table=schema.service_instances,
        where=where,
        part="instance_infrastructure",
        role_arn=roles.cloudformation,
        problem=roles.problem,
        stack_name=row.bound_stack_name
        or cfn.stack_name(
            "service-instance", service.name, row.name, account_id=record.account_id, region=record.region
        ),
        tags={
            "aws:proton:environment": arns.environment_arn(
                record.region, record.account_id, environment.name
            ),
            "aws:proton:service": service_arn,
            "aws:proton:service-instance": record.target_arn,
        },
        context=context,
        key={"id": row.id},
    )


def _pipeline(connection: Connection, record: Any, row: Any) -> Subject | None:
    service = _service(connection, record)
    if service is None:
        return None
    where = P.service_id == service.id
    instances = connection.execute(
        sa.select(
            schema.service_instances,
            sa.func.coalesce(E.environment_account_id, E.account_id).label("environment_account"),
            E.outputs.label("environment_outputs"),
        )
        .join(schema.environments, E.id == I.environment_id)
        .where(I.service_id == service.id)
        .order_by(I.name)
    ).all()
    settings = connection.execute(
        sa.select(schema.account_settings.c.pipeline_service_role_arn).where(
            schema.account_settings.c.account_id == record.account_id,
            schema.account_settings.c.region == record.region,
        )
    ).first()
    busy = any(instance.deployment_status in ("IN_PROGRESS", "CANCELLING") for instance in instances)
    if not busy:
        # Read after the instances: the transaction that settled the last of them may also have settled
        # this deployment (a service update rolled back); a deployment read as in flight before that
        # transaction must then not start.
        current = _DEPLOYMENT_STATUS.first(connection, {"id": record.id})
        busy = current is None or current.deployment_status in FINAL

    def context(inputs: dict[str, Any]) -> dict[str, Any]:
        return pipeline_context(
            service=_service_view(service),
            pipeline_inputs=inputs,
            instances=[
                {
                    "name": instance.name,
                    "inputs": orjson.loads(instance.inputs),
                    "outputs": _outputs(instance.outputs),
                    "environment": {
                        "name": instance.environment_name,
                        "account_id": instance.environment_account,
                        "outputs": _outputs(instance.environment_outputs),
                    },
                }
                for instance in instances
                if instance.deployment_status not in LEAVING
            ],
        )

    return _service_subject(
        record,
        service,
        row,
        table=schema.service_pipelines,
        where=where,
        part="pipeline_infrastructure",
        role_arn=settings.pipeline_service_role_arn if settings else None,
        stack_name=row.bound_stack_name
        or cfn.stack_name(
            "service-pipeline", service.name, account_id=record.account_id, region=record.region
        ),
        tags={"aws:proton:service": arns.service_arn(record.region, record.account_id, service.name)},
        context=context,
        blocked=busy,
        key={"service_id": service.id},
    )


def _component_source(target: dict[str, Any]) -> tuple[str, str]:
    """The IaC file a component deployment submitted, named as its manifest names it."""
    try:
        manifest = parse_component_manifest(target["manifest"], target["templateFile"])
    except BundleError as error:
        raise RenderError(error.message.removeprefix("manifest: "), file_name="manifest") from None
    return manifest.file_name, str(target["templateFile"])


def _component(connection: Connection, record: Any, row: Any) -> Subject | None:
    where = C.id == row.id
    environment = _ENVIRONMENT_BY_ID.first(connection, {"id": row.environment_id})
    roles = environment_roles(environment)
    state: dict[str, Any] = orjson.loads(record.target_state)[STATE_MEMBER[COMPONENT]]
    service_name = state.get("serviceName") or None
    instance_name = state.get("serviceInstanceName") or None
    service = _service(connection, record) if service_name else None
    service_view = (
        _service_view(service) if service is not None else {"name": service_name} if service_name else None
    )

    def context(inputs: dict[str, Any]) -> dict[str, Any]:
        return component_context(
            component_name=row.name,
            environment={
                "name": environment.name,
                "account_id": roles.account_id,
                "outputs": _outputs(environment.outputs),
            },
            service=service_view,
            instance={"name": instance_name, "inputs": inputs} if instance_name else None,
        )

    tags = {
        "aws:proton:account": record.account_id,
        "aws:proton:environment": arns.environment_arn(record.region, record.account_id, environment.name),
        "aws:proton:component": record.target_arn,
    }
    if service_name and instance_name:
        tags["aws:proton:service"] = arns.service_arn(record.region, record.account_id, service_name)
        tags["aws:proton:service-instance"] = arns.service_instance_arn(
            record.region, record.account_id, service_name, instance_name
        )
    return Subject(
        table=schema.components,
        where=where,
        row=row,
        template_id=0,
        template_name="",
        template_kind=COMPONENT,
        part="component",
        customer_managed=False,
        role_arn=roles.component,
        problem=roles.problem,
        stack_name=row.bound_stack_name
        or cfn.stack_name("component", row.name, account_id=record.account_id, region=record.region),
        tags=cfn.stack_tags(tags),
        context=context,
        engine=row.rendering_engine,
        source=_component_source,
        # A component adopted without its template file has one once a deployment of one succeeds.
        settled=lambda target: {"needs_spec": None} if target.get("templateFile") else {},
        key={"id": row.id},
    )


_LOADERS: dict[str, Callable[[Connection, Any, Any], Subject | None]] = {
    ENVIRONMENT: _environment,
    SERVICE_INSTANCE: _instance,
    SERVICE_PIPELINE: _pipeline,
    COMPONENT: _component,
}
