"""Which ARNs name an existing resource of the caller: the one lookup behind the tag operations.

Invariants: an ARN resolves only inside the caller's own account and region; the four deployable kinds
resolve through the deployables registry; every other resource family registers one resolver for its
ARN resource type (the part before the first `/`), so tagging works for every resource type without
per-type tag code.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Connection

from baryon import deployables
from baryon.api.registry import Context
from baryon.domain import arns

Resolver = Callable[[Connection, Context, arns.ParsedArn], bool]
RESOLVERS: dict[str, Resolver] = {}


def resolver(resource_type: str) -> Callable[[Resolver], Resolver]:
    def register(function: Resolver) -> Resolver:
        RESOLVERS[resource_type] = function
        return function

    return register


def exists(connection: Connection, ctx: Context, arn: str) -> bool:
    if deployables.find_by_arn(connection, ctx.account_id, ctx.region, arn) is not None:
        return True
    parsed = arns.parse(arn)
    if parsed is None or parsed.account_id != ctx.account_id or parsed.region != ctx.region:
        return False
    function = RESOLVERS.get(parsed.resource_type)
    return function is not None and function(connection, ctx, parsed)
