"""Deployment statuses and the rules over them (reference §5.1, §5.3).

Invariants: a resource has at most one deployment in flight; only IN_PROGRESS deployments can be
cancelled; NONE updates never deploy; the update response shows the old version until success.
"""

from __future__ import annotations

IN_PROGRESS = "IN_PROGRESS"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
DELETE_FAILED = "DELETE_FAILED"
DELETE_COMPLETE = "DELETE_COMPLETE"
CANCELLING = "CANCELLING"
CANCELLED = "CANCELLED"

BUSY = frozenset({IN_PROGRESS, CANCELLING, DELETE_IN_PROGRESS})
FINAL = frozenset({SUCCEEDED, FAILED, CANCELLED, DELETE_COMPLETE, DELETE_FAILED})
#: A resource in one of these statuses is on its way out: a pipeline deploys without such instances, and
#: a service's spec no longer lists them.
LEAVING = frozenset({DELETE_IN_PROGRESS, DELETE_COMPLETE, DELETE_FAILED})
CANCEL_MESSAGE = "User initiated cancellation."

CREATE = "CREATE"
UPDATE = "UPDATE"
DELETE = "DELETE"

NONE = "NONE"
CURRENT_VERSION = "CURRENT_VERSION"
MINOR_VERSION = "MINOR_VERSION"
MAJOR_VERSION = "MAJOR_VERSION"
