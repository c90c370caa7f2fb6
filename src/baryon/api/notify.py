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

from typing import Any

import orjson
from sqlalchemy.engine import Connection

from baryon import deployables
from baryon.api.common import not_found
from baryon.api.registry import Context, Params, operation
from baryon.domain.deployments import IN_PROGRESS
from baryon.engine import control
from baryon.protocol.errors import (
    ConflictException,
    ServiceQuotaExceededException,
    ValidationException,
)
from baryon.store import deployments as deployment_store

MAX_OUTPUTS = 50


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
    if deployables.from_arn(arn) is None:
        raise ValidationException(
            f"{arn} is not the ARN of an environment, a service instance, a service pipeline or a component."
        )
    found = deployables.find_by_arn(connection, ctx.account_id, ctx.region, arn)
    if found is None:
        raise not_found("resource", arn)
    current = found[1].last_attempted_deployment_id
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
