"""Environment account connections: the rows behind the seven connection operations (reference §7).

Invariants: a connection's `account_id` is its environment account (the one that requested it and owns
its ARN), `management_account_id` the account that accepts or rejects it; both live in the connection's
region only. Reads here never check who asks: the API decides which side may see or change a row.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.store.schema import environment_account_connections, environments

X = environment_account_connections.c

PENDING = "PENDING"
CONNECTED = "CONNECTED"
REJECTED = "REJECTED"


def find(connection: Connection, region: str, connection_id: str) -> Row[Any] | None:
    """The connection with `connection_id` in `region`, whoever its accounts are."""
    return connection.execute(
        sa.select(environment_account_connections).where(X.id == connection_id, X.region == region)
    ).first()


def insert(connection: Connection, values: dict[str, Any]) -> None:
    connection.execute(sa.insert(environment_account_connections).values(**values))


def update(connection: Connection, connection_id: str, values: dict[str, Any]) -> None:
    connection.execute(
        sa.update(environment_account_connections).where(X.id == connection_id).values(**values)
    )


def delete(connection: Connection, connection_id: str) -> None:
    connection.execute(sa.delete(environment_account_connections).where(X.id == connection_id))


def open_request(
    connection: Connection, account_id: str, region: str, management_account_id: str, environment_name: str
) -> Row[Any] | None:
    """A connection of the environment account to the management account for `environment_name` that
    is not REJECTED (at most one may exist)."""
    return connection.execute(
        sa.select(environment_account_connections)
        .where(
            X.account_id == account_id,
            X.region == region,
            X.management_account_id == management_account_id,
            X.environment_name == environment_name,
            X.status != REJECTED,
        )
        .limit(1)
    ).first()


def environment_using(connection: Connection, row: Row[Any]) -> str | None:
    """The name of an environment of the management account that uses the connection, if any."""
    E = environments.c
    return connection.execute(
        sa.select(E.name)
        .where(
            E.account_id == row.management_account_id,
            E.region == row.region,
            E.environment_account_connection_id == row.id,
        )
        .order_by(E.name)
        .limit(1)
    ).scalar()


def listed(side: sa.ColumnElement[Any], account_id: str, region: str) -> Any:
    """The query of the connections where `account_id` is on `side` (X.account_id for the environment
    account, X.management_account_id for the management account) in `region`."""
    return sa.select(environment_account_connections).where(side == account_id, X.region == region)
