"""NotifyResourceDeploymentStatusChange: how self-managed automation and command runners report back.

Job: find the resource the ARN names and its current deployment, then hand the report to the engine
(`baryon.engine.control.notify`), whose provisioner for the deployment's method decides: Terraform
through git settles on SUCCEEDED / FAILED and otherwise records outputs and the message; the command
runner records them with the reported status and settles when the commands exit; the other methods
refuse notifications.

Invariants: only the resource's current, in-flight deployment of a method that takes notifications
accepts a notification (a `deploymentId` that names another deployment is a ConflictException); outputs
given in several notifications of one deployment are merged by key, later ones winning; settling happens
in the request's transaction, so the outcome and the resource change together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from baryon.api.common import not_found
from baryon.api.environments import find_environment
from baryon.api.registry import Context, Params, operation
from baryon.api.services import find_instance, find_pipeline, find_service
from baryon.domain import arns
from baryon.domain.deployments import IN_PROGRESS
from baryon.engine import control
from baryon.protocol.errors import (
    ConflictException,
    ServiceQuotaExceededException,
    ValidationException,
)
from baryon.store import deployments as deployment_store

MAX_OUTPUTS = 50

#: ARN resource type -> lookup of the resource row (with `last_attempted_deployment_id`), or None.
Lookup = Callable[[Connection, Context, arns.ParsedArn], Any]
LOOKUPS: dict[str, Lookup] = {}


def lookup(resource_type: str) -> Callable[[Lookup], Lookup]:
    def register(function: Lookup) -> Lookup:
        LOOKUPS[resource_type] = function
        return function

    return register


@lookup("environment")
def _environment(connection: Connection, ctx: Context, parsed: arns.ParsedArn) -> Any:
    parts = parsed.parts
    return find_environment(connection, ctx, parts[1]) if len(parts) == 2 else None


@lookup("service")
def _service_part(connection: Connection, ctx: Context, parsed: arns.ParsedArn) -> Any:
    parts = parsed.parts
    if len(parts) == 4 and parts[2] == "service-instance":
        return find_instance(connection, ctx, parts[1], parts[3])
    if len(parts) == 3 and parts[2] == "pipeline":
        service = find_service(connection, ctx, parts[1])
        return find_pipeline(connection, service.id) if service is not None else None
    return None


def _outputs(text: str | None) -> dict[str, str]:
    return {item["key"]: item["valueString"] for item in orjson.loads(text)} if text else {}


def _merged(record: Any, given: list[dict[str, str]] | None) -> list[dict[str, str]]:
    outputs = _outputs(record.outputs)
    for item in given or []:
        outputs[item["key"]] = item["valueString"]
    if len(outputs) > MAX_OUTPUTS:
        raise ServiceQuotaExceededException(
            f"A deployment can record at most {MAX_OUTPUTS} outputs; this notification would make "
            f"{len(outputs)}."
        )
    return [{"key": key, "valueString": value} for key, value in outputs.items()]


@operation("NotifyResourceDeploymentStatusChange", write=True)
def notify_resource_deployment_status_change(
    ctx: Context, params: Params, connection: Connection
) -> dict[str, Any]:
    arn = params["resourceArn"]
    parsed = arns.parse(arn)
    if parsed is None or parsed.resource_type not in LOOKUPS:
        raise ValidationException(
            f"{arn} is not the ARN of an environment, a service instance, a service pipeline or a component."
        )
    row = None
    if parsed.account_id == ctx.account_id and parsed.region == ctx.region:
        row = LOOKUPS[parsed.resource_type](connection, ctx, parsed)
    if row is None:
        raise not_found("resource", arn)
    current = row.last_attempted_deployment_id
    given_id = params.get("deploymentId")
    if given_id and given_id != current:
        raise ConflictException(f"Deployment {given_id} is not the current deployment of {arn}.")
    record = deployment_store.find(connection, current) if current else None
    if record is None or record.deployment_status != IN_PROGRESS:
        raise ValidationException(f"{arn} has no deployment in progress to report on.")
    report = control.Report(
        params.get("status"), params.get("statusMessage"), _merged(record, params.get("outputs"))
    )
    refusal = control.notify(connection, ctx.runtime, ctx.now, record, report)
    if refusal is not None and refusal.missing:
        raise not_found("resource", arn)
    if refusal is not None:
        raise ValidationException(f"{arn} {refusal.reason}")
    return {}
