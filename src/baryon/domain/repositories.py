"""Names of linked repositories and of their branches.

Invariants: a repository name is `owner/name` with exactly one `/`, each part made of letters, digits,
`.`, `_` and `-` and neither part `.` or `..` (so it is a path on every git host and never escapes a
`file://` template); a branch name is one git accepts as a branch (`git check-ref-format --branch`).
"""

from __future__ import annotations

import re

_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_BAD_BRANCH = re.compile(r"(\.\.|@\{|//|[\x00-\x20\x7f~^:?*\[\\])")


def repository_name_problem(name: str) -> str | None:
    """Why `name` is not a usable repository name, or None."""
    if not _REPOSITORY.match(name) or any(part in (".", "..") for part in name.split("/")):
        return (
            f"The repository name {name} must be owner/name, each part made of letters, digits, "
            "'.', '_' and '-'."
        )
    return None


def branch_name_problem(branch: str) -> str | None:
    """Why `branch` is not a usable git branch name, or None."""
    parts = branch.split("/")
    if (
        _BAD_BRANCH.search(branch)
        or branch == "@"
        or branch.startswith(("-", "/"))
        or branch.endswith(("/", ".", ".lock"))
        or any(part.startswith(".") or part.endswith(".lock") for part in parts)
    ):
        return f"The branch name {branch} is not a valid git branch name."
    return None
