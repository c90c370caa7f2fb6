"""What syncing from git did: followed heads, repository sync attempts, resource sync attempts and states.

This is the store API every kind of sync records through (template sync per template major, service sync
per service instance, pipeline and whole service):

- `SyncTarget(account_id, region, sync_type, key)` names one thing a sync acts on. `key` is the sync kind's
  own stable string (template sync uses `<TEMPLATE_TYPE>/<template name>/<major>`; service sync
  `<service>/INSTANCE/<instance>`, `<service>/PIPELINE` and `<service>/SERVICE`); `target` (what the wire's
  `ResourceSyncAttempt.target` shows) is given per attempt.
- `start_attempt(connection, target, target_name, initial, revision, now)` opens a `ResourceSyncAttempt`
  (status INITIATED → use `add_event`, then `finish_attempt(..., SUCCEEDED | FAILED)`). `record_attempt`
  writes a whole attempt in one call; it does not write an attempt identical to the latest one of its
  target (same commit, status and event types and texts), and replaces a waiting (INITIATED) latest
  attempt of the same commit.
- An attempt may name the deployment it started (`deployment_id`, given to `record_attempt` with status
  IN_PROGRESS): while it is IN_PROGRESS, what a reader sees is that deployment's outcome, computed when
  read: SUCCEEDED, or FAILED for a failed or cancelled deployment, with a `DEPLOYMENT_<status>` event
  appended (the deployment's id as `externalId`). Such an attempt counts as successful when its deployment
  succeeded.
- `latest(connection, target, *more)` and `latest(..., succeeded=True)` answer the `latestSync` /
  `latestSuccessfulSync` of a Get*SyncStatus operation (the newest attempt of any of the targets named),
  in wire shape (`ResourceSyncAttempt.wire()`).
- `set_desired` / `desired` keep the `desiredState` Revision of a target; `set_state` / `state` keep a small
  JSON document the sync kind owns (template sync: the digest and minor version of the last synced content;
  service sync: the digest of the block it last applied).
- `repository_attempt_*` record the `RepositorySyncAttempt` of (repository, branch, sync type): one per
  look at a branch that found something to do, with its events (CLONE_STARTED, CONFIG_UPDATED,
  STARTING_SYNC, ...).
- `last_synced` / `set_last_synced` / `forget_head` keep the last commit of a branch one sync kind acted on.
- `forget_targets(connection, account_id, region, sync_type, key_prefix)` deletes the attempts and states
  of every target whose key starts with the prefix (the resource they belong to was deleted).

Invariants: every record is scoped by account and region; events are kept in the order they were added;
"latest" means the most recently started attempt (the highest id; `record_attempt` deletes only the newest
attempt of its target, which it replaces at once); `initial` defaults to the target revision of the
newest attempt that succeeded or started a deployment. Deleting a sync config deletes nothing here
(status stays readable, as in Proton); `forget_head` is called when a config names a branch, and
`forget_targets` in the transaction that deletes the resource the targets belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.domain import deployments as deployment_status
from baryon.store.schema import (
    deployments,
    repository_sync_attempts,
    resource_sync_attempts,
    resource_sync_states,
    sync_heads,
)

#: `SyncType` values.
TEMPLATE_SYNC = "TEMPLATE_SYNC"
SERVICE_SYNC = "SERVICE_SYNC"

#: ResourceSyncStatus / RepositorySyncStatus values.
INITIATED = "INITIATED"
IN_PROGRESS = "IN_PROGRESS"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
QUEUED = "QUEUED"

A = resource_sync_attempts.c
RA = repository_sync_attempts.c
S = resource_sync_states.c
H = sync_heads.c
D = deployments.c

#: What an IN_PROGRESS attempt that started a deployment shows once the deployment has ended.
_OUTCOME = {
    deployment_status.SUCCEEDED: SUCCEEDED,
    deployment_status.FAILED: FAILED,
    deployment_status.CANCELLED: FAILED,
}


@dataclass(frozen=True)
class Revision:
    """A commit of a directory (or file) of a branch (the model's `Revision`)."""

    repository_name: str
    repository_provider: str
    branch: str
    directory: str
    sha: str

    def wire(self) -> dict[str, str]:
        return {
            "repositoryName": self.repository_name,
            "repositoryProvider": self.repository_provider,
            "branch": self.branch,
            "directory": self.directory,
            "sha": self.sha,
        }

    @classmethod
    def from_wire(cls, value: dict[str, Any]) -> Revision:
        return cls(
            value["repositoryName"],
            value["repositoryProvider"],
            value["branch"],
            value["directory"],
            value["sha"],
        )

    @classmethod
    def loads(cls, text: str) -> Revision:
        return cls.from_wire(orjson.loads(text))

    def dumps(self) -> str:
        return orjson.dumps(self.wire()).decode()


@dataclass(frozen=True)
class SyncTarget:
    account_id: str
    region: str
    sync_type: str
    key: str


@dataclass(frozen=True)
class Event:
    """A `ResourceSyncEvent` or `RepositorySyncEvent`."""

    type: str
    event: str
    time: float
    external_id: str | None = None

    def wire(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"type": self.type, "event": self.event, "time": self.time}
        if self.external_id is not None:
            shape["externalId"] = self.external_id
        return shape


@dataclass(frozen=True)
class ResourceSyncAttempt:
    id: int
    target: str
    status: str
    started_at: float
    initial_revision: Revision
    target_revision: Revision
    events: list[Event]

    def wire(self) -> dict[str, Any]:
        return {
            "events": [event.wire() for event in self.events],
            "initialRevision": self.initial_revision.wire(),
            "startedAt": self.started_at,
            "status": self.status,
            "target": self.target,
            "targetRevision": self.target_revision.wire(),
        }


def _events(text: str) -> list[Event]:
    return [
        Event(item["type"], item["event"], float(item["time"]), item.get("externalId"))
        for item in orjson.loads(text)
    ]


def _dump_events(events: list[Event]) -> str:
    return orjson.dumps([event.wire() for event in events]).decode()


def _append_event(
    connection: Connection, table: sa.Table, attempt_id: int, event: Event, status: str | None
) -> None:
    """Append `event` to an attempt of `table` (and move it to `status` when given)."""
    row = connection.execute(sa.select(table.c.events).where(table.c.id == attempt_id)).one()
    values: dict[str, Any] = {"events": _dump_events([*_events(row.events), event])}
    if status is not None:
        values["status"] = status
    connection.execute(sa.update(table).where(table.c.id == attempt_id).values(**values))


def _target_where(columns: Any, target: SyncTarget) -> Any:
    return sa.and_(
        columns.account_id == target.account_id,
        columns.region == target.region,
        columns.sync_type == target.sync_type,
        columns.target_key == target.key,
    )


# -- resource sync attempts -------------------------------------------------------------------------------


def _last_applied(connection: Connection, target: SyncTarget) -> Revision | None:
    """The target revision of the newest attempt that succeeded or started a deployment."""
    row = connection.execute(
        sa.select(A.target_revision)
        .where(_target_where(A, target), sa.or_(A.status == SUCCEEDED, A.deployment_id.is_not(None)))
        .order_by(A.id.desc())
        .limit(1)
    ).first()
    return None if row is None else Revision.loads(row.target_revision)


def start_attempt(
    connection: Connection,
    target: SyncTarget,
    target_name: str,
    initial: Revision | None,
    revision: Revision,
    now: float,
    events: list[Event] | None = None,
    *,
    status: str = INITIATED,
    deployment_id: str | None = None,
) -> int:
    """Open an attempt (INITIATED unless told); `initial` defaults to the target revision of the newest
    attempt that succeeded or started a deployment, or to `revision` itself when there is none. Returns
    the attempt's id."""
    if initial is None:
        initial = _last_applied(connection, target) or revision
    result = connection.execute(
        sa.insert(resource_sync_attempts).values(
            account_id=target.account_id,
            region=target.region,
            sync_type=target.sync_type,
            target_key=target.key,
            target=target_name,
            status=status,
            started_at=now,
            initial_revision=initial.dumps(),
            target_revision=revision.dumps(),
            events=_dump_events(events or []),
            deployment_id=deployment_id,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def add_event(connection: Connection, attempt_id: int, event: Event, status: str | None = None) -> None:
    """Append `event` to an attempt (and move it to `status` when given)."""
    _append_event(connection, resource_sync_attempts, attempt_id, event, status)


def finish_attempt(connection: Connection, attempt_id: int, status: str, event: Event | None = None) -> None:
    if event is not None:
        add_event(connection, attempt_id, event, status)
    else:
        connection.execute(sa.update(resource_sync_attempts).where(A.id == attempt_id).values(status=status))


def record_attempt(
    connection: Connection,
    target: SyncTarget,
    target_name: str,
    revision: Revision,
    status: str,
    events: list[Event],
    now: float,
    initial: Revision | None = None,
    deployment_id: str | None = None,
) -> None:
    """Record a whole attempt at once (see the module docstring for the ones not written again)."""
    newest = connection.execute(
        sa.select(A.id, A.status, A.target_revision, A.events)
        .where(_target_where(A, target))
        .order_by(A.id.desc())
        .limit(1)
    ).first()
    if newest is not None and Revision.loads(newest.target_revision).sha == revision.sha:
        before = [(event.type, event.event) for event in _events(newest.events)]
        if newest.status == status and before == [(event.type, event.event) for event in events]:
            return
        if newest.status == INITIATED:
            connection.execute(sa.delete(resource_sync_attempts).where(A.id == newest.id))
    start_attempt(
        connection,
        target,
        target_name,
        initial,
        revision,
        now,
        events,
        status=status,
        deployment_id=deployment_id,
    )


_ATTEMPTS = sa.select(
    resource_sync_attempts,
    D.deployment_status.label("deployment_status"),
    D.deployment_status_message.label("deployment_message"),
    D.completed_at.label("deployment_completed_at"),
).select_from(resource_sync_attempts.outerjoin(deployments, D.id == A.deployment_id))


def _attempt(row: Row[Any]) -> ResourceSyncAttempt:
    """An attempt row read with its deployment, as a reader sees it."""
    status, events = str(row.status), _events(row.events)
    outcome = _OUTCOME.get(row.deployment_status) if row.deployment_id is not None else None
    if status == IN_PROGRESS and outcome is not None:
        status = outcome
        message = f"Deployment {row.deployment_id} ended {row.deployment_status}"
        if row.deployment_message:
            message += f": {row.deployment_message}"
        events.append(
            Event(
                f"DEPLOYMENT_{row.deployment_status}",
                message,
                row.deployment_completed_at,
                row.deployment_id,
            )
        )
    return ResourceSyncAttempt(
        id=row.id,
        target=row.target,
        status=status,
        started_at=row.started_at,
        initial_revision=Revision.loads(row.initial_revision),
        target_revision=Revision.loads(row.target_revision),
        events=events,
    )


def latest(
    connection: Connection, target: SyncTarget, *more: SyncTarget, succeeded: bool = False
) -> ResourceSyncAttempt | None:
    """The newest attempt of `target` or of any of `more` (with `succeeded`, the newest successful one)."""
    query = _ATTEMPTS.where(sa.or_(*(_target_where(A, each) for each in (target, *more))))
    if succeeded:
        query = query.where(
            sa.or_(
                A.status == SUCCEEDED,
                sa.and_(A.status == IN_PROGRESS, D.deployment_status == deployment_status.SUCCEEDED),
            )
        )
    row = connection.execute(query.order_by(A.id.desc()).limit(1)).first()
    return None if row is None else _attempt(row)


# -- per-target state -------------------------------------------------------------------------------------


def _upsert_state(connection: Connection, target: SyncTarget, values: dict[str, Any], now: float) -> None:
    count = connection.execute(
        sa.update(resource_sync_states).where(_target_where(S, target)).values(updated_at=now, **values)
    ).rowcount
    if not count:
        connection.execute(
            sa.insert(resource_sync_states).values(
                account_id=target.account_id,
                region=target.region,
                sync_type=target.sync_type,
                target_key=target.key,
                updated_at=now,
                **values,
            )
        )


def _state_row(connection: Connection, target: SyncTarget) -> Any:
    return connection.execute(sa.select(S.desired_revision, S.state).where(_target_where(S, target))).first()


def set_desired(connection: Connection, target: SyncTarget, revision: Revision, now: float) -> None:
    _upsert_state(connection, target, {"desired_revision": revision.dumps()}, now)


def desired(connection: Connection, target: SyncTarget) -> Revision | None:
    row = _state_row(connection, target)
    if row is None or row.desired_revision is None:
        return None
    return Revision.loads(row.desired_revision)


def set_state(connection: Connection, target: SyncTarget, document: dict[str, Any], now: float) -> None:
    _upsert_state(connection, target, {"state": orjson.dumps(document).decode()}, now)


def state(connection: Connection, target: SyncTarget) -> dict[str, Any]:
    row = _state_row(connection, target)
    if row is None or row.state is None:
        return {}
    document: dict[str, Any] = orjson.loads(row.state)
    return document


def forget_targets(
    connection: Connection, account_id: str, region: str, sync_type: str, key_prefix: str
) -> None:
    """Delete the attempts and states of every target of a sync type whose key starts with `key_prefix`."""
    for table in (resource_sync_attempts, resource_sync_states):
        connection.execute(
            sa.delete(table).where(
                table.c.account_id == account_id,
                table.c.region == region,
                table.c.sync_type == sync_type,
                table.c.target_key.startswith(key_prefix, autoescape=True),
            )
        )


# -- repository sync attempts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BranchKey:
    """(account, region, provider, repository, branch, sync type): whose RepositorySyncAttempt it is."""

    account_id: str
    region: str
    provider: str
    repository: str
    branch: str
    sync_type: str

    def values(self) -> dict[str, str]:
        return {
            "account_id": self.account_id,
            "region": self.region,
            "provider": self.provider,
            "repository": self.repository,
            "branch": self.branch,
            "sync_type": self.sync_type,
        }


def _branch_where(key: BranchKey, columns: Any) -> Any:
    return sa.and_(*(getattr(columns, name) == value for name, value in key.values().items()))


def repository_attempt_start(connection: Connection, key: BranchKey, now: float, events: list[Event]) -> int:
    result = connection.execute(
        sa.insert(repository_sync_attempts).values(
            **key.values(), status=IN_PROGRESS, started_at=now, events=_dump_events(events)
        )
    )
    inserted = result.inserted_primary_key
    assert inserted is not None
    return int(inserted[0])


def repository_attempt_event(
    connection: Connection, attempt_id: int, event: Event, status: str | None = None
) -> None:
    _append_event(connection, repository_sync_attempts, attempt_id, event, status)


def repository_attempt_latest(connection: Connection, key: BranchKey) -> dict[str, Any] | None:
    """The latest RepositorySyncAttempt in wire shape, or None."""
    row = connection.execute(
        sa.select(repository_sync_attempts).where(_branch_where(key, RA)).order_by(RA.id.desc()).limit(1)
    ).first()
    if row is None:
        return None
    return {
        "events": [event.wire() for event in _events(row.events)],
        "startedAt": row.started_at,
        "status": row.status,
    }


# -- followed heads ---------------------------------------------------------------------------------------


def last_synced(connection: Connection, key: BranchKey) -> str | None:
    row = connection.execute(sa.select(H.sha).where(_branch_where(key, H))).first()
    return None if row is None else str(row.sha)


def set_last_synced(connection: Connection, key: BranchKey, sha: str, now: float) -> None:
    count = connection.execute(
        sa.update(sync_heads).where(_branch_where(key, H)).values(sha=sha, updated_at=now)
    ).rowcount
    if not count:
        connection.execute(sa.insert(sync_heads).values(**key.values(), sha=sha, updated_at=now))


def forget_head(connection: Connection, key: BranchKey) -> None:
    """Make the next look at the branch sync its head again (a sync config of the branch changed)."""
    connection.execute(sa.delete(sync_heads).where(_branch_where(key, H)))
