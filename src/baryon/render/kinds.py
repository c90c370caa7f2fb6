"""The four kinds of deployed resource, and the parts of a rendering namespace the input files share.

Kinds are written ``environment``, ``service_instance``, ``service_pipeline`` and ``component``; the
engine's target types (``ENVIRONMENT``, ``SERVICE_INSTANCE``, ``SERVICE_PIPELINE``, ``COMPONENT``)
are accepted too and mean the same.

The namespace helpers read a mapping built by `baryon.render.context` (``environment_context``,
``service_instance_context``, ``pipeline_context``, ``component_context``) and return fresh plain
data; they never mutate it.

Invariants: `normalise_kind` returns one of `KINDS` or raises `ValueError`; a missing part of the
namespace is a `ValueError` naming the kind and the missing path (a programming error, not an
author's).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

ENVIRONMENT = "environment"
SERVICE_INSTANCE = "service_instance"
SERVICE_PIPELINE = "service_pipeline"
COMPONENT = "component"
KINDS = (ENVIRONMENT, SERVICE_INSTANCE, SERVICE_PIPELINE, COMPONENT)

#: Repository keys of the ``service`` namespace, present only when the service has a repository.
REPOSITORY_KEYS = ("repository_connection_arn", "repository_id", "branch_name")


def normalise_kind(kind: str) -> str:
    """The kind in lower case; ValueError for anything that is not one of the four kinds."""
    lowered = kind.lower() if isinstance(kind, str) else kind
    if lowered not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return str(lowered)


def part(namespace: Mapping[str, Any], kind: str, *path: str) -> Any:
    """``namespace[path[0]][path[1]]…``, or ValueError naming the missing path."""
    value: Any = namespace
    for depth, key in enumerate(path):
        if not isinstance(value, Mapping) or key not in value:
            where = ".".join(path[: depth + 1])
            raise ValueError(f"the {kind} rendering namespace has no {where}")
        value = value[key]
    return value


def plain(value: Any) -> Any:
    """A deep copy of ``value`` as plain dicts and lists (placeholders and subclasses dropped)."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return copy.deepcopy(value)


def repository_keys(service: Mapping[str, Any]) -> list[str]:
    """The repository keys the ``service`` namespace holds, in `REPOSITORY_KEYS` order."""
    return [key for key in REPOSITORY_KEYS if service.get(key) is not None]


def environment_values(environment: Mapping[str, Any]) -> dict[str, Any]:
    """The ``environment`` an input file carries: its account, name and outputs."""
    return {
        "account_id": environment["account_id"],
        "name": environment["name"],
        "outputs": plain(environment.get("outputs") or {}),
    }
