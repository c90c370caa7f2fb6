"""Helpers shared by handlers: not-found errors, output cleaning, pagination of lists, starting and
cancelling deployments.

Invariants: outputs never carry None members (absent means unset on the wire); page sizes follow the
model's `maxResults` (1-100, default 100); a page token is bound to the operation and caller scope.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.api.registry import Context
from baryon.domain.deployments import CANCELLING, IN_PROGRESS
from baryon.engine import selfmanaged
from baryon.protocol.errors import ConflictException, ResourceNotFoundException, ServiceQuotaExceededException
from baryon.store import deployments as deployment_store
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


def _as_list(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def start_deployment(
    ctx: Context,
    connection: Connection,
    *,
    target_type: str,
    arn: str,
    created_at: float,
    operation_name: str,
    environment_name: str,
    service_name: str | None = None,
    instance_name: str | None = None,
    component_name: str | None = None,
    target_state: dict[str, Any],
    initial_state: dict[str, Any] | None,
    previous: Row[Any] | None,
) -> str:
    """Write a deployment record and its job (in the caller's transaction); wake the workers on commit."""
    deployment_id = ctx.runtime.ids.uuid()
    deployment_store.start(
        connection,
        deployment_id=deployment_id,
        job_id=ctx.runtime.ids.uuid(),
        account_id=ctx.account_id,
        region=ctx.region,
        target_type=target_type,
        target_arn=arn,
        target_created_at=created_at,
        operation=operation_name,
        environment_name=environment_name,
        service_name=service_name,
        service_instance_name=instance_name,
        component_name=component_name,
        target_state=target_state,
        initial_state=initial_state,
        last_attempted=previous.last_attempted_deployment_id if previous is not None else None,
        last_succeeded=previous.last_succeeded_deployment_id if previous is not None else None,
        now=ctx.now,
    )
    ctx.after_commit.append(ctx.runtime.wake)
    return deployment_id


def cancel_deployment(
    ctx: Context, connection: Connection, table: sa.Table, where: Any, row: Row[Any], refusal: str
) -> None:
    """Ask for the cancel of a resource's in-flight deployment (`row` is the resource, `where` selects it
    in `table`): both move to CANCELLING and the workers are woken on commit; a self-managed deployment
    already handed over to its automation is settled CANCELLED at once. ConflictException(`refusal`)
    when nothing is in progress."""
    if row.deployment_status != IN_PROGRESS:
        raise ConflictException(refusal)
    connection.execute(sa.update(table).where(where).values(deployment_status=CANCELLING))
    deployment_store.set_status(connection, row.last_attempted_deployment_id, CANCELLING, ctx.now)
    selfmanaged.cancel_handed_off(connection, ctx.now, row.last_attempted_deployment_id)
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
