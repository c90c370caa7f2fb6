"""The two template kinds and the words and wire names that differ between them.

Invariants: ENVIRONMENT and SERVICE templates share one table and one set of handlers; everything that
differs on the wire (member names, labels, ARN prefixes) is looked up here. An operation that exists
for both kinds is one handler taking the kind, registered once per kind (`register_per_kind`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from baryon.api.registry import Context, Handler, Params, operation


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    template_member: str
    version_member: str
    provisioning_member: str


ENVIRONMENT = Kind(
    "ENVIRONMENT", "environment template", "environmentTemplate", "environmentTemplateVersion", "provisioning"
)
SERVICE = Kind(
    "SERVICE", "service template", "serviceTemplate", "serviceTemplateVersion", "pipelineProvisioning"
)

KINDS = (ENVIRONMENT, SERVICE)

KindHandler = Callable[[Context, Kind, Params, Connection], dict[str, Any]]


def _for_kind(handler: KindHandler, kind: Kind) -> Handler:
    def handle(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
        return handler(ctx, kind, params, connection)

    return handle


def register_per_kind(
    noun: str,
    create: KindHandler,
    get: KindHandler,
    update: KindHandler,
    delete: KindHandler,
    list_: KindHandler,
) -> None:
    """Registers the five operations on `noun` (Create, Get, Update, Delete: `Create{Kind}{noun}`; List:
    `List{Kind}{noun}s`) for both kinds, each handler taking the kind."""
    verbs = (
        ("Create", create, True),
        ("Get", get, False),
        ("Update", update, True),
        ("Delete", delete, True),
    )
    for kind in KINDS:
        prefix = kind.name.title()
        for verb, handler, write in verbs:
            operation(f"{verb}{prefix}{noun}", write=write)(_for_kind(handler, kind))
        operation(f"List{prefix}{noun}s", write=False)(_for_kind(list_, kind))
