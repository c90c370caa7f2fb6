"""The service status that follows from its instances and pipeline (reference §5.2).

Invariants: while a service is being created, updated or deleted, its status is recomputed in the same
transaction that settles any of its instance or pipeline deployments; a service whose last instance and
pipeline are deleted is removed (with its tags); instance and pipeline updates never change the service
status.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.domain.deployments import BUSY, DELETE_FAILED, SUCCEEDED
from baryon.store.prepared import Prepared
from baryon.store.schema import service_instances, service_pipelines, services, tags

S = services.c
I = service_instances.c  # noqa: E741
P = service_pipelines.c

ACTIVE = "ACTIVE"
CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
CREATE_FAILED = "CREATE_FAILED"
UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
UPDATE_FAILED = "UPDATE_FAILED"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
SERVICE_DELETE_FAILED = "DELETE_FAILED"
IN_FLIGHT = frozenset({CREATE_IN_PROGRESS, UPDATE_IN_PROGRESS, DELETE_IN_PROGRESS})


_STATUS = Prepared(sa.select(S.status).where(S.id == sa.bindparam("id")))


def refresh(connection: Connection, service_id: int, service_arn: str, now: float) -> None:
    service = _STATUS.first(connection, {"id": service_id})
    if service is None or service.status not in IN_FLIGHT:
        return
    parts = [
        (f"service instance {row.name}", row.deployment_status, row.deployment_status_message)
        for row in connection.execute(
            sa.select(I.name, I.deployment_status, I.deployment_status_message).where(
                I.service_id == service_id
            )
        )
    ]
    pipeline = connection.execute(
        sa.select(P.deployment_status, P.deployment_status_message).where(P.service_id == service_id)
    ).first()
    if pipeline is not None:
        parts.append(("pipeline", pipeline.deployment_status, pipeline.deployment_status_message))
    if any(status in BUSY for _, status, _ in parts):
        return
    if service.status == DELETE_IN_PROGRESS:
        if not parts:
            connection.execute(sa.delete(services).where(S.id == service_id))
            connection.execute(
                sa.delete(tags).where(
                    sa.or_(tags.c.resource_arn == service_arn, tags.c.resource_arn.like(service_arn + "/%"))
                )
            )
            return
        failed = [f"{what}: {message}" for what, status, message in parts if status == DELETE_FAILED]
        values = {"status": SERVICE_DELETE_FAILED, "status_message": "; ".join(failed) or None}
    else:
        failed = [f"{what}: {message or status}" for what, status, message in parts if status != SUCCEEDED]
        if failed:
            status = CREATE_FAILED if service.status == CREATE_IN_PROGRESS else UPDATE_FAILED
            values = {"status": status, "status_message": "; ".join(failed)}
        else:
            values = {"status": ACTIVE, "status_message": None}
    connection.execute(sa.update(services).where(S.id == service_id).values(last_modified_at=now, **values))
