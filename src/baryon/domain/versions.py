"""Template version numbers and the recommended-version rules of the reference §1.4.

Invariants: majors start at 1 and minors at 0; numbers are never reused after deletion; the recommended
version is the highest PUBLISHED major.minor, and a major's recommended minor is its highest PUBLISHED minor.
"""

from __future__ import annotations

from collections.abc import Iterable

REGISTRATION_IN_PROGRESS = "REGISTRATION_IN_PROGRESS"
REGISTRATION_FAILED = "REGISTRATION_FAILED"
DRAFT = "DRAFT"
PUBLISHED = "PUBLISHED"


def parse_part(value: str) -> int:
    """A validated TemplateVersionPart ("0" or no leading zero) as an int."""
    return int(value)


def recommended(versions: Iterable[tuple[int, int, str]]) -> tuple[int, int] | None:
    """Highest PUBLISHED (major, minor) among (major, minor, status) triples."""
    published = [(major, minor) for major, minor, status in versions if status == PUBLISHED]
    return max(published) if published else None


def recommended_minor(versions: Iterable[tuple[int, int, str]], major: int) -> int | None:
    minors = [m for mj, m, status in versions if mj == major and status == PUBLISHED]
    return max(minors) if minors else None


def format_version(major: int, minor: int) -> str:
    return f"{major}.{minor}"
