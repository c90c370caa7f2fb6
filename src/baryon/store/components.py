"""Lookups of directly defined components that other resources' rules depend on.

Invariants: a component belongs to exactly one environment; it is attached to at most one service
instance and a service instance has at most one component (a unique key); these helpers only read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.store.schema import components

C = components.c


def attached(connection: Connection, instance_ids: Iterable[int]) -> Any:
    """The first component (by name) attached to one of the instances, with its `service_instance_id`."""
    ids = list(instance_ids)
    if not ids:
        return None
    return connection.execute(
        sa.select(C.name, C.service_instance_id, C.deployment_status, C.outputs)
        .where(C.service_instance_id.in_(ids))
        .order_by(C.name)
        .limit(1)
    ).first()


def in_environment(connection: Connection, environment_id: int) -> Any:
    """The first component (by name) of the environment, attached or not."""
    return connection.execute(
        sa.select(C.name).where(C.environment_id == environment_id).order_by(C.name).limit(1)
    ).first()
