"""Template sync configs and sync status (reference §1.9, §6.1): CreateTemplateSyncConfig,
GetTemplateSyncConfig, UpdateTemplateSyncConfig, DeleteTemplateSyncConfig, GetTemplateSyncStatus,
GetRepositorySyncStatus, ListRepositorySyncDefinitions (with syncType SERVICE_SYNC, which the model does not
document, it lists the service sync configs reading the repository: the ops file's branch and path, and
the service).

Invariants: one config per template (kind, name); creating or updating a config needs the template and
the repository link to exist (ValidationException otherwise, as the model has no ResourceNotFoundException
on CreateTemplateSyncConfig); a config change makes the branch's poll job due at once (in the same
transaction) and makes the next look sync the branch's head again, recording CONFIG_UPDATED; deleting a
config stops syncing and keeps every version and every status record.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.api.common import not_found
from baryon.api.kinds import ENVIRONMENT, SERVICE, Kind
from baryon.api.registry import Context, Params, operation
from baryon.api.repositories import repository_arn, require_repository
from baryon.api.sync_follow import check_named_branch, follow_named_branch, named_branch_columns
from baryon.api.templates import require_template
from baryon.domain.versions import parse_part
from baryon.protocol.errors import ConflictException, ValidationException
from baryon.store import service_sync as service_sync_store
from baryon.store import sync_status
from baryon.store import template_sync as store
from baryon.store import templates as template_store
from baryon.store.schema import template_sync_configs
from baryon.store.sync_status import BranchKey, SyncTarget
from baryon.sync.base import SERVICE_SYNC, TEMPLATE_SYNC

TS = template_sync_configs.c
KINDS = {"ENVIRONMENT": ENVIRONMENT, "SERVICE": SERVICE}


def _kind(params: Params) -> Kind:
    return KINDS[params["templateType"]]


def _config_arn_text(kind: Kind, name: str) -> str:
    return f"{kind.label} {name}"


def _check_subdirectory(value: str | None) -> None:
    if value is None:
        return
    parts = value.replace("\\", "/").split("/")
    if ".." in parts or "\x00" in value:
        raise ValidationException(
            f"The subdirectory {value} must be a path inside the repository (no '..' components)."
        )


def _target(ctx: Context, connection: Connection, params: Params) -> tuple[Kind, Row[Any]]:
    """The template a Create/Update names; ValidationException when it does not exist."""
    kind = _kind(params)
    template = store_template(ctx, connection, kind, params["templateName"])
    if template is None:
        raise ValidationException(
            f"The {kind.label} {params['templateName']} does not exist; create it before syncing it from git."
        )
    return kind, template


def store_template(ctx: Context, connection: Connection, kind: Kind, name: str) -> Row[Any] | None:
    return template_store.find_template(connection, ctx.account_id, ctx.region, kind.name, name)


@operation("CreateTemplateSyncConfig", write=True)
def create_template_sync_config(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    kind, template = _target(ctx, connection, params)
    check_named_branch(ctx, connection, params, ValidationException)
    _check_subdirectory(params.get("subdirectory"))
    if store.find(connection, ctx.account_id, ctx.region, kind.name, template.name) is not None:
        raise ConflictException(
            f"The {kind.label} {template.name} already has a template sync config; "
            "update or delete it instead."
        )
    now = ctx.now
    connection.execute(
        sa.insert(template_sync_configs).values(
            account_id=ctx.account_id,
            region=ctx.region,
            template_type=kind.name,
            template_name=template.name,
            **named_branch_columns(params),
            subdirectory=params.get("subdirectory"),
            created_at=now,
            last_modified_at=now,
        )
    )
    follow_named_branch(ctx, connection, params, TEMPLATE_SYNC)
    row = store.find(connection, ctx.account_id, ctx.region, kind.name, template.name)
    assert row is not None
    return {"templateSyncConfig": store.shape(row)}


def _require_config(ctx: Context, connection: Connection, params: Params) -> tuple[Kind, Row[Any]]:
    kind = _kind(params)
    row = store.find(connection, ctx.account_id, ctx.region, kind.name, params["templateName"])
    if row is None:
        raise not_found("template sync config", _config_arn_text(kind, params["templateName"]))
    return kind, row


@operation("GetTemplateSyncConfig", write=False)
def get_template_sync_config(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    _, row = _require_config(ctx, connection, params)
    return {"templateSyncConfig": store.shape(row)}


@operation("UpdateTemplateSyncConfig", write=True)
def update_template_sync_config(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    _, row = _require_config(ctx, connection, params)
    check_named_branch(ctx, connection, params, ValidationException)
    _check_subdirectory(params.get("subdirectory"))
    connection.execute(
        sa.update(template_sync_configs)
        .where(TS.id == row.id)
        .values(
            **named_branch_columns(params),
            subdirectory=params.get("subdirectory"),
            last_modified_at=ctx.now,
        )
    )
    follow_named_branch(ctx, connection, params, TEMPLATE_SYNC)
    _, updated = _require_config(ctx, connection, params)
    return {"templateSyncConfig": store.shape(updated)}


@operation("DeleteTemplateSyncConfig", write=True)
def delete_template_sync_config(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    _, row = _require_config(ctx, connection, params)
    shape = store.shape(row)
    connection.execute(sa.delete(template_sync_configs).where(TS.id == row.id))
    return {"templateSyncConfig": shape}


@operation("GetTemplateSyncStatus", write=False)
def get_template_sync_status(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    kind = _kind(params)
    template = require_template(ctx, connection, kind, params["templateName"])
    raw_major = params["templateVersion"]
    if not raw_major.isdigit() or raw_major != str(int(raw_major)) or int(raw_major) < 1:
        raise ValidationException(
            f"The templateVersion {raw_major} must be a major version number, such as 1."
        )
    major = parse_part(raw_major)
    target = SyncTarget(ctx.account_id, ctx.region, TEMPLATE_SYNC, f"{kind.name}/{template.name}/{major}")
    result: dict[str, Any] = {}
    latest = sync_status.latest(connection, target)
    if latest is not None:
        result["latestSync"] = latest.wire()
    succeeded = sync_status.latest(connection, target, succeeded=True)
    if succeeded is not None:
        result["latestSuccessfulSync"] = succeeded.wire()
    desired = sync_status.desired(connection, target)
    if desired is not None:
        result["desiredState"] = desired.wire()
    return result


@operation("GetRepositorySyncStatus", write=False)
def get_repository_sync_status(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    provider, name = params["repositoryProvider"], params["repositoryName"]
    require_repository(connection, ctx, provider, name)
    key = BranchKey(ctx.account_id, ctx.region, provider, name, params["branch"], params["syncType"])
    latest = sync_status.repository_attempt_latest(connection, key)
    return {} if latest is None else {"latestSync": latest}


@operation("ListRepositorySyncDefinitions", write=False)
def list_repository_sync_definitions(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    provider, name = params["repositoryProvider"], params["repositoryName"]
    parent = repository_arn(ctx, provider, name)
    if params["syncType"] == SERVICE_SYNC:
        # The model documents TEMPLATE_SYNC only; Baryon lists its service sync configs likewise.
        definitions = [
            {"branch": row.branch, "directory": row.file_path, "parent": parent, "target": row.service_name}
            for row in service_sync_store.configs_of_repository(
                connection, ctx.account_id, ctx.region, provider, name
            )
        ]
    else:
        definitions = [
            {
                "branch": row.branch,
                "directory": row.subdirectory if row.subdirectory is not None else "/",
                "parent": parent,
                "target": row.template_name,
            }
            for row in store.for_repository(connection, ctx.account_id, ctx.region, provider, name)
        ]
    return {"syncDefinitions": definitions}
