"""Choosing the version a create or update deploys, and how far a deployed version is behind."""

from __future__ import annotations

import pytest

from baryon.domain.template_versions import (
    BEHIND_MAJOR,
    BEHIND_MINOR,
    UP_TO_DATE,
    VersionSet,
    create_target,
    update_target,
    version_status,
)
from baryon.protocol.errors import ValidationException

VERSIONS = VersionSet(
    "service template",
    "api",
    {(1, 0): "PUBLISHED", (1, 1): "DRAFT", (2, 0): "PUBLISHED", (2, 1): "PUBLISHED", (3, 0): "DRAFT"},
)


def _refusal(call: object, *args: object) -> str:
    with pytest.raises(ValidationException) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value.message


def test_recommended_is_the_highest_published_version() -> None:
    assert VERSIONS.recommended == (2, 1)
    assert VERSIONS.recommended_minor(1) == 0
    assert VERSIONS.recommended_minor(3) is None


def test_create_target() -> None:
    assert create_target(VERSIONS, "2", None) == (2, 1)
    assert create_target(VERSIONS, "1", "0") == (1, 0)
    assert (
        _refusal(create_target, VERSIONS, "1", "1")
        == "Version 1.1 of service template api is DRAFT, not PUBLISHED."
    )
    assert (
        _refusal(create_target, VERSIONS, "4", "0") == "Version 4.0 of service template api does not exist."
    )
    assert (
        _refusal(create_target, VERSIONS, "3", None)
        == "Major version 3 of service template api has no published minor version."
    )


def test_update_target() -> None:
    assert update_target(VERSIONS, "CURRENT_VERSION", (1, 1), None, None) == (1, 1)
    assert update_target(VERSIONS, "MINOR_VERSION", (2, 0), None, None) == (2, 1)
    assert update_target(VERSIONS, "MAJOR_VERSION", (1, 0), None, None) == (2, 1)
    assert update_target(VERSIONS, "MAJOR_VERSION", (1, 0), "2", "0") == (2, 0)
    assert _refusal(update_target, VERSIONS, "CURRENT_VERSION", (1, 0), "2", None) == (
        "A CURRENT_VERSION update cannot change the template version; use MINOR_VERSION or MAJOR_VERSION."
    )
    assert _refusal(update_target, VERSIONS, "CURRENT_VERSION", (1, 5), None, None) == (
        "Version 1.5 of service template api no longer exists."
    )
    assert _refusal(update_target, VERSIONS, "MINOR_VERSION", (1, 0), "2", None) == (
        "A MINOR_VERSION update stays in major version 1; use MAJOR_VERSION to move to major version 2."
    )
    assert _refusal(update_target, VERSIONS, "MAJOR_VERSION", (2, 0), "2", None) == (
        "A MAJOR_VERSION update must move to a major version higher than 2."
    )
    empty = VersionSet("environment template", "vpc", {(1, 0): "DRAFT"})
    assert _refusal(update_target, empty, "MAJOR_VERSION", (1, 0), None, None) == (
        "Environment template vpc has no published version."
    )


@pytest.mark.parametrize(
    ("running", "best", "status"),
    [
        ((2, 1), (2, 1), UP_TO_DATE),
        ((3, 0), (2, 1), UP_TO_DATE),
        ((2, 2), (2, 1), UP_TO_DATE),
        ((2, 0), (2, 1), BEHIND_MINOR),
        ((1, 9), (2, 1), BEHIND_MAJOR),
        ((1, 0), None, None),
    ],
)
def test_version_status(running: tuple[int, int], best: tuple[int, int] | None, status: str | None) -> None:
    assert version_status(running, best) == status
