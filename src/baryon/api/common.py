"""Helpers shared by handlers: not-found errors, output cleaning, pagination of lists.

Invariants: outputs never carry None members (absent means unset on the wire); page sizes follow the
model's `maxResults` (1-100, default 100); a page token is bound to the operation and caller scope.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from baryon.api.registry import Context
from baryon.protocol.errors import ResourceNotFoundException

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
