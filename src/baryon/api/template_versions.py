"""Create/Get/Update/Delete/List of environment and service template versions (reference §1.4).

Invariants: a new version starts REGISTRATION_IN_PROGRESS with a registration job written in the same
transaction; omitting `majorVersion` creates a new major, giving one adds the next minor of that existing
major; only DRAFT → PUBLISHED is a status change; every status change (creation and deletion included)
is an event in the same transaction; recommended versions are recomputed on publish and
delete; a recommended minor (or the recommended version) is deleted only when it is the last one.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.api.common import account_quota, clean, not_found, paginate_sorted
from baryon.api.kinds import ENVIRONMENT, SERVICE, Kind, register_per_kind
from baryon.api.registry import Context, Params
from baryon.api.resources import resolver
from baryon.api.tags import delete_tags_under, put_tags
from baryon.api.templates import require_template
from baryon.domain import arns
from baryon.domain import jobs as job_kinds
from baryon.domain.versions import DRAFT, PUBLISHED, REGISTRATION_IN_PROGRESS, parse_part
from baryon.events import format as event_format
from baryon.events import outbox
from baryon.protocol.errors import ConflictException, ServiceQuotaExceededException, ValidationException
from baryon.store import templates as store
from baryon.store.jobs import enqueue
from baryon.store.schema import template_versions

V = template_versions.c


def version_arn(ctx: Context, kind: Kind, name: str, major: int, minor: int) -> str:
    return arns.arn(ctx.region, ctx.account_id, arns.template_version_resource(kind.name, name, major, minor))


def version_shape(
    ctx: Context,
    kind: Kind,
    template: Row[Any],
    row: Row[Any],
    connection: Connection,
    *,
    summary: bool = False,
) -> dict[str, Any]:
    recommended_minor = store.recommended_minor(connection, template.id, row.major)
    shape = {
        "templateName": template.name,
        "majorVersion": str(row.major),
        "minorVersion": str(row.minor),
        "arn": version_arn(ctx, kind, template.name, row.major, row.minor),
        "status": row.status,
        "statusMessage": row.status_message,
        "description": row.description,
        "recommendedMinorVersion": None if recommended_minor is None else str(recommended_minor),
        "createdAt": row.created_at,
        "lastModifiedAt": row.last_modified_at,
    }
    if not summary:
        shape["schema"] = row.schema_text
        if kind is SERVICE:
            shape["compatibleEnvironmentTemplates"] = orjson.loads(
                row.compatible_environment_templates or "[]"
            )
            shape["supportedComponentSources"] = (
                orjson.loads(row.supported_component_sources) if row.supported_component_sources else None
            )
    return clean(shape)


def _require_version(
    ctx: Context, connection: Connection, kind: Kind, params: Params
) -> tuple[Row[Any], Row[Any]]:
    template = require_template(ctx, connection, kind, params["templateName"])
    major, minor = parse_part(params["majorVersion"]), parse_part(params["minorVersion"])
    row = store.find_version(connection, template.id, major, minor)
    if row is None:
        raise not_found(f"{kind.label} version", version_arn(ctx, kind, template.name, major, minor))
    return template, row


def _check_compatible_environments(
    ctx: Context, connection: Connection, entries: list[dict[str, str]]
) -> None:
    for entry in entries:
        name, major = entry["templateName"], parse_part(entry["majorVersion"])
        template = store.find_template(connection, ctx.account_id, ctx.region, ENVIRONMENT.name, name)
        if template is None or not store.major_exists(connection, template.id, major):
            raise ValidationException(
                f"Compatible environment template {name} major version {major} does not exist."
            )


def _create(ctx: Context, kind: Kind, params: Params, connection: Connection) -> dict[str, Any]:
    template = require_template(ctx, connection, kind, params["templateName"])
    requested_major = params.get("majorVersion")
    major_number = None if requested_major is None else parse_part(requested_major)
    if major_number is not None and not store.major_exists(connection, template.id, major_number):
        raise ValidationException(
            f"Major version {major_number} of {kind.label} {template.name} does not exist. "
            "Omit majorVersion to create a new major version."
        )
    quota = account_quota(ctx, connection, "versions_per_template")
    if quota is not None and store.count_live_versions(connection, template.id) >= quota:
        raise ServiceQuotaExceededException(
            f"You have reached the quota of {quota} versions of {kind.label} {template.name}."
        )
    compatible = params.get("compatibleEnvironmentTemplates")
    if kind is SERVICE:
        _check_compatible_environments(ctx, connection, compatible or [])
    major, minor = store.next_number(connection, template.id, major_number)
    now = ctx.now
    sources = params.get("supportedComponentSources")
    result = connection.execute(
        sa.insert(template_versions).values(
            template_id=template.id,
            major=major,
            minor=minor,
            status=REGISTRATION_IN_PROGRESS,
            description=params.get("description"),
            compatible_environment_templates=orjson.dumps(compatible).decode() if kind is SERVICE else None,
            supported_component_sources=orjson.dumps(sources).decode() if sources is not None else None,
            source_bucket=params["source"]["s3"]["bucket"],
            source_key=params["source"]["s3"]["key"],
            created_at=now,
            last_modified_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    version_id = int(key[0])
    outbox.template_version_changed(
        connection, version_id, previous=None, status=REGISTRATION_IN_PROGRESS, now=now
    )
    enqueue(
        connection,
        job_id=ctx.runtime.ids.uuid(),
        kind=job_kinds.REGISTER_TEMPLATE_VERSION,
        payload={"version_id": version_id},
        now=now,
        policy=job_kinds.REGISTRATION_POLICY,
    )
    ctx.after_commit.append(ctx.runtime.wake)
    put_tags(ctx, connection, version_arn(ctx, kind, template.name, major, minor), params.get("tags") or [])
    row = store.find_version(connection, template.id, major, minor)
    assert row is not None
    return {kind.version_member: version_shape(ctx, kind, template, row, connection)}


def _get(ctx: Context, kind: Kind, params: Params, connection: Connection) -> dict[str, Any]:
    template, row = _require_version(ctx, connection, kind, params)
    return {kind.version_member: version_shape(ctx, kind, template, row, connection)}


def _update(ctx: Context, kind: Kind, params: Params, connection: Connection) -> dict[str, Any]:
    template, row = _require_version(ctx, connection, kind, params)
    changes: dict[str, Any] = {}
    status = params.get("status")
    label = f"{row.major}.{row.minor}"
    if status is not None and status != row.status:
        if not (row.status == DRAFT and status == PUBLISHED):
            raise ValidationException(
                f"A template version's status can only change from DRAFT to PUBLISHED; version {label} of "
                f"{kind.label} {template.name} is {row.status}."
            )
        changes["status"] = PUBLISHED
    if "description" in params:
        changes["description"] = params["description"]
    if kind is SERVICE and "compatibleEnvironmentTemplates" in params:
        if row.status != DRAFT:
            raise ValidationException(
                f"compatibleEnvironmentTemplates can only change on a DRAFT version; version {label} of "
                f"{kind.label} {template.name} is {row.status}. Create a new major version instead."
            )
        _check_compatible_environments(ctx, connection, params["compatibleEnvironmentTemplates"])
        changes["compatible_environment_templates"] = orjson.dumps(
            params["compatibleEnvironmentTemplates"]
        ).decode()
    if kind is SERVICE and "supportedComponentSources" in params:
        changes["supported_component_sources"] = orjson.dumps(params["supportedComponentSources"]).decode()
    if changes:
        now = ctx.now
        connection.execute(
            sa.update(template_versions).where(V.id == row.id).values(last_modified_at=now, **changes)
        )
        if "status" in changes:
            outbox.template_version_changed(
                connection, row.id, previous=row.status, status=changes["status"], now=now
            )
            store.refresh_recommended(connection, template.id, now)
        _, row = _require_version(ctx, connection, kind, params)
    return {kind.version_member: version_shape(ctx, kind, template, row, connection)}


def _delete(ctx: Context, kind: Kind, params: Params, connection: Connection) -> dict[str, Any]:
    template, row = _require_version(ctx, connection, kind, params)
    label = f"{row.major}.{row.minor}"
    user = store.version_in_use(connection, template.id, row.major, row.minor)
    if user is not None:
        raise ConflictException(
            f"Version {label} of {kind.label} {template.name} is in use by {user}; it cannot be deleted."
        )
    same_major = store.live_versions(connection, template.id, row.major)
    if (
        row.status == PUBLISHED
        and store.recommended_minor(connection, template.id, row.major) == row.minor
        and len(same_major) > 1
    ):
        raise ConflictException(
            f"Version {label} is the recommended minor version of major version {row.major} of {kind.label} "
            f"{template.name}. Delete the other minor versions of this major version first."
        )
    if (template.recommended_major, template.recommended_minor) == (row.major, row.minor) and (
        store.count_live_versions(connection, template.id) > 1
    ):
        raise ConflictException(
            f"Version {label} is the recommended version of {kind.label} {template.name}. Delete the other "
            "versions of this template first."
        )
    shape = version_shape(ctx, kind, template, row, connection)
    now = ctx.now
    connection.execute(
        sa.update(template_versions)
        .where(V.id == row.id)
        .values(deleted_at=now, bundle=None, last_modified_at=now)
    )
    outbox.template_version_changed(
        connection, row.id, previous=row.status, status=event_format.DELETED, now=now
    )
    store.refresh_recommended(connection, template.id, now)
    delete_tags_under(connection, shape["arn"])
    return {kind.version_member: shape}


def _list(ctx: Context, kind: Kind, params: Params, connection: Connection) -> dict[str, Any]:
    template = require_template(ctx, connection, kind, params["templateName"])
    major = params.get("majorVersion")
    if major is not None:
        rows = store.live_versions(connection, template.id, parse_part(major))
    else:
        by_major: dict[int, list[Row[Any]]] = {}
        for row in store.live_versions(connection, template.id):
            by_major.setdefault(row.major, []).append(row)
        rows = []
        for versions in by_major.values():
            published = [row for row in versions if row.status == PUBLISHED]
            rows.append((published or versions)[-1])
    page, token = paginate_sorted(
        ctx, params, rows, key=lambda row: (row.major, row.minor), extra=f"{template.id}|{major}"
    )
    result: dict[str, Any] = {
        "templateVersions": [
            version_shape(ctx, kind, template, row, connection, summary=True) for row in page
        ]
    }
    if token:
        result["nextToken"] = token
    return result


def _resolve(kind: Kind) -> Any:
    def resolve(connection: Connection, ctx: Context, parsed: arns.ParsedArn) -> bool:
        _, _, rest = parsed.resource.partition("/")
        name, _, version = rest.partition(":")
        template = store.find_template(connection, ctx.account_id, ctx.region, kind.name, name)
        if template is None:
            return False
        if not version:
            return True
        major, _, minor = version.partition(".")
        if not (major.isdigit() and minor.isdigit()):
            return False
        return store.find_version(connection, template.id, int(major), int(minor)) is not None

    return resolve


resolver("environment-template")(_resolve(ENVIRONMENT))
resolver("service-template")(_resolve(SERVICE))


register_per_kind("TemplateVersion", _create, _get, _update, _delete, _list)
