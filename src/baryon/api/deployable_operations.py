"""The operations every deployable kind has alike: Get* (environments, service instances, components),
Cancel*Deployment, List*Outputs and List*ProvisionedResources of environments, service instances,
service pipelines and components.

Invariants: each operation finds its resource through the deployables registry by the names its input
gives (a pipeline's service must exist first, so a missing service is reported as such); a cancel
answers with the resource's own wire shape (from its handler module) after the cancel; outputs are the
resource's current ones, or those recorded on one of its deployments when `deploymentId` is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection

from baryon import deployables
from baryon.api.common import cancel_deployment, target
from baryon.api.components import component_shape
from baryon.api.environments import environment_shape
from baryon.api.registry import Context, Params, operation
from baryon.api.service_instances import instance_shape
from baryon.api.service_lookup import require_service
from baryon.api.service_pipelines import pipeline_shape
from baryon.deployables import COMPONENT, ENVIRONMENT, SERVICE_INSTANCE, SERVICE_PIPELINE, Kind

Shape = Callable[[Context, Any], dict[str, Any]]

_INSTANCE = ("serviceName", "name")
#: (operation name part, kind, input members naming the resource, those of its Get* operation (None: it
#: has none), its wire shape)
FAMILIES: tuple[tuple[str, Kind, tuple[str, ...], tuple[str, ...] | None, Shape], ...] = (
    ("Environment", ENVIRONMENT, ("environmentName",), ("name",), environment_shape),
    (
        "ServiceInstance",
        SERVICE_INSTANCE,
        ("serviceName", "serviceInstanceName"),
        ("serviceName", "name"),
        instance_shape,
    ),
    ("ServicePipeline", SERVICE_PIPELINE, ("serviceName",), None, pipeline_shape),
    ("Component", COMPONENT, ("componentName",), ("name",), component_shape),
)


def _resource(
    ctx: Context, params: Params, connection: Connection, kind: Kind, members: tuple[str, ...]
) -> tuple[deployables.Target, Any]:
    if kind is SERVICE_PIPELINE:
        require_service(connection, ctx, params["serviceName"])
    resource = target(ctx, kind, *(params[member] for member in members))
    return resource, deployables.require(connection, resource)


def _register(
    family: str, kind: Kind, members: tuple[str, ...], get_members: tuple[str, ...] | None, shape: Shape
) -> None:
    def get(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
        assert get_members is not None
        _, row = _resource(ctx, params, connection, kind, get_members)
        return {kind.output_member: shape(ctx, row)}

    def cancel(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
        resource, row = _resource(ctx, params, connection, kind, members)
        cancel_deployment(ctx, connection, resource, row)
        return {kind.output_member: shape(ctx, deployables.require(connection, resource))}

    def outputs(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
        resource, row = _resource(ctx, params, connection, kind, members)
        return {"outputs": deployables.outputs(connection, resource, row, params.get("deploymentId"))}

    def provisioned_resources(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
        _, row = _resource(ctx, params, connection, kind, members)
        return {"provisionedResources": deployables.provisioned_resources(row)}

    if get_members is not None:
        operation(f"Get{family}", write=False)(get)
    operation(f"Cancel{family}Deployment", write=True)(cancel)
    operation(f"List{family}Outputs", write=False)(outputs)
    operation(f"List{family}ProvisionedResources", write=False)(provisioned_resources)


for _family in FAMILIES:
    _register(*_family)
