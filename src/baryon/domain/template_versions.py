"""Choosing the template version a create or update deploys (reference §1.4, §5.3), and how far a deployed
resource is behind its template's recommended version.

Pure functions over plain values: a handler reads the template's live versions once
(`store.templates.version_set`), decides here, then writes.

Invariants: only PUBLISHED versions are deployed; an omitted minor means the recommended minor of the
major; CURRENT_VERSION never changes the version; MINOR_VERSION stays in the current major;
MAJOR_VERSION must go higher. Violations are ValidationExceptions that name the template and versions.
A resource is UP_TO_DATE when it runs the recommended version (or a later one), BEHIND_MINOR when it
runs an older minor of the recommended major, BEHIND_MAJOR when it runs an older major; it has no
status while its template has no recommended version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from baryon.domain.deployments import CURRENT_VERSION, MAJOR_VERSION, MINOR_VERSION
from baryon.domain.versions import PUBLISHED, parse_part, recommended, recommended_minor
from baryon.protocol.errors import ValidationException

Version = tuple[int, int]
UP_TO_DATE = "UP_TO_DATE"
BEHIND_MINOR = "BEHIND_MINOR"
BEHIND_MAJOR = "BEHIND_MAJOR"
VERSION_STATUSES = (UP_TO_DATE, BEHIND_MINOR, BEHIND_MAJOR)


@dataclass(frozen=True)
class VersionSet:
    """The live versions of one template: `label` ("service template") and `name` for messages."""

    label: str
    name: str
    statuses: Mapping[Version, str]

    def _triples(self) -> list[tuple[int, int, str]]:
        return [(major, minor, status) for (major, minor), status in self.statuses.items()]

    @property
    def recommended(self) -> Version | None:
        return recommended(self._triples())

    def recommended_minor(self, major: int) -> int | None:
        return recommended_minor(self._triples(), major)


def published_version(versions: VersionSet, major: int, minor: int | None) -> Version:
    """The PUBLISHED version major.minor (minor None: the recommended minor of the major)."""
    if minor is None:
        minor = versions.recommended_minor(major)
        if minor is None:
            raise ValidationException(
                f"Major version {major} of {versions.label} {versions.name} has no published minor version."
            )
    status = versions.statuses.get((major, minor))
    if status != PUBLISHED:
        state = "does not exist" if status is None else f"is {status}, not PUBLISHED"
        raise ValidationException(f"Version {major}.{minor} of {versions.label} {versions.name} {state}.")
    return major, minor


def create_target(versions: VersionSet, major_param: str, minor_param: str | None) -> Version:
    """The version a create with these templateMajorVersion / templateMinorVersion members deploys."""
    return published_version(
        versions, parse_part(major_param), parse_part(minor_param) if minor_param is not None else None
    )


def update_target(
    versions: VersionSet,
    deployment_type: str,
    current: Version,
    major_param: str | None,
    minor_param: str | None,
) -> Version:
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
        if current not in versions.statuses:
            raise ValidationException(
                f"Version {current_major}.{current_minor} of {versions.label} {versions.name} no longer "
                "exists."
            )
        return current
    if deployment_type == MINOR_VERSION:
        if major is not None and major != current_major:
            raise ValidationException(
                f"A MINOR_VERSION update stays in major version {current_major}; use MAJOR_VERSION to "
                f"move to major version {major}."
            )
        return published_version(versions, current_major, minor)
    if deployment_type == MAJOR_VERSION:
        if major is None:
            best = versions.recommended
            if best is None:
                raise ValidationException(
                    f"{versions.label.capitalize()} {versions.name} has no published version."
                )
            major = best[0]
            minor = minor if minor is not None else best[1]
        if major <= current_major:
            raise ValidationException(
                f"A MAJOR_VERSION update must move to a major version higher than {current_major}."
            )
        return published_version(versions, major, minor)
    raise ValidationException(f"Unknown deploymentType {deployment_type}.")


def version_status(running: Version, best: Version | None) -> str | None:
    """How a resource running `running` stands against its template's recommended version `best`."""
    if best is None:
        return None
    if running >= best:
        return UP_TO_DATE
    if running[0] == best[0]:
        return BEHIND_MINOR
    return BEHIND_MAJOR


def schema_of(version: Any) -> dict[str, Any]:
    """The parsed schema of a registered version row (its `bundle_info`)."""
    info: dict[str, Any] = orjson.loads(version.bundle_info or "{}")
    schema: dict[str, Any] = info.get("schema", {})
    return schema


def parts_of(version: Any) -> dict[str, Any]:
    """The bundle parts (manifest of each) of a registered version row."""
    info: dict[str, Any] = orjson.loads(version.bundle_info or "{}")
    parts: dict[str, Any] = info.get("parts", {})
    return parts


def rendering_engine(version: Any, part: str) -> str | None:
    """The rendering engine of one part of a registered version ("jinja", "hcl", "codebuild")."""
    engine: str | None = parts_of(version).get(part, {}).get("rendering_engine")
    return engine
