"""Choosing the template version a create or update deploys (reference §1.4, §5.3).

Invariants: only PUBLISHED versions are deployed; an omitted minor means the recommended minor of the
major; CURRENT_VERSION never changes the version; MINOR_VERSION stays in the current major;
MAJOR_VERSION must go higher. Violations are ValidationExceptions that name the template and versions.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.engine import Connection, Row

from baryon.api.kinds import Kind
from baryon.domain.deployments import CURRENT_VERSION, MAJOR_VERSION, MINOR_VERSION
from baryon.domain.versions import PUBLISHED, parse_part
from baryon.protocol.errors import ValidationException
from baryon.store import templates as store


def published_version(
    connection: Connection, kind: Kind, template: Row[Any], major: int, minor: int | None
) -> Row[Any]:
    """The PUBLISHED version major.minor (minor None: the recommended minor of the major)."""
    if minor is None:
        minor = store.recommended_minor(connection, template.id, major)
        if minor is None:
            raise ValidationException(
                f"Major version {major} of {kind.label} {template.name} has no published minor version."
            )
    row = store.find_version(connection, template.id, major, minor)
    if row is None or row.status != PUBLISHED:
        state = "does not exist" if row is None else f"is {row.status}, not PUBLISHED"
        raise ValidationException(f"Version {major}.{minor} of {kind.label} {template.name} {state}.")
    return row


def update_target(
    connection: Connection,
    kind: Kind,
    template: Row[Any],
    deployment_type: str,
    current: tuple[int, int],
    major_param: str | None,
    minor_param: str | None,
) -> Row[Any]:
    """The version an update with this deploymentType deploys."""
    major = parse_part(major_param) if major_param is not None else None
    minor = parse_part(minor_param) if minor_param is not None else None
    current_major, current_minor = current
    if deployment_type == CURRENT_VERSION:
        if (major is not None and major != current_major) or (minor is not None and minor != current_minor):
            raise ValidationException(
                "A CURRENT_VERSION update cannot change the template version; use MINOR_VERSION or "
                "MAJOR_VERSION."
            )
        row = store.find_version(connection, template.id, current_major, current_minor)
        if row is None:
            raise ValidationException(
                f"Version {current_major}.{current_minor} of {kind.label} {template.name} no longer exists."
            )
        return row
    if deployment_type == MINOR_VERSION:
        if major is not None and major != current_major:
            raise ValidationException(
                f"A MINOR_VERSION update stays in major version {current_major}; use MAJOR_VERSION to "
                f"move to major version {major}."
            )
        return published_version(connection, kind, template, current_major, minor)
    if deployment_type == MAJOR_VERSION:
        if major is None:
            if template.recommended_major is None:
                raise ValidationException(
                    f"{kind.label.capitalize()} {template.name} has no published version."
                )
            major = template.recommended_major
            minor = minor if minor is not None else template.recommended_minor
        if major <= current_major:
            raise ValidationException(
                f"A MAJOR_VERSION update must move to a major version higher than {current_major}."
            )
        return published_version(connection, kind, template, major, minor)
    raise ValidationException(f"Unknown deploymentType {deployment_type}.")


def schema_of(version: Row[Any]) -> dict[str, Any]:
    info: dict[str, Any] = orjson.loads(version.bundle_info or "{}")
    schema: dict[str, Any] = info.get("schema", {})
    return schema


def parts_of(version: Row[Any]) -> dict[str, Any]:
    info: dict[str, Any] = orjson.loads(version.bundle_info or "{}")
    parts: dict[str, Any] = info.get("parts", {})
    return parts
