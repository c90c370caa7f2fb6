"""What a deployment deploys: the resource row behind a deployment record, loaded with everything the
deployment job needs (template, bundle part, role, stack name, managed tags, rendering namespace).

Invariants: one loader per target resource type; a subject is read in one connection, so its parts are
consistent; rendering contexts read the *current* outputs of the environment and of the instances, so
environment outputs reach an instance at its next deployment, never earlier; a pipeline's instances are
those not being (or failed to be) deleted, and its deployment is blocked while an instance deploys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.domain import arns
from baryon.domain.deployments import DELETE_COMPLETE, DELETE_FAILED, DELETE_IN_PROGRESS, FINAL
from baryon.engine.provisioners import cloudformation as cfn
from baryon.render.context import environment_context, pipeline_context, service_instance_context
from baryon.store.prepared import Prepared
from baryon.store.schema import (
    account_settings,
    deployments,
    environments,
    service_instances,
    service_pipelines,
    services,
    templates,
)

E = environments.c
S = services.c
I = service_instances.c  # noqa: E741
P = service_pipelines.c
T = templates.c

ENVIRONMENT = "ENVIRONMENT"
SERVICE_INSTANCE = "SERVICE_INSTANCE"
SERVICE_PIPELINE = "SERVICE_PIPELINE"
STATE_MEMBER = {
    ENVIRONMENT: "environment",
    SERVICE_INSTANCE: "serviceInstance",
    SERVICE_PIPELINE: "servicePipeline",
}


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
    #: The columns and values that `where` matches (for prepared updates); None: use `where`.
    key: dict[str, Any] | None = None


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
        "aws:proton:template": arns.arn(
            record.region, record.account_id, arns.template_resource(kind, template_name)
        ),
    }
    tags.update(extra)
    return cfn.stack_tags(tags)


def load(connection: Connection, record: Any) -> Subject | None:
    if record.target_type == ENVIRONMENT:
        return _environment(connection, record)
    if record.target_type == SERVICE_INSTANCE:
        return _instance(connection, record)
    if record.target_type == SERVICE_PIPELINE:
        return _pipeline(connection, record)
    return None


def _environment(connection: Connection, record: Any) -> Subject | None:
    where = sa.and_(
        E.account_id == record.account_id, E.region == record.region, E.name == record.environment_name
    )
    row = connection.execute(
        sa.select(environments, T.name.label("template_name"), T.provisioning.label("template_provisioning"))
        .join(templates, T.id == E.template_id)
        .where(where)
    ).first()
    if row is None:
        return None

    def context(inputs: dict[str, Any]) -> dict[str, Any]:
        return environment_context(name=row.name, account_id=row.account_id, inputs=inputs)

    return Subject(
        table=environments,
        where=where,
        row=row,
        template_id=row.template_id,
        template_name=row.template_name,
        template_kind="ENVIRONMENT",
        part="infrastructure",
        customer_managed=row.template_provisioning == "CUSTOMER_MANAGED",
        role_arn=row.proton_service_role_arn,
        stack_name=cfn.stack_name(
            "environment", row.name, account_id=record.account_id, region=record.region
        ),
        tags=_tags(record, "ENVIRONMENT", row.template_name, **{"aws:proton:environment": record.target_arn}),
        context=context,
        key={"account_id": record.account_id, "region": record.region, "name": row.name},
    )


_SERVICE = Prepared(
    sa.select(services, T.name.label("template_name"))
    .join(templates, T.id == S.template_id)
    .where(
        S.account_id == sa.bindparam("account_id"),
        S.region == sa.bindparam("region"),
        S.name == sa.bindparam("name"),
    )
)
_INSTANCE = Prepared(
    sa.select(service_instances).where(
        I.service_id == sa.bindparam("service_id"), I.name == sa.bindparam("name")
    )
)
_ENVIRONMENT_BY_ID = Prepared(sa.select(environments).where(E.id == sa.bindparam("id")))
_DEPLOYMENT_STATUS = Prepared(
    sa.select(deployments.c.deployment_status).where(deployments.c.id == sa.bindparam("id"))
)
#: Instances on their way out: a pipeline is deployed without them.
LEAVING = frozenset({DELETE_IN_PROGRESS, DELETE_COMPLETE, DELETE_FAILED})


def _service(connection: Connection, record: Any) -> Any:
    return _SERVICE.first(
        connection, {"account_id": record.account_id, "region": record.region, "name": record.service_name}
    )


def _instance(connection: Connection, record: Any) -> Subject | None:
    service = _service(connection, record)
    if service is None:
        return None
    where = sa.and_(I.service_id == service.id, I.name == record.service_instance_name)
    row = _INSTANCE.first(connection, {"service_id": service.id, "name": record.service_instance_name})
    if row is None:
        return None
    environment = _ENVIRONMENT_BY_ID.first(connection, {"id": row.environment_id})

    def context(inputs: dict[str, Any]) -> dict[str, Any]:
        return service_instance_context(
            environment={
                "name": environment.name,
                "account_id": environment.account_id,
                "outputs": _outputs(environment.outputs),
            },
            service=_service_view(service),
            instance={"name": row.name, "inputs": inputs},
        )

    service_arn = arns.arn(record.region, record.account_id, f"service/{service.name}")
    return Subject(
        table=service_instances,
        where=where,
        row=row,
        template_id=service.template_id,
        template_name=service.template_name,
        template_kind="SERVICE",
        part="instance_infrastructure",
        customer_managed=False,
        role_arn=environment.proton_service_role_arn,
        stack_name=cfn.stack_name(
            "service-instance", service.name, row.name, account_id=record.account_id, region=record.region
        ),
        tags=_tags(
            record,
            "SERVICE",
            service.template_name,
            **{
                "aws:proton:environment": arns.arn(
                    record.region, record.account_id, f"environment/{environment.name}"
                ),
                "aws:proton:service": service_arn,
                "aws:proton:service-instance": record.target_arn,
            },
        ),
        context=context,
        service_id=service.id,
        key={"service_id": service.id, "name": row.name},
    )


def _pipeline(connection: Connection, record: Any) -> Subject | None:
    service = _service(connection, record)
    if service is None:
        return None
    where = P.service_id == service.id
    row = connection.execute(sa.select(service_pipelines).where(where)).first()
    if row is None:
        return None
    instances = connection.execute(
        sa.select(
            service_instances,
            E.account_id.label("environment_account"),
            E.outputs.label("environment_outputs"),
        )
        .join(environments, E.id == I.environment_id)
        .where(I.service_id == service.id)
        .order_by(I.name)
    ).all()
    settings = connection.execute(
        sa.select(account_settings.c.pipeline_service_role_arn).where(
            account_settings.c.account_id == record.account_id, account_settings.c.region == record.region
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

    return Subject(
        table=service_pipelines,
        where=where,
        row=row,
        template_id=service.template_id,
        template_name=service.template_name,
        template_kind="SERVICE",
        part="pipeline_infrastructure",
        customer_managed=False,
        role_arn=settings.pipeline_service_role_arn if settings else None,
        stack_name=cfn.stack_name(
            "service-pipeline", service.name, account_id=record.account_id, region=record.region
        ),
        tags=_tags(
            record,
            "SERVICE",
            service.template_name,
            **{"aws:proton:service": arns.arn(record.region, record.account_id, f"service/{service.name}")},
        ),
        context=context,
        service_id=service.id,
        blocked=busy,
        key={"service_id": service.id},
    )
