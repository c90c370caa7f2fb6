"""Baryon's records against the local cloud: a resource whose stack is gone does not claim success.

`baryon up` runs `mark_missing_stacks` once the local cloud has started (restored from its snapshot, or
empty after `--reset-local-cloud` or a lost snapshot) and before the engine starts. Every environment,
service instance, pipeline and component whose last deployment SUCCEEDED and that names a CloudFormation
stack is looked up there; one whose stack does not exist (or is DELETE_COMPLETE) is marked FAILED with a
status message that names the stack and how to recreate it (deploy the resource again: its next
deployment creates the stack, since none is found under its name). The deployment records keep their
history (that deployment did succeed).

Invariants: only stacks in the local cloud's account are judged (an ARN of another account is skipped,
as its state cannot be seen with the local cloud's default credentials); an error while looking a stack
up leaves the resource as it was (it is never marked on a guess); a resource is marked only while it is
still SUCCEEDED, in one write transaction per resource; nothing here runs against AWS.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from botocore.exceptions import ClientError

from baryon.domain.deployments import FAILED, SUCCEEDED
from baryon.engine import aws
from baryon.engine.provisioners.errors import BOTO_ERRORS, error_code, error_message
from baryon.runtime import Runtime
from baryon.store.schema import components, environments, service_instances, service_pipelines, services

logger = logging.getLogger("baryon.engine")


@dataclass(frozen=True)
class Missing:
    """A resource whose stack the local cloud does not have."""

    kind: str  # "environment", "service instance", "pipeline", "component"
    name: str
    stack_id: str
    message: str


def _rows(connection: Any) -> list[tuple[str, str, sa.Table, Any, Any]]:
    """(kind, name, table, where clause, row) for every resource deployed with a stack."""
    found: list[tuple[str, str, sa.Table, Any, Any]] = []
    deployed = [environments, service_instances, components]
    for table in deployed:
        query = sa.select(table).where(table.c.deployment_status == SUCCEEDED, table.c.stack_id.is_not(None))
        for row in connection.execute(query):
            kind = {"environments": "environment", "service_instances": "service instance"}.get(
                table.name, "component"
            )
            name = row.name if table is not service_instances else f"{row.service_name}/{row.name}"
            found.append((kind, name, table, table.c.id == row.id, row))
    pipelines = (
        sa.select(service_pipelines, services.c.name.label("service_name"), services.c.region)
        .join(services, services.c.id == service_pipelines.c.service_id)
        .where(service_pipelines.c.deployment_status == SUCCEEDED, service_pipelines.c.stack_id.is_not(None))
    )
    for row in connection.execute(pipelines):
        where = service_pipelines.c.service_id == row.service_id
        found.append(("pipeline", f"{row.service_name}/pipeline", service_pipelines, where, row))
    return found


def _stack_exists(stack_id: str, region: str) -> bool | None:
    """Whether the local cloud has the stack (None: it could not tell)."""
    try:
        stacks = aws.client("cloudformation", region).describe_stacks(StackName=stack_id)["Stacks"]
    except ClientError as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in error_message(exc):
            return False
        logger.warning("could not look up stack %s in the local cloud: %s", stack_id, error_message(exc))
        return None
    except BOTO_ERRORS as exc:
        logger.warning("could not look up stack %s in the local cloud: %s", stack_id, error_message(exc))
        return None
    return any(stack.get("StackStatus") != "DELETE_COMPLETE" for stack in stacks)


def message(kind: str, stack_id: str) -> str:
    stack_name = stack_id.split(":stack/", 1)[-1].split("/", 1)[0]
    return (
        f"The local cloud has no stack {stack_name} for this {kind} any more (its state was reset or lost); "
        f"Baryon's record of a successful deployment no longer holds. Deploy the {kind} again to recreate it."
    )


def mark_missing_stacks(runtime: Runtime, account_id: str) -> list[Missing]:
    """Mark FAILED each deployed resource whose stack the local cloud (account `account_id`) lacks."""
    with runtime.database.read() as connection:
        rows = _rows(connection)
    missing: list[Missing] = []
    for kind, name, table, where, row in rows:
        stack_id = str(row.stack_id)
        parts = stack_id.split(":")
        if len(parts) < 6 or parts[4] != account_id:
            continue
        if _stack_exists(stack_id, parts[3] or row.region) is not False:
            continue
        text = message(kind, stack_id)
        with runtime.database.write() as connection:
            changed = connection.execute(
                sa.update(table)
                .where(where, table.c.deployment_status == SUCCEEDED)
                .values(deployment_status=FAILED, deployment_status_message=text)
            ).rowcount
        if changed:
            missing.append(Missing(kind, name, stack_id, text))
    return missing
