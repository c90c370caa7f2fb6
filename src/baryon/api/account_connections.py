"""Environment account connections (reference §1.11, §5.5, §7): create, accept, reject, update, delete,
get and list.

Invariants: a connection is seen only from its two accounts, in its region; anyone else is answered
ResourceNotFoundException, exactly as for a connection that does not exist, so its existence is never
revealed. The environment account (the owner of the connection's ARN) creates, updates and deletes it and
manages its tags; the management account accepts and rejects it; the other side's request is
AccessDeniedException. PENDING → CONNECTED (accept) or REJECTED (reject); a REJECTED connection is never
accepted or used; a connection an environment uses cannot be rejected. At most one connection that is not
REJECTED exists per (environment account, management account, environment name) in a region. The quota
`environment_account_connections` counts the connections an environment account holds in a region (no
limit unless the operator sets one).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.api.common import check_account_quota, clean, next_token, not_found, page_position, page_size
from baryon.api.registry import Context, Params, operation
from baryon.api.resources import resolver
from baryon.api.tags import delete_tags_under, put_tags
from baryon.domain import arns
from baryon.events import outbox
from baryon.events.format import DELETED
from baryon.protocol.errors import AccessDeniedException, ConflictException, ValidationException
from baryon.store import account_connections as store
from baryon.store.account_connections import CONNECTED, PENDING, REJECTED
from baryon.store.schema import environment_account_connections

X = environment_account_connections.c
WHAT = "environment account connection"
MANAGEMENT_ACCOUNT = "MANAGEMENT_ACCOUNT"
ENVIRONMENT_ACCOUNT = "ENVIRONMENT_ACCOUNT"
ROLE_MEMBERS = (
    ("roleArn", "role_arn"),
    ("codebuildRoleArn", "codebuild_role_arn"),
    ("componentRoleArn", "component_role_arn"),
)


def connection_arn(row: Row[Any]) -> str:
    return arns.environment_account_connection_arn(row.region, row.account_id, row.id)


def connection_shape(row: Row[Any], *, summary: bool = False) -> dict[str, Any]:
    shape = {
        "id": row.id,
        "arn": connection_arn(row),
        "environmentAccountId": row.account_id,
        "managementAccountId": row.management_account_id,
        "environmentName": row.environment_name,
        "roleArn": row.role_arn,
        "componentRoleArn": row.component_role_arn,
        "status": row.status,
        "requestedAt": row.requested_at,
        "lastModifiedAt": row.last_modified_at,
    }
    if not summary:
        shape["codebuildRoleArn"] = row.codebuild_role_arn
    return clean(shape)


def _visible(ctx: Context, connection: Connection, connection_id: str) -> Row[Any]:
    """The connection, when the caller is one of its two accounts (in its region); else not found."""
    row = store.find(connection, ctx.region, connection_id)
    if row is None or ctx.account_id not in (row.account_id, row.management_account_id):
        raise not_found(WHAT, connection_id)
    return row


def _as(ctx: Context, connection: Connection, connection_id: str, side: str, verb: str) -> Row[Any]:
    """The connection, when the caller is its `side` account (MANAGEMENT_ACCOUNT or ENVIRONMENT_ACCOUNT);
    the connection's other account gets AccessDeniedException, any other account not found."""
    row = _visible(ctx, connection, connection_id)
    management = side == MANAGEMENT_ACCOUNT
    owner = row.management_account_id if management else row.account_id
    if ctx.account_id != owner:
        which = "management" if management else "environment"
        raise AccessDeniedException(f"Only the {which} account ({owner}) can {verb} {WHAT} {row.id}.")
    return row


def _reread(connection: Connection, row: Row[Any]) -> dict[str, Any]:
    current = store.find(connection, row.region, row.id)
    assert current is not None
    return {"environmentAccountConnection": connection_shape(current)}


@operation("CreateEnvironmentAccountConnection", write=True)
def create_environment_account_connection(
    ctx: Context, params: Params, connection: Connection
) -> dict[str, Any]:
    management = params["managementAccountId"]
    name = params["environmentName"]
    if management == ctx.account_id:
        raise ValidationException(
            f"managementAccountId {management} is the account making the request; an environment account "
            "connection is requested from the environment account towards another (management) account."
        )
    if not params.get("roleArn"):
        raise ValidationException(
            "roleArn is required: the IAM role in the environment account that provisions the "
            "environment's infrastructure."
        )
    existing = store.open_request(connection, ctx.account_id, ctx.region, management, name)
    if existing is not None:
        raise ConflictException(
            f"Environment account connection {existing.id} ({existing.status}) already connects this "
            f"account to management account {management} for environment {name}."
        )
    check_account_quota(
        ctx, connection, environment_account_connections, "environment_account_connections", f"{WHAT}s"
    )
    connection_id = ctx.runtime.ids.uuid()
    now = ctx.now
    store.insert(
        connection,
        {
            "id": connection_id,
            "account_id": ctx.account_id,
            "region": ctx.region,
            "management_account_id": management,
            "environment_name": name,
            **{column: params.get(member) for member, column in ROLE_MEMBERS},
            "status": PENDING,
            "requested_at": now,
            "last_modified_at": now,
        },
    )
    row = store.find(connection, ctx.region, connection_id)
    assert row is not None
    _changed(ctx, connection, row, None, PENDING)
    put_tags(ctx, connection, connection_arn(row), params.get("tags") or [])
    return {"environmentAccountConnection": connection_shape(row)}


def _changed(ctx: Context, connection: Connection, row: Any, previous: str | None, status: str) -> None:
    """The connection's status changed in this transaction: its event, told to its environment account
    (whose resource it is), in the same transaction."""
    outbox.connection_changed(
        connection,
        account_id=row.account_id,
        region=row.region,
        connection_id=row.id,
        previous=previous,
        status=status,
        now=ctx.now,
    )


@operation("AcceptEnvironmentAccountConnection", write=True)
def accept_environment_account_connection(
    ctx: Context, params: Params, connection: Connection
) -> dict[str, Any]:
    row = _as(ctx, connection, params["id"], MANAGEMENT_ACCOUNT, "accept")
    if row.status == REJECTED:
        raise ValidationException(
            f"Environment account connection {row.id} was rejected; a rejected connection cannot be accepted."
        )
    if row.status == PENDING:
        store.update(connection, row.id, {"status": CONNECTED, "last_modified_at": ctx.now})
        _changed(ctx, connection, row, row.status, CONNECTED)
    return _reread(connection, row)


@operation("RejectEnvironmentAccountConnection", write=True)
def reject_environment_account_connection(
    ctx: Context, params: Params, connection: Connection
) -> dict[str, Any]:
    row = _as(ctx, connection, params["id"], MANAGEMENT_ACCOUNT, "reject")
    if row.status == REJECTED:
        return _reread(connection, row)
    environment = store.environment_using(connection, row)
    if environment is not None:
        raise ConflictException(
            f"Environment account connection {row.id} is used by environment {environment}; a connection "
            "that an environment uses cannot be rejected (delete the environment first)."
        )
    store.update(connection, row.id, {"status": REJECTED, "last_modified_at": ctx.now})
    _changed(ctx, connection, row, row.status, REJECTED)
    return _reread(connection, row)


@operation("UpdateEnvironmentAccountConnection", write=True)
def update_environment_account_connection(
    ctx: Context, params: Params, connection: Connection
) -> dict[str, Any]:
    row = _as(ctx, connection, params["id"], ENVIRONMENT_ACCOUNT, "update")
    changes = {
        column: params[member]
        for member, column in ROLE_MEMBERS
        if member in params and params[member] != getattr(row, column)
    }
    if changes:
        store.update(connection, row.id, {**changes, "last_modified_at": ctx.now})
    return _reread(connection, row)


@operation("DeleteEnvironmentAccountConnection", write=True)
def delete_environment_account_connection(
    ctx: Context, params: Params, connection: Connection
) -> dict[str, Any]:
    row = _as(ctx, connection, params["id"], ENVIRONMENT_ACCOUNT, "delete")
    store.delete(connection, row.id)
    _changed(ctx, connection, row, row.status, DELETED)
    delete_tags_under(connection, connection_arn(row))
    return {"environmentAccountConnection": connection_shape(row)}


@operation("GetEnvironmentAccountConnection", write=False)
def get_environment_account_connection(
    ctx: Context, params: Params, connection: Connection
) -> dict[str, Any]:
    return {"environmentAccountConnection": connection_shape(_visible(ctx, connection, params["id"]))}


@operation("ListEnvironmentAccountConnections", write=False)
def list_environment_account_connections(
    ctx: Context, params: Params, connection: Connection
) -> dict[str, Any]:
    """The caller's connections on the side `requestedBy` names, oldest request first (then by id)."""
    side = X.management_account_id if params["requestedBy"] == MANAGEMENT_ACCOUNT else X.account_id
    query = store.listed(side, ctx.account_id, ctx.region)
    if params.get("environmentName"):
        query = query.where(X.environment_name == params["environmentName"])
    statuses = sorted(set(params.get("statuses") or []))
    if statuses:
        query = query.where(X.status.in_(statuses))
    scope = "|".join([params["requestedBy"], params.get("environmentName", ""), ",".join(statuses)])
    after = page_position(ctx, params, scope)
    if after is not None:
        at, last_id = after
        query = query.where(sa.or_(X.requested_at > at, sa.and_(X.requested_at == at, X.id > last_id)))
    size = page_size(params)
    rows = connection.execute(query.order_by(X.requested_at, X.id).limit(size + 1)).all()
    result: dict[str, Any] = {
        "environmentAccountConnections": [connection_shape(row, summary=True) for row in rows[:size]]
    }
    if len(rows) > size:
        last = rows[size - 1]
        result["nextToken"] = next_token(ctx, [last.requested_at, last.id], scope)
    return result


@resolver("environment-account-connection")
def _resolve(connection: Connection, ctx: Context, parsed: arns.ParsedArn) -> bool:
    """Tags of a connection are managed from its environment account (the account in its ARN)."""
    parts = parsed.parts
    if len(parts) != 2:
        return False
    row = store.find(connection, parsed.region, parts[1])
    return row is not None and row.account_id == ctx.account_id
