"""Create/Get/Update/Delete/List of environment and service templates (reference §1.3).

Invariants: names are unique per kind within an account and region; repeating a create with identical
parameters returns the existing template, different parameters are a ConflictException; a template is
deleted only when no versions remain; templates of all kinds count against one quota.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.api.common import check_account_quota, clean, next_token, not_found, page_position, page_size
from baryon.api.kinds import Kind, register_per_kind
from baryon.api.registry import Context, Params
from baryon.api.tags import delete_tags_under, put_tags
from baryon.domain import arns
from baryon.domain.template_versions import create_target, update_target
from baryon.domain.versions import format_version
from baryon.protocol.errors import ConflictException
from baryon.store import templates as store
from baryon.store.prepared import Prepared
from baryon.store.schema import templates

T = templates.c


def template_arn(ctx: Context, kind: Kind, name: str) -> str:
    return arns.template_arn(ctx.region, ctx.account_id, kind.name, name)


def template_shape(ctx: Context, kind: Kind, row: Row[Any], *, summary: bool = False) -> dict[str, Any]:
    recommended = (
        format_version(row.recommended_major, row.recommended_minor)
        if row.recommended_major is not None
        else None
    )
    return clean(
        {
            "name": row.name,
            "arn": template_arn(ctx, kind, row.name),
            "displayName": row.display_name,
            "description": row.description,
            "encryptionKey": None if summary else row.encryption_key,
            kind.provisioning_member: row.provisioning,
            "recommendedVersion": recommended,
            "createdAt": row.created_at,
            "lastModifiedAt": row.last_modified_at,
        }
    )


def require_template(ctx: Context, connection: Connection, kind: Kind, name: str) -> Row[Any]:
    row = store.find_template(connection, ctx.account_id, ctx.region, kind.name, name)
    if row is None:
        raise not_found(kind.label, template_arn(ctx, kind, name))
    return row


def version_for_create(
    ctx: Context, connection: Connection, kind: Kind, params: Params
) -> tuple[Row[Any], tuple[int, int]]:
    """The template a create names (`templateName`) and the version it deploys (`templateMajorVersion`,
    `templateMinorVersion`), chosen by `baryon.domain.template_versions`."""
    template = require_template(ctx, connection, kind, params["templateName"])
    versions = store.version_set(connection, template, kind.label)
    return template, create_target(
        versions, params["templateMajorVersion"], params.get("templateMinorVersion")
    )


def version_for_update(
    connection: Connection, kind: Kind, template_id: int, row: Any, params: Params
) -> tuple[Row[Any], tuple[int, int], Row[Any]]:
    """The template of a deployed resource (`row`), and the version its update with `deploymentType`
    deploys: as numbers, and its row."""
    template = store.find_template_by_id(connection, template_id)
    chosen = update_target(
        store.version_set(connection, template, kind.label),
        params["deploymentType"],
        (row.template_major, row.template_minor),
        params.get("templateMajorVersion"),
        params.get("templateMinorVersion"),
    )
    return template, chosen, store.chosen_version(connection, template, chosen)


def _create(ctx: Context, kind: Kind, params: Params, connection: Connection) -> dict[str, Any]:
    name = params["name"]
    wanted = {
        "display_name": params.get("displayName"),
        "description": params.get("description"),
        "encryption_key": params.get("encryptionKey"),
        "provisioning": params.get(kind.provisioning_member),
    }
    existing = store.find_template(connection, ctx.account_id, ctx.region, kind.name, name)
    if existing is not None:
        if all(getattr(existing, column) == value for column, value in wanted.items()):
            return {kind.template_member: template_shape(ctx, kind, existing)}
        raise ConflictException(f"A {kind.label} named {name} already exists with other parameters.")
    check_account_quota(ctx, connection, templates, "templates", "templates")
    now = ctx.now
    connection.execute(
        sa.insert(templates).values(
            account_id=ctx.account_id,
            region=ctx.region,
            kind=kind.name,
            name=name,
            created_at=now,
            last_modified_at=now,
            **wanted,
        )
    )
    put_tags(ctx, connection, template_arn(ctx, kind, name), params.get("tags") or [])
    row = store.find_template(connection, ctx.account_id, ctx.region, kind.name, name)
    assert row is not None
    return {kind.template_member: template_shape(ctx, kind, row)}


def _get(ctx: Context, kind: Kind, params: Params, connection: Connection) -> dict[str, Any]:
    row = require_template(ctx, connection, kind, params["name"])
    return {kind.template_member: template_shape(ctx, kind, row)}


def _update(ctx: Context, kind: Kind, params: Params, connection: Connection) -> dict[str, Any]:
    row = require_template(ctx, connection, kind, params["name"])
    changes: dict[str, Any] = {}
    if "displayName" in params:
        changes["display_name"] = params["displayName"]
    if "description" in params:
        changes["description"] = params["description"]
    if changes:
        changes["last_modified_at"] = ctx.now
        connection.execute(sa.update(templates).where(T.id == row.id).values(**changes))
        row = require_template(ctx, connection, kind, params["name"])
    return {kind.template_member: template_shape(ctx, kind, row)}


def _delete(ctx: Context, kind: Kind, params: Params, connection: Connection) -> dict[str, Any]:
    row = require_template(ctx, connection, kind, params["name"])
    if store.count_live_versions(connection, row.id):
        raise ConflictException(
            f"The {kind.label} {row.name} still has versions. Delete its versions before the template."
        )
    shape = template_shape(ctx, kind, row)
    connection.execute(sa.delete(templates).where(T.id == row.id))
    delete_tags_under(connection, shape["arn"])
    return {kind.template_member: shape}


_LIST = Prepared(
    sa.select(templates)
    .where(
        T.account_id == sa.bindparam("account_id"),
        T.region == sa.bindparam("region"),
        T.kind == sa.bindparam("kind"),
        T.name > sa.bindparam("after"),
    )
    .order_by(T.name)
    .limit(sa.bindparam("limit"))
)


def _list(ctx: Context, kind: Kind, params: Params, connection: Connection) -> dict[str, Any]:
    after = page_position(ctx, params)
    size = page_size(params)
    rows = _LIST.all(
        connection,
        {
            "account_id": ctx.account_id,
            "region": ctx.region,
            "kind": kind.name,
            "after": after if after is not None else "",
            "limit": size + 1,
        },
    )
    result: dict[str, Any] = {
        "templates": [template_shape(ctx, kind, row, summary=True) for row in rows[:size]]
    }
    if len(rows) > size:
        result["nextToken"] = next_token(ctx, rows[size - 1].name)
    return result


register_per_kind("Template", _create, _get, _update, _delete, _list)
