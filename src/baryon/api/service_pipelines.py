"""Service pipelines (reference §1.6, §5): the wire shape, starting a pipeline deployment, and
UpdateServicePipeline. Cancel, outputs and provisioned resources are the deployables' common operations
(`baryon.api.deployable_operations`).

Invariants: a pipeline moves between template versions independently of the service's instances; its
update waits while its service is in any *_IN_PROGRESS status or its own deployment is in flight; a
pipeline deployment names the environment of the service's first instance (by name), or none.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon import deployables
from baryon.api.common import clean, start_deployment, target
from baryon.api.kinds import SERVICE
from baryon.api.registry import Context, Params, operation
from baryon.api.service_lookup import require_service, state
from baryon.api.templates import version_for_update
from baryon.deployables import SERVICE_PIPELINE, Start
from baryon.deployables.wire import with_warnings
from baryon.domain.deployments import NONE, UPDATE
from baryon.domain.specs import PIPELINE_INPUT, parse_pipeline_spec, spec_inputs
from baryon.domain.template_versions import schema_of
from baryon.protocol.errors import ConflictException, ValidationException
from baryon.store import services as service_state
from baryon.store.schema import service_instances, templates

I = service_instances.c  # noqa: E741
T = templates.c


def pipeline_shape(ctx: Context, row: Row[Any]) -> dict[str, Any]:
    """The ServicePipeline shape of a pipeline row (as `deployables.find` reads it)."""
    return clean(
        {
            "arn": target(ctx, SERVICE_PIPELINE, row.service_name).arn,
            "templateName": row.template_name,
            "spec": row.spec,
            **deployables.version_members(row),
            **deployables.deployment_members(row),
        }
    )


def start_pipeline(
    ctx: Context, connection: Connection, pipeline: Row[Any], start: Start, now: float | None = None
) -> str:
    """Start a deployment of a service's pipeline (a row as `deployables.find` reads it); return its id."""
    resource = target(ctx, SERVICE_PIPELINE, pipeline.service_name)
    return start_deployment(ctx, connection, resource, pipeline, start, now=now)


def first_environment(connection: Connection, service_id: int) -> str:
    """The environment of a service's first instance (by name), which its pipeline deployments name."""
    first = connection.execute(
        sa.select(I.environment_name).where(I.service_id == service_id).order_by(I.name).limit(1)
    ).first()
    return first.environment_name if first is not None else ""


@operation("UpdateServicePipeline", write=True)
def update_service_pipeline(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    service = require_service(connection, ctx, params["serviceName"])
    resource = target(ctx, SERVICE_PIPELINE, service.name)
    pipeline = deployables.require(connection, resource)
    if deployables.busy(pipeline) or service.status in service_state.IN_FLIGHT:
        raise ConflictException(
            f"The pipeline of service {service.name} has a deployment in progress; wait for it to finish."
        )
    if params["deploymentType"] == NONE:
        raise ValidationException("deploymentType NONE has nothing to update on a service pipeline.")
    template, chosen, version = version_for_update(connection, SERVICE, service.template_id, pipeline, params)
    inputs = spec_inputs(
        schema_of(version),
        PIPELINE_INPUT,
        parse_pipeline_spec(params["spec"]),
        orjson.loads(pipeline.inputs),
        where=f"pipeline of service {service.name}",
    )
    current = (pipeline.template_major, pipeline.template_minor)
    start_pipeline(
        ctx,
        connection,
        pipeline,
        Start(
            UPDATE,
            first_environment(connection, service.id),
            with_warnings(
                state("servicePipeline", template.name, chosen, params["spec"], inputs.values),
                inputs.warnings,
            ),
            state("servicePipeline", template.name, current, pipeline.spec, None),
        ),
    )
    return {"pipeline": pipeline_shape(ctx, deployables.require(connection, resource))}
