"""Helpers shared by handlers: not-found errors, output cleaning, pagination of lists, starting and
cancelling deployments of the caller's deployables (through `baryon.deployables`).

Invariants: outputs never carry None members (absent means unset on the wire); page sizes follow the
model's `maxResults` (1-100, default 100); a page token is bound to the operation and caller scope.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon import deployables
from baryon.api.registry import Context
from baryon.engine import control
from baryon.protocol.errors import (
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    ValidationException,
)
from baryon.store import quotas as quota_store

T = TypeVar("T")
DEFAULT_PAGE = 100


def clean(shape: dict[str, Any]) -> dict[str, Any]:
    """Drop unset members."""
    return {key: value for key, value in shape.items() if value is not None}


def not_found(what: str, identifier: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"The requested {what} does not exist: {identifier}")


def _scope(ctx: Context, extra: str) -> str:
    return f"{ctx.operation}|{ctx.account_id}|{ctx.region}|{extra}"


def page_position(ctx: Context, params: dict[str, Any], extra: str = "") -> Any:
    """The position a request's nextToken points at, or None for the first page."""
    token = params.get("nextToken")
    return ctx.runtime.tokens.read(_scope(ctx, extra), token) if token else None


def page_size(params: dict[str, Any]) -> int:
    return int(params.get("maxResults") or DEFAULT_PAGE)


def next_token(ctx: Context, position: Any, extra: str = "") -> str:
    return ctx.runtime.tokens.issue(_scope(ctx, extra), position)


def paginate_sorted(
    ctx: Context,
    params: dict[str, Any],
    items: Sequence[T],
    key: Callable[[T], Any],
    extra: str = "",
) -> tuple[list[T], str | None]:
    """Page through items already sorted by `key` (unique); the token holds the last key returned."""
    after = page_position(ctx, params, extra)
    size = page_size(params)
    start = 0
    if after is not None:
        start = next((i for i, item in enumerate(items) if _as_list(key(item)) > after), len(items))
    page = list(items[start : start + size])
    more = start + size < len(items)
    return page, (next_token(ctx, _as_list(key(page[-1])), extra) if more and page else None)


def page_by_name(
    ctx: Context,
    params: dict[str, Any],
    connection: Connection,
    query: Any,
    name: Any,
    shape: Callable[[Any], dict[str, Any]],
    *,
    member: str,
    extra: str = "",
) -> dict[str, Any]:
    """One page of a list output: `query`'s rows in order of their unique `name` column, after the one a
    nextToken holds, shown by `shape` under `member` (the query is bound to the caller's account and
    region when it asks for them)."""
    after = page_position(ctx, params, extra)
    if after is not None:
        query = query.where(name > after)
    size = page_size(params)
    binds = {"account_id": ctx.account_id, "region": ctx.region}
    rows = connection.execute(query.order_by(name).limit(size + 1), binds).all()
    result: dict[str, Any] = {member: [shape(row) for row in rows[:size]]}
    if len(rows) > size:
        result["nextToken"] = next_token(ctx, rows[size - 1].name, extra)
    return result


def narrowed(query: Any, params: dict[str, Any], columns: dict[str, Any]) -> tuple[Any, str]:
    """`query` kept to the rows whose columns equal the name members `params` give (`columns`: member ->
    column), and the page-token scope those members make. serviceInstanceName needs serviceName."""
    if params.get("serviceInstanceName") and not params.get("serviceName"):
        raise ValidationException("serviceInstanceName needs serviceName.")
    for member, column in columns.items():
        if params.get(member):
            query = query.where(column == params[member])
    return query, "|".join(str(params.get(member, "")) for member in columns)


def _as_list(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def target(ctx: Context, kind: deployables.Kind, *names: str) -> deployables.Target:
    """The deployable of the caller's account and region that `names` name."""
    return deployables.Target(kind, ctx.account_id, ctx.region, names)


def find(ctx: Context, connection: Connection, kind: deployables.Kind, *names: str) -> Any:
    """The row of the caller's deployable that `names` name, or None."""
    return deployables.find(connection, target(ctx, kind, *names))


def require(ctx: Context, connection: Connection, kind: deployables.Kind, *names: str) -> Any:
    """The row of the caller's deployable that `names` name; ResourceNotFoundException naming its ARN."""
    return deployables.require(connection, target(ctx, kind, *names))


def start_deployment(
    ctx: Context,
    connection: Connection,
    resource: deployables.Target,
    row: Row[Any],
    start: deployables.Start,
    now: float | None = None,
) -> str:
    """Start a deployment of `resource` in the request's transaction (`deployables.start`); wake the
    workers on commit. A create passes the `now` its row was written with."""
    deployment_id = deployables.start(
        connection, resource, row, start, ids=ctx.runtime.ids, now=ctx.now if now is None else now
    )
    ctx.after_commit.append(ctx.runtime.wake)
    return deployment_id


def create_deployable(
    ctx: Context,
    connection: Connection,
    resource: deployables.Target,
    columns: dict[str, Any],
    start: deployables.Start,
    now: float | None = None,
) -> str:
    """Write a new deployable and start its CREATE deployment (`deployables.create`) at `now` (default: the
    clock's); wake the workers on commit."""
    at = ctx.now if now is None else now
    deployment_id = deployables.create(connection, resource, columns, start, ids=ctx.runtime.ids, now=at)
    ctx.after_commit.append(ctx.runtime.wake)
    return deployment_id


def cancel_deployment(
    ctx: Context, connection: Connection, resource: deployables.Target, row: Row[Any]
) -> None:
    """Ask for the cancel of a resource's in-flight deployment or deletion (`deployables.cancel`); where
    the deployment's provisioner has nothing left to run (Terraform handed over to its automation) it is
    settled CANCELLED at once; the workers are woken on commit."""
    deployment_id = deployables.cancel(connection, resource, row, ctx.now)
    control.cancel_requested(connection, ctx.now, deployment_id, ctx.runtime.announce)
    ctx.after_commit.append(ctx.runtime.wake)


def account_quota(ctx: Context, connection: Connection, name: str) -> int | None:
    """The quota `name` (a field of `Quotas`) for the caller's account; None when there is no limit."""
    return quota_store.effective(connection, ctx.runtime.quotas, ctx.account_id, name)


def check_account_quota(ctx: Context, connection: Connection, table: sa.Table, name: str, what: str) -> None:
    """Refuse a create when the caller's account and region already hold as many rows of `table` as the
    account's quota `name` allows."""
    quota = account_quota(ctx, connection, name)
    if quota is None:
        return
    count = connection.execute(
        sa.select(sa.func.count()).where(table.c.account_id == ctx.account_id, table.c.region == ctx.region)
    ).scalar_one()
    if count >= quota:
        raise ServiceQuotaExceededException(
            f"You have reached the quota of {quota} {what} in this account and region."
        )
