"""Reading the event outbox and the deliveries, as the tests check them."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

from baryon.runtime import Runtime
from baryon.store.schema import event_deliveries, events


def outbox(runtime: Runtime) -> list[dict[str, Any]]:
    """Every event document, in the order they were written."""
    with runtime.database.read() as connection:
        rows = connection.execute(sa.select(events.c.body).order_by(events.c.seq)).all()
    return [orjson.loads(row.body) for row in rows]


def changes(runtime: Runtime, detail_type: str, arn: str | None = None) -> list[tuple[Any, ...]]:
    """(previousStatus, status, deploymentId) of the events of one detail type (and resource), in order."""
    return [
        (e["detail"].get("previousStatus"), e["detail"]["status"], e["detail"].get("deploymentId"))
        for e in outbox(runtime)
        if e["detail-type"] == detail_type and (arn is None or e["resources"] == [arn])
    ]


def deliveries(runtime: Runtime) -> list[Any]:
    with runtime.database.read() as connection:
        return list(connection.execute(sa.select(event_deliveries).order_by(event_deliveries.c.created_at)))
