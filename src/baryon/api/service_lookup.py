"""What the service, service instance and service pipeline handlers share: finding a service, whether
its actions must wait, the version its new instances start on, the environment check of an instance,
and the state members of instance and pipeline deployments.

Invariants: a service is found only in the caller's account and region; service actions wait while the
service is in any *_IN_PROGRESS status or one of its instances or its pipeline has a deployment in
flight; an instance is deployed only in an environment that exists, has deployed once, is compatible
with the template version and is provisioned by the same method as the version's instance part.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon import deployables
from baryon.api.common import account_quota, not_found, target
from baryon.api.kinds import SERVICE
from baryon.api.registry import Context
from baryon.deployables import ENVIRONMENT, SERVICE_PIPELINE
from baryon.domain import arns
from baryon.domain.account_connections import environment_roles
from baryon.domain.deployments import BUSY
from baryon.domain.template_versions import published_version, rendering_engine
from baryon.protocol.errors import (
    ConflictException,
    ServiceError,
    ServiceQuotaExceededException,
    ValidationException,
)
from baryon.store import services as service_state
from baryon.store import templates as template_store
from baryon.store.schema import service_instances, services, templates

S = services.c
I = service_instances.c  # noqa: E741
T = templates.c

SERVICE_ROWS = sa.select(
    services, T.name.label("template_name"), T.provisioning.label("pipeline_provisioning")
).join(templates, T.id == S.template_id)


def service_arn(ctx: Context, name: str) -> str:
    return arns.service_arn(ctx.region, ctx.account_id, name)


def find_service(connection: Connection, ctx: Context, name: str) -> Row[Any] | None:
    return connection.execute(
        SERVICE_ROWS.where(S.account_id == ctx.account_id, S.region == ctx.region, S.name == name)
    ).first()


def require_service(connection: Connection, ctx: Context, name: str) -> Row[Any]:
    row = find_service(connection, ctx, name)
    if row is None:
        raise not_found("service", service_arn(ctx, name))
    return row


def find_pipeline(connection: Connection, ctx: Context, service_name: str) -> Any:
    return deployables.find(connection, target(ctx, SERVICE_PIPELINE, service_name))


def service_busy(connection: Connection, ctx: Context, service: Row[Any]) -> str | None:
    """Why the service's actions must wait now, or None."""
    if service.status in service_state.IN_FLIGHT:
        return f"service {service.name} is {service.status}"
    busy = connection.execute(
        sa.select(I.name).where(I.service_id == service.id, I.deployment_status.in_(BUSY)).limit(1)
    ).first()
    if busy is not None:
        return f"service instance {busy.name} has a deployment in progress"
    pipeline = find_pipeline(connection, ctx, service.name)
    if pipeline is not None and deployables.busy(pipeline):
        return "the pipeline has a deployment in progress"
    return None


def refuse_service_busy(connection: Connection, ctx: Context, service: Row[Any], action: str) -> None:
    """ConflictException ("Service api cannot {action} now: …") while the service's actions must wait."""
    reason = service_busy(connection, ctx, service)
    if reason is not None:
        raise ConflictException(f"Service {service.name} cannot {action} now: {reason}.")


def check_instance_count(
    ctx: Context,
    connection: Connection,
    count: int,
    error: type[ServiceError] = ServiceQuotaExceededException,
) -> None:
    """Refuse a service of `count` instances past the account's instances-per-service quota, with `error`
    (CreateServiceInstance's model lists no ServiceQuotaExceededException: it answers a
    ValidationException)."""
    quota = account_quota(ctx, connection, "instances_per_service")
    if quota is not None and count > quota:
        raise error(f"A service can have at most {quota} instances.")


def service_version(connection: Connection, ctx: Context, service: Row[Any]) -> Row[Any]:
    """The version new instances of a service start on: that of its pipeline, else of its newest instance."""
    source = find_pipeline(connection, ctx, service.name) or (
        connection.execute(
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
    versions = template_store.version_set(connection, template, SERVICE.label)
    chosen = published_version(versions, source.template_major, source.template_minor)
    return template_store.chosen_version(connection, template, chosen)


def compatible_environment(
    ctx: Context, connection: Connection, version: Row[Any], instance: str, environment_name: str
) -> Row[Any]:
    """The environment an instance deploys in, checked against the version it runs."""
    env: Row[Any] | None = deployables.find(connection, target(ctx, ENVIRONMENT, environment_name))
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
    engine = rendering_engine(version, "instance_infrastructure")
    label = f"Version {version.major}.{version.minor} of the service template"
    if engine == "hcl":
        if not env.provisioning_repository:
            raise ValidationException(
                f"{label} is a Terraform template; environment {environment_name} is not provisioned through "
                f"a repository (self-managed provisioning), so service instance {instance} cannot be "
                "deployed in it."
            )
        return env
    roles = environment_roles(env)
    if roles.problem is not None:
        raise ValidationException(roles.problem)
    connection_id = env.environment_account_connection_id
    if engine == "codebuild":
        if not roles.codebuild:
            whose = (
                f"The environment account connection {connection_id} of environment {environment_name}"
                if connection_id
                else f"Environment {environment_name}"
            )
            raise ValidationException(
                f"{whose} has no codebuildRoleArn to provision service instances with CodeBuild."
            )
        return env
    if env.provisioning_repository:
        raise ValidationException(
            f"{label} is provisioned through CloudFormation; environment {environment_name} is provisioned "
            f"through a repository (self-managed provisioning), so service instance {instance} cannot be "
            "deployed in it."
        )
    if not roles.cloudformation:
        raise ValidationException(
            f"Environment {environment_name} has no protonServiceRoleArn to provision service instances with."
        )
    return env


def state(
    member: str, template: str, version: tuple[int, int], spec: str | None, inputs: Any
) -> dict[str, Any]:
    """A DeploymentState of an instance or pipeline (`inputs` kept for the deployment job)."""
    values: dict[str, Any] = {
        "templateName": template,
        "templateMajorVersion": str(version[0]),
        "templateMinorVersion": str(version[1]),
        "inputs": inputs,
    }
    if spec is not None:
        values["spec"] = spec
    return {member: values}
