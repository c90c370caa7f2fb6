"""TagResource, UntagResource and ListTagsForResource for every resource type (reference §1.14).

Invariants: customer tags only (keys starting with `aws:` are reserved and refused); at most the quota of
tags per resource after a TagResource; tags are keyed by ARN and removed with their resource.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.api.common import not_found, paginate_sorted
from baryon.api.registry import Context, Params, operation
from baryon.api.resources import exists
from baryon.domain.quotas import TAGS_PER_RESOURCE
from baryon.protocol.errors import ValidationException
from baryon.store.schema import tags

G = tags.c


def put_tags(ctx: Context, connection: Connection, arn: str, new_tags: list[dict[str, str]]) -> None:
    """Merge tags onto a resource, enforcing the reserved prefix and the per-resource quota."""
    if not new_tags:
        return
    wanted = {tag["key"]: tag["value"] for tag in new_tags}
    reserved = sorted(key for key in wanted if key.lower().startswith("aws:"))
    if reserved:
        raise ValidationException(f"Tag keys starting with 'aws:' are reserved: {', '.join(reserved)}")
    current = {
        row.key: row.value
        for row in connection.execute(sa.select(G.key, G.value).where(G.resource_arn == arn))
    }
    limit = TAGS_PER_RESOURCE
    if len(current.keys() | wanted.keys()) > limit:
        raise ValidationException(f"A resource can have at most {limit} tags.")
    for key, value in wanted.items():
        if key in current:
            if current[key] != value:
                connection.execute(
                    sa.update(tags).where(G.resource_arn == arn, G.key == key).values(value=value)
                )
        else:
            connection.execute(sa.insert(tags).values(resource_arn=arn, key=key, value=value))


def delete_tags_under(connection: Connection, arn: str) -> None:
    """Remove the tags of a resource and of everything whose ARN extends it (`:` or `/`)."""
    connection.execute(
        sa.delete(tags).where(
            sa.or_(G.resource_arn == arn, G.resource_arn.like(arn + ":%"), G.resource_arn.like(arn + "/%"))
        )
    )


def _require(ctx: Context, connection: Connection, arn: str) -> None:
    if not exists(connection, ctx, arn):
        raise not_found("resource", arn)


@operation("TagResource", write=True)
def tag_resource(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    _require(ctx, connection, params["resourceArn"])
    put_tags(ctx, connection, params["resourceArn"], params["tags"])
    return {}


@operation("UntagResource", write=True)
def untag_resource(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    _require(ctx, connection, params["resourceArn"])
    if params["tagKeys"]:
        connection.execute(
            sa.delete(tags).where(G.resource_arn == params["resourceArn"], G.key.in_(params["tagKeys"]))
        )
    return {}


@operation("ListTagsForResource", write=False)
def list_tags_for_resource(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    arn = params["resourceArn"]
    _require(ctx, connection, arn)
    rows = connection.execute(sa.select(G.key, G.value).where(G.resource_arn == arn).order_by(G.key)).all()
    page, token = paginate_sorted(ctx, params, rows, key=lambda row: row.key, extra=arn)
    result: dict[str, Any] = {"tags": [{"key": row.key, "value": row.value} for row in page]}
    if token:
        result["nextToken"] = token
    return result
