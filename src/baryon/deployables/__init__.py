"""The four deployable kinds — environment, service instance, service pipeline, component — behind one
registry that every layer uses (handlers, notifications, tagging, the deployment job).

- `kinds`: `Kind` (the kind's table, ARN, names, labels), `Target` (one named resource of an account and
  region), `KINDS`, `from_arn`, `of_record`.
- `lookup`: `find`, `require`, `find_by_arn`, `scoped` (row queries, one per kind), `where`.
- `lifecycle`: `deployment_members`, `version_members`, the busy guard (`busy`, `refuse_busy`,
  `busy_message`), `Start`, `start`, `create` (insert and start), `version_columns`, `cancel`,
  `outputs`, `provisioned_resources`, `update_row`.
- `wire`: the wire form of a deployment's stored states and the warnings they carry.

Invariants: this package uses only `store`, `domain`, `protocol` and `contract`; it never imports the
engine or the API, which both import it. What differs per kind (its own columns, specs, checks) stays in
the kind's handler module.
"""

from __future__ import annotations

from baryon.deployables.kinds import (
    COMPONENT,
    ENVIRONMENT,
    KINDS,
    SERVICE_INSTANCE,
    SERVICE_PIPELINE,
    STATE_MEMBER,
    Kind,
    Names,
    Target,
    from_arn,
    of_record,
)
from baryon.deployables.lifecycle import (
    Start,
    busy,
    busy_message,
    cancel,
    create,
    deployment_members,
    needs_spec_message,
    outputs,
    provisioned_resources,
    refuse_busy,
    refuse_needs_spec,
    start,
    update_row,
    version_columns,
    version_members,
)
from baryon.deployables.lookup import find, find_by_arn, not_found, require, scoped, where

__all__ = [
    "COMPONENT",
    "ENVIRONMENT",
    "KINDS",
    "SERVICE_INSTANCE",
    "SERVICE_PIPELINE",
    "STATE_MEMBER",
    "Kind",
    "Names",
    "Start",
    "Target",
    "busy",
    "busy_message",
    "cancel",
    "create",
    "deployment_members",
    "find",
    "find_by_arn",
    "from_arn",
    "needs_spec_message",
    "not_found",
    "of_record",
    "outputs",
    "provisioned_resources",
    "refuse_busy",
    "refuse_needs_spec",
    "require",
    "scoped",
    "start",
    "update_row",
    "version_columns",
    "version_members",
    "where",
]
