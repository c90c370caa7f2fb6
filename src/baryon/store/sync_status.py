"""What syncing from git did: followed heads, repository sync attempts, resource sync attempts and states.

This is the store API every kind of sync records through (template sync per template major, service sync
per service instance):

- `SyncTarget(account_id, region, sync_type, key)` names one thing a sync acts on. `key` is the sync kind's
  own stable string (template sync uses `<TEMPLATE_TYPE>/<template name>/<major>`; service sync may use
  `<service>/<instance>`); `target` (what the wire's `ResourceSyncAttempt.target` shows) is given per attempt.
- `start_attempt(connection, target, target_name, initial, revision, now)` opens a `ResourceSyncAttempt`
  (status INITIATED → use `add_event`, then `finish_attempt(..., SUCCEEDED | FAILED)`); `record_attempt`
  does the three in one call. `latest(connection, target)` and `latest(connection, target, succeeded=True)`
  answer the `latestSync` / `latestSuccessfulSync` of a Get*SyncStatus operation, in wire shape
  (`ResourceSyncAttempt.wire()`).
- `set_desired` / `desired` keep the `desiredState` Revision of a target; `set_state` / `state` keep a small
  JSON document the sync kind owns (template sync: the digest and minor version of the last synced content).
- `repository_attempt_*` record the `RepositorySyncAttempt` of (repository, branch, sync type): one per
  look at a branch that found something to do, with its events (CLONE_STARTED, CONFIG_UPDATED,
  STARTING_SYNC, ...).
- `last_synced` / `set_last_synced` / `forget_head` keep the last commit of a branch one sync kind acted on.

Invariants: every record is scoped by account and region; events are kept in the order they were added;
"latest" means the most recently started attempt (the highest id, ids only grow); nothing here is deleted
when a sync config is deleted (status stays readable, as in Proton), except by `forget_head`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.store.schema import (
    repository_sync_attempts,
    resource_sync_attempts,
    resource_sync_states,
    sync_heads,
)

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


@dataclass(frozen=True)
class Revision:
    """A commit of a directory of a branch (the model's `Revision`)."""

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


@dataclass(frozen=True)
class SyncTarget:
    account_id: str
    region: str
    sync_type: str
    key: str


@dataclass(frozen=True)
class Event:
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


def _scope(target: SyncTarget) -> Any:
    return sa.and_(
        A.account_id == target.account_id,
        A.region == target.region,
        A.sync_type == target.sync_type,
        A.target_key == target.key,
    )


# -- resource sync attempts -------------------------------------------------------------------------------


def start_attempt(
    connection: Connection,
    target: SyncTarget,
    target_name: str,
    initial: Revision | None,
    revision: Revision,
    now: float,
    events: list[Event] | None = None,
) -> int:
    """Open an INITIATED attempt; `initial` defaults to the latest successful attempt's target revision, or
    to `revision` itself when there is none. Returns the attempt's id."""
    if initial is None:
        previous = latest(connection, target, succeeded=True)
        initial = previous.target_revision if previous is not None else revision
    result = connection.execute(
        sa.insert(resource_sync_attempts).values(
            account_id=target.account_id,
            region=target.region,
            sync_type=target.sync_type,
            target_key=target.key,
            target=target_name,
            status=INITIATED,
            started_at=now,
            initial_revision=orjson.dumps(initial.wire()).decode(),
            target_revision=orjson.dumps(revision.wire()).decode(),
            events=_dump_events(events or []),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def add_event(connection: Connection, attempt_id: int, event: Event, status: str | None = None) -> None:
    """Append `event` to an attempt (and move it to `status` when given)."""
    row = connection.execute(sa.select(A.events).where(A.id == attempt_id)).one()
    values: dict[str, Any] = {"events": _dump_events([*_events(row.events), event])}
    if status is not None:
        values["status"] = status
    connection.execute(sa.update(resource_sync_attempts).where(A.id == attempt_id).values(**values))


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
) -> int:
    """Record a whole attempt at once (start, events, final status)."""
    attempt = start_attempt(connection, target, target_name, initial, revision, now, events)
    finish_attempt(connection, attempt, status)
    return attempt


def latest(
    connection: Connection, target: SyncTarget, *, succeeded: bool = False
) -> ResourceSyncAttempt | None:
    query = sa.select(resource_sync_attempts).where(_scope(target))
    if succeeded:
        query = query.where(A.status == SUCCEEDED)
    row = connection.execute(query.order_by(A.id.desc()).limit(1)).first()
    if row is None:
        return None
    return ResourceSyncAttempt(
        id=row.id,
        target=row.target,
        status=row.status,
        started_at=row.started_at,
        initial_revision=Revision.from_wire(orjson.loads(row.initial_revision)),
        target_revision=Revision.from_wire(orjson.loads(row.target_revision)),
        events=_events(row.events),
    )


# -- per-target state -------------------------------------------------------------------------------------


def _state_key(target: SyncTarget) -> dict[str, str]:
    return {
        "account_id": target.account_id,
        "region": target.region,
        "sync_type": target.sync_type,
        "target_key": target.key,
    }


def _upsert_state(connection: Connection, target: SyncTarget, values: dict[str, Any], now: float) -> None:
    where = sa.and_(*(getattr(S, name) == value for name, value in _state_key(target).items()))
    count = connection.execute(
        sa.update(resource_sync_states).where(where).values(updated_at=now, **values)
    ).rowcount
    if not count:
        connection.execute(
            sa.insert(resource_sync_states).values(**_state_key(target), updated_at=now, **values)
        )


def _state_row(connection: Connection, target: SyncTarget) -> Any:
    where = sa.and_(*(getattr(S, name) == value for name, value in _state_key(target).items()))
    return connection.execute(sa.select(S.desired_revision, S.state).where(where)).first()


def set_desired(connection: Connection, target: SyncTarget, revision: Revision, now: float) -> None:
    _upsert_state(connection, target, {"desired_revision": orjson.dumps(revision.wire()).decode()}, now)


def desired(connection: Connection, target: SyncTarget) -> Revision | None:
    row = _state_row(connection, target)
    if row is None or row.desired_revision is None:
        return None
    return Revision.from_wire(orjson.loads(row.desired_revision))


def set_state(connection: Connection, target: SyncTarget, document: dict[str, Any], now: float) -> None:
    _upsert_state(connection, target, {"state": orjson.dumps(document).decode()}, now)


def state(connection: Connection, target: SyncTarget) -> dict[str, Any]:
    row = _state_row(connection, target)
    if row is None or row.state is None:
        return {}
    document: dict[str, Any] = orjson.loads(row.state)
    return document


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


def _branch_where(key: BranchKey, columns: Any) -> Any:
    return sa.and_(
        columns.account_id == key.account_id,
        columns.region == key.region,
        columns.provider == key.provider,
        columns.repository == key.repository,
        columns.branch == key.branch,
        columns.sync_type == key.sync_type,
    )


def repository_attempt_start(connection: Connection, key: BranchKey, now: float, events: list[Event]) -> int:
    result = connection.execute(
        sa.insert(repository_sync_attempts).values(
            account_id=key.account_id,
            region=key.region,
            provider=key.provider,
            repository=key.repository,
            branch=key.branch,
            sync_type=key.sync_type,
            status=IN_PROGRESS,
            started_at=now,
            events=_dump_events(events),
        )
    )
    inserted = result.inserted_primary_key
    assert inserted is not None
    return int(inserted[0])


def repository_attempt_event(
    connection: Connection, attempt_id: int, event: Event, status: str | None = None
) -> None:
    row = connection.execute(sa.select(RA.events).where(RA.id == attempt_id)).one()
    values: dict[str, Any] = {"events": _dump_events([*_events(row.events), event])}
    if status is not None:
        values["status"] = status
    connection.execute(sa.update(repository_sync_attempts).where(RA.id == attempt_id).values(**values))


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
        connection.execute(
            sa.insert(sync_heads).values(
                account_id=key.account_id,
                region=key.region,
                provider=key.provider,
                repository=key.repository,
                branch=key.branch,
                sync_type=key.sync_type,
                sha=sha,
                updated_at=now,
            )
        )


def forget_head(connection: Connection, key: BranchKey) -> None:
    """Make the next look at the branch sync its head again (a sync config of the branch changed)."""
    connection.execute(sa.delete(sync_heads).where(_branch_where(key, H)))
