"""The table of implemented operations.

Invariants: each handler is registered once under the exact model operation name; `write` handlers run in
one write transaction together with their idempotency record and the jobs they create; read handlers get
a read-only connection. Handlers return the wire shape of the operation's output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from baryon.contract.model import operation_names
from baryon.runtime import Runtime

Params = dict[str, Any]


@dataclass
class Context:
    """What a handler knows about its request."""

    runtime: Runtime
    account_id: str
    region: str
    principal: str
    request_id: str
    operation: str
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    @property
    def now(self) -> float:
        return self.runtime.clock.now()


Handler = Callable[[Context, Params, Connection], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    name: str
    handler: Handler
    write: bool


OPERATIONS: dict[str, Operation] = {}


def operation(name: str, *, write: bool) -> Callable[[Handler], Handler]:
    if name not in operation_names():
        raise ValueError(f"{name} is not an operation of the Proton model")

    def register(handler: Handler) -> Handler:
        if name in OPERATIONS:
            raise ValueError(f"{name} is registered twice")
        OPERATIONS[name] = Operation(name, handler, write)
        return handler

    return register


def load_all() -> dict[str, Operation]:
    """Import every handler module so that all operations are registered."""
    from baryon.api import (  # noqa: F401
        account,
        account_connections,
        components,
        deployable_operations,
        deployments,
        environments,
        notify,
        repositories,
        service_instances,
        service_pipelines,
        service_sync,
        services,
        summary,
        tags,
        template_sync,
        template_versions,
        templates,
    )

    return OPERATIONS
