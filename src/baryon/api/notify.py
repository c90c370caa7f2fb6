"""NotifyResourceDeploymentStatusChange: how self-managed automation and command runners report back.

Job: find the resource the ARN names and its current deployment, then
- for a self-managed (Terraform, "hcl") deployment: SUCCEEDED settles it SUCCEEDED (DELETE_COMPLETE for a
  deletion) with the outputs, FAILED settles it FAILED (DELETE_FAILED) with the message, IN_PROGRESS or no
  status records outputs and the message only;
- for a command-runner ("codebuild") deployment: records outputs, the message and the reported status;
  the deployment settles when the commands exit (`baryon.engine.commands`).

Invariants: only the resource's current, in-flight deployment of one of those two methods accepts a
notification (a `deploymentId` that names another deployment is a ConflictException); outputs given in
several notifications of one deployment are merged by key, later ones winning; settling happens in the
request's transaction through `baryon.engine.settle`, so the outcome and the resource change together.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon import deployables
from baryon.api.common import not_found
from baryon.api.registry import Context, Params, operation
from baryon.domain.deployments import (
    DELETE,
    DELETE_COMPLETE,
    DELETE_FAILED,
    FAILED,
    IN_PROGRESS,
    SUCCEEDED,
)
from baryon.engine import subjects
from baryon.engine.settle import Finish, record_finish
from baryon.engine.steps import part_engine, version_of
from baryon.protocol.errors import (
    ConflictException,
    ServiceQuotaExceededException,
    ValidationException,
)
from baryon.store import deployments as deployment_store
from baryon.store.schema import deployments

D = deployments.c

#: Rendering engines whose deployments complete through notifications.
NOTIFIED = ("hcl", "codebuild")
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
    subject = subjects.load(connection, record)
    if subject is None:
        raise not_found("resource", arn)
    progress: dict[str, Any] = orjson.loads(record.progress)
    method = progress.get("method")
    if method is None and not subject.customer_managed:
        if subject.engine is not None:
            method = subject.engine
        else:
            major, minor = version_of(record, subject)
            method = part_engine(ctx.runtime, subject, major, minor)
    if method not in NOTIFIED:
        raise ValidationException(
            f"{arn} is provisioned through CloudFormation; its deployment status comes from its stack, "
            "not from notifications."
        )
    status = params.get("status")
    message = params.get("statusMessage")
    outputs = _merged(record, params.get("outputs"))
    deleting = record.operation == DELETE
    if method == "hcl" and status == SUCCEEDED:
        outcome = Finish(DELETE_COMPLETE if deleting else SUCCEEDED, None, outputs, [])
        record_finish(connection, ctx.now, record, subject, outcome, progress)
        return {}
    if method == "hcl" and status == FAILED:
        text = message or "The self-managed deployment reported a failure."
        outcome = Finish(DELETE_FAILED if deleting else FAILED, text, outputs, None)
        record_finish(connection, ctx.now, record, subject, outcome, progress)
        return {}
    values: dict[str, Any] = {"outputs": orjson.dumps(outputs).decode(), "last_modified_at": ctx.now}
    if message is not None:
        values["deployment_status_message"] = message
    if method == "codebuild" and status in (SUCCEEDED, FAILED):
        values["reported_status"] = status
    connection.execute(sa.update(deployments).where(D.id == record.id).values(**values))
    return {}
