"""Deployment records: created with the API change that starts them, settled by the engine.

Invariants: a deployment row and its job are written in the same transaction; `initial_state` and
`target_state` are DeploymentState unions (exactly one member) stored as JSON; outputs and provisioned
resources recorded on a deployment never change after it settles.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.domain import jobs as job_kinds
from baryon.domain.deployments import IN_PROGRESS
from baryon.store import prepared
from baryon.store.jobs import enqueue
from baryon.store.schema import deployments

D = deployments.c
JOB_KIND = job_kinds.DEPLOY


def start(
    connection: Connection,
    *,
    deployment_id: str,
    job_id: str,
    account_id: str,
    region: str,
    target_type: str,
    target_arn: str,
    target_created_at: float,
    operation: str,
    environment_name: str,
    target_state: dict[str, Any],
    initial_state: dict[str, Any] | None,
    last_attempted: str | None,
    last_succeeded: str | None,
    now: float,
    service_name: str | None = None,
    service_instance_name: str | None = None,
    component_name: str | None = None,
) -> None:
    prepared.insert(deployments).run(
        connection,
        {
            "id": deployment_id,
            "account_id": account_id,
            "region": region,
            "target_type": target_type,
            "target_arn": target_arn,
            "target_created_at": target_created_at,
            "operation": operation,
            "environment_name": environment_name,
            "service_name": service_name,
            "service_instance_name": service_instance_name,
            "component_name": component_name,
            "deployment_status": IN_PROGRESS,
            "deployment_status_message": None,
            "initial_state": orjson.dumps(initial_state).decode() if initial_state else None,
            "target_state": orjson.dumps(target_state).decode(),
            "last_attempted_deployment_id": last_attempted,
            "last_succeeded_deployment_id": last_succeeded,
            "outputs": None,
            "resources": None,
            "progress": "{}",
            "created_at": now,
            "last_modified_at": now,
            "completed_at": None,
        },
    )
    enqueue(
        connection,
        job_id=job_id,
        kind=JOB_KIND,
        payload={"deployment_id": deployment_id},
        now=now,
        policy=job_kinds.DEPLOY_POLICY,
    )


_FIND = prepared.Prepared(sa.select(deployments).where(D.id == sa.bindparam("id")))


def find(connection: Connection, deployment_id: str) -> Any:
    return _FIND.first(connection, {"id": deployment_id})


def save_progress(connection: Connection, deployment_id: str, progress: dict[str, Any], now: float) -> None:
    prepared.update(deployments, ("id",), ("progress", "last_modified_at")).run(
        connection,
        {"where_id": deployment_id, "progress": orjson.dumps(progress).decode(), "last_modified_at": now},
    )


def set_status(connection: Connection, deployment_id: str, status: str, now: float) -> None:
    connection.execute(
        sa.update(deployments)
        .where(D.id == deployment_id)
        .values(deployment_status=status, last_modified_at=now)
    )
