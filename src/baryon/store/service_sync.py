"""Service sync records: a service's sync config, its sync blockers, what the sync last applied to each
instance and to the pipeline, and its sync attempts (reference §1.10, §6.2).

Invariants:
- Every row belongs to one service and goes with it (ON DELETE CASCADE); deleting a config keeps the
  blockers, the applied state and the attempts.
- At most one config per service; at most one ACTIVE blocker per (service, instance) and one per service
  (instance NULL): opening a second one while one is active does nothing.
- `applied_digest` is written in the transaction that starts the deployment of that block, so a sync that
  runs again for the same commit finds it and deploys nothing; a change made by hand clears it, so the
  next sync compares the spec file with what the resource was really given.
- An attempt that started a deployment is IN_PROGRESS in its row; what a reader sees is the deployment's
  outcome (SUCCEEDED, or FAILED for a failed or cancelled deployment), computed when read. An attempt
  identical to the latest one of its target (same commit, status and events) is not written again; a
  waiting (INITIATED) attempt is replaced by the next attempt of the same commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.domain.deployments import CANCELLED, FAILED, SUCCEEDED
from baryon.store.schema import (
    deployments,
    service_sync_attempts,
    service_sync_blockers,
    service_sync_configs,
    service_sync_states,
)

C = service_sync_configs.c
B = service_sync_blockers.c
ST = service_sync_states.c
A = service_sync_attempts.c
D = deployments.c

ACTIVE = "ACTIVE"
RESOLVED = "RESOLVED"
AUTOMATED = "AUTOMATED"

#: Targets of states and attempts.
SERVICE = "SERVICE"
INSTANCE = "INSTANCE"
PIPELINE = "PIPELINE"

#: `ResourceSyncStatus`.
INITIATED = "INITIATED"
IN_PROGRESS = "IN_PROGRESS"
SYNC_SUCCEEDED = "SUCCEEDED"
SYNC_FAILED = "FAILED"


# ------------------------------------------------------------------------------------------- configs


def find_config(connection: Connection, service_id: int) -> Row[Any] | None:
    return connection.execute(sa.select(service_sync_configs).where(C.service_id == service_id)).first()


def lock_config(connection: Connection, config_id: int) -> bool:
    """Lock a config's row for the caller's transaction (syncs of one service queue on it); False when it
    was deleted."""
    return (
        connection.execute(
            sa.select(C.id).where(C.id == config_id).with_for_update(of=service_sync_configs)
        ).first()
        is not None
    )


def all_configs(connection: Connection) -> list[Row[Any]]:
    """Every config of every account and region."""
    return list(connection.execute(sa.select(service_sync_configs).order_by(C.id)).all())


def configs_of_repository(
    connection: Connection, account_id: str, region: str, provider: str, repository: str
) -> list[Row[Any]]:
    """The configs of one account and region whose ops file lives in one linked repository."""
    return list(
        connection.execute(
            sa.select(service_sync_configs)
            .where(
                C.account_id == account_id,
                C.region == region,
                C.repository_provider == provider,
                C.repository_name == repository,
            )
            .order_by(C.service_name)
        ).all()
    )


def create_config(
    connection: Connection,
    *,
    service_id: int,
    account_id: str,
    region: str,
    service_name: str,
    provider: str,
    repository: str,
    branch: str,
    file_path: str,
    now: float,
) -> None:
    connection.execute(
        sa.insert(service_sync_configs).values(
            service_id=service_id,
            account_id=account_id,
            region=region,
            service_name=service_name,
            repository_provider=provider,
            repository_name=repository,
            branch=branch,
            file_path=file_path,
            ops_entries="{}",
            ops_sha=None,
            created_at=now,
            last_modified_at=now,
        )
    )


def update_config(
    connection: Connection,
    config_id: int,
    *,
    provider: str,
    repository: str,
    branch: str,
    file_path: str,
    now: float,
) -> None:
    """Point a config at another ops file; the entries last read are forgotten (the next sync reads it)."""
    connection.execute(
        sa.update(service_sync_configs)
        .where(C.id == config_id)
        .values(
            repository_provider=provider,
            repository_name=repository,
            branch=branch,
            file_path=file_path,
            ops_entries="{}",
            ops_sha=None,
            last_modified_at=now,
        )
    )


def delete_config(connection: Connection, config_id: int) -> None:
    connection.execute(sa.delete(service_sync_configs).where(C.id == config_id))


def ops_entries(config: Row[Any]) -> dict[str, dict[str, str]]:
    """The service's entries of the ops file last read: instance -> {"branch", "spec"}."""
    entries: dict[str, dict[str, str]] = orjson.loads(config.ops_entries)
    return entries


def set_ops_entries(
    connection: Connection, config_id: int, entries: dict[str, dict[str, str]], sha: str
) -> None:
    connection.execute(
        sa.update(service_sync_configs)
        .where(C.id == config_id)
        .values(ops_entries=orjson.dumps(entries, option=orjson.OPT_SORT_KEYS).decode(), ops_sha=sha)
    )


# ------------------------------------------------------------------------------------------ blockers


def active_blocker(connection: Connection, service_id: int, instance: str | None) -> Row[Any] | None:
    """The ACTIVE blocker of the service (instance None) or of one of its instances."""
    where = B.service_instance_name.is_(None) if instance is None else B.service_instance_name == instance
    return connection.execute(
        sa.select(service_sync_blockers)
        .where(B.service_id == service_id, where, B.status == ACTIVE)
        .order_by(B.created_at)
        .limit(1)
    ).first()


def open_blocker(
    connection: Connection,
    *,
    blocker_id: str,
    service_id: int,
    account_id: str,
    region: str,
    service_name: str,
    instance: str | None,
    reason: str,
    contexts: list[dict[str, str]],
    now: float,
) -> bool:
    """Open an ACTIVE AUTOMATED blocker; False (nothing written) when one is already active there."""
    if active_blocker(connection, service_id, instance) is not None:
        return False
    connection.execute(
        sa.insert(service_sync_blockers).values(
            id=blocker_id,
            service_id=service_id,
            account_id=account_id,
            region=region,
            service_name=service_name,
            service_instance_name=instance,
            status=ACTIVE,
            created_at=now,
            created_reason=reason,
            contexts=orjson.dumps(contexts).decode(),
        )
    )
    return True


def latest_blockers(connection: Connection, service_id: int, instance: str | None) -> list[Row[Any]]:
    """The blockers of the service (instance None) or of one instance: every ACTIVE one (oldest first),
    then the most recently resolved one."""
    where = B.service_instance_name.is_(None) if instance is None else B.service_instance_name == instance
    base = sa.select(service_sync_blockers).where(B.service_id == service_id, where)
    active = connection.execute(base.where(B.status == ACTIVE).order_by(B.created_at, B.id)).all()
    resolved = connection.execute(
        base.where(B.status == RESOLVED).order_by(B.resolved_at.desc(), B.id.desc()).limit(1)
    ).all()
    return [*active, *resolved]


def has_blockers(connection: Connection, service_id: int, instance: str) -> bool:
    return (
        connection.execute(
            sa.select(B.id).where(B.service_id == service_id, B.service_instance_name == instance).limit(1)
        ).first()
        is not None
    )


def find_blocker(connection: Connection, account_id: str, region: str, blocker_id: str) -> Row[Any] | None:
    return connection.execute(
        sa.select(service_sync_blockers).where(
            B.id == blocker_id, B.account_id == account_id, B.region == region
        )
    ).first()


def resolve_blocker(connection: Connection, blocker_id: str, reason: str, now: float) -> None:
    connection.execute(
        sa.update(service_sync_blockers)
        .where(B.id == blocker_id)
        .values(status=RESOLVED, resolved_at=now, resolved_reason=reason)
    )


def blocker_shape(row: Row[Any]) -> dict[str, Any]:
    """The SyncBlocker wire shape."""
    shape: dict[str, Any] = {
        "id": row.id,
        "type": AUTOMATED,
        "status": row.status,
        "createdAt": row.created_at,
        "createdReason": row.created_reason,
        "contexts": orjson.loads(row.contexts),
    }
    if row.resolved_at is not None:
        shape["resolvedAt"] = row.resolved_at
    if row.resolved_reason is not None:
        shape["resolvedReason"] = row.resolved_reason
    return shape


# -------------------------------------------------------------------------------------------- states


def find_state(connection: Connection, service_id: int, kind: str, name: str) -> Row[Any] | None:
    return connection.execute(
        sa.select(service_sync_states).where(ST.service_id == service_id, ST.kind == kind, ST.name == name)
    ).first()


def _put_state(
    connection: Connection, service_id: int, kind: str, name: str, now: float, **values: Any
) -> None:
    where = (ST.service_id == service_id, ST.kind == kind, ST.name == name)
    if find_state(connection, service_id, kind, name) is None:
        connection.execute(
            sa.insert(service_sync_states).values(
                service_id=service_id, kind=kind, name=name, updated_at=now, **values
            )
        )
    else:
        connection.execute(sa.update(service_sync_states).where(*where).values(updated_at=now, **values))


def set_applied(
    connection: Connection, service_id: int, kind: str, name: str, digest: str, now: float
) -> None:
    """Record the block the sync applied (in the transaction that starts its deployment)."""
    _put_state(connection, service_id, kind, name, now, applied_digest=digest)


def set_desired(
    connection: Connection, service_id: int, kind: str, name: str, revision: dict[str, str], now: float
) -> None:
    """Record the Revision of the spec file the ops file points at for a target, at the newest commit."""
    _put_state(connection, service_id, kind, name, now, desired=orjson.dumps(revision).decode())


def forget_applied(connection: Connection, service_id: int, kind: str, name: str, now: float) -> None:
    """A change made by hand: the next sync compares with the resource, not with what it last applied."""
    if find_state(connection, service_id, kind, name) is not None:
        _put_state(connection, service_id, kind, name, now, applied_digest=None)


def listed(connection: Connection, service_id: int, instance: str) -> bool:
    """Whether the ops file last read lists the instance."""
    config = find_config(connection, service_id)
    return config is not None and instance in ops_entries(config)


def desired_state(connection: Connection, service_id: int, name: str) -> dict[str, str] | None:
    state = find_state(connection, service_id, INSTANCE, name)
    if state is None or state.desired is None:
        return None
    revision: dict[str, str] = orjson.loads(state.desired)
    return revision


# ------------------------------------------------------------------------------------------ attempts


@dataclass(frozen=True)
class Event:
    """A `ResourceSyncEvent`."""

    type: str
    event: str
    time: float
    external_id: str | None = None

    def shape(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"type": self.type, "event": self.event, "time": self.time}
        if self.external_id is not None:
            shape["externalId"] = self.external_id
        return shape


def record_attempt(
    connection: Connection,
    *,
    service_id: int,
    kind: str,
    name: str,
    status: str,
    sha: str,
    events: list[Event],
    initial_revision: dict[str, str],
    target_revision: dict[str, str],
    deployment_id: str | None,
    now: float,
) -> None:
    """Write an attempt (see the module invariants for the ones not written again)."""
    latest = connection.execute(
        sa.select(service_sync_attempts)
        .where(A.service_id == service_id, A.kind == kind, A.name == name)
        .order_by(A.id.desc())
        .limit(1)
    ).first()
    encoded = orjson.dumps([event.shape() for event in events]).decode()
    if latest is not None and latest.sha == sha:
        before = [(e["type"], e["event"]) for e in orjson.loads(latest.events)]
        if latest.status == status and before == [(e.type, e.event) for e in events]:
            return
        if latest.status == INITIATED:
            connection.execute(sa.delete(service_sync_attempts).where(A.id == latest.id))
    connection.execute(
        sa.insert(service_sync_attempts).values(
            service_id=service_id,
            kind=kind,
            name=name,
            status=status,
            sha=sha,
            started_at=now,
            events=encoded,
            initial_revision=orjson.dumps(initial_revision).decode(),
            target_revision=orjson.dumps(target_revision).decode(),
            deployment_id=deployment_id,
        )
    )


_OUTCOME = {SUCCEEDED: SYNC_SUCCEEDED, FAILED: SYNC_FAILED, CANCELLED: SYNC_FAILED}

_ATTEMPTS = sa.select(
    service_sync_attempts,
    D.deployment_status.label("deployment_status"),
    D.deployment_status_message.label("deployment_message"),
    D.completed_at.label("deployment_completed_at"),
).select_from(service_sync_attempts.outerjoin(deployments, D.id == A.deployment_id))


def _status(row: Row[Any]) -> str:
    if row.status == IN_PROGRESS and row.deployment_id is not None:
        return _OUTCOME.get(row.deployment_status, IN_PROGRESS)
    return str(row.status)


def attempt_shape(row: Row[Any], target: str) -> dict[str, Any]:
    """The ResourceSyncAttempt wire shape of an attempt row read with its deployment."""
    events: list[dict[str, Any]] = orjson.loads(row.events)
    status = _status(row)
    if row.status == IN_PROGRESS and status != IN_PROGRESS:
        message = f"Deployment {row.deployment_id} ended {row.deployment_status}"
        if row.deployment_message:
            message += f": {row.deployment_message}"
        events.append(
            {
                "type": "DEPLOYMENT_" + str(row.deployment_status),
                "event": message,
                "time": row.deployment_completed_at,
                "externalId": row.deployment_id,
            }
        )
    return {
        "events": events,
        "initialRevision": orjson.loads(row.initial_revision),
        "targetRevision": orjson.loads(row.target_revision),
        "target": target,
        "startedAt": row.started_at,
        "status": status,
    }


def _of_instance(service_id: int, instance: str) -> Any:
    return sa.and_(
        A.service_id == service_id,
        sa.or_(sa.and_(A.kind == INSTANCE, A.name == instance), A.kind == SERVICE),
    )


def latest_attempt(connection: Connection, service_id: int, instance: str) -> Row[Any] | None:
    """The newest attempt of an instance, or of its whole service (a commit that failed as a whole)."""
    return connection.execute(
        _ATTEMPTS.where(_of_instance(service_id, instance)).order_by(A.id.desc()).limit(1)
    ).first()


def _successful() -> Any:
    return sa.or_(
        A.status == SYNC_SUCCEEDED,
        sa.and_(A.status == IN_PROGRESS, D.deployment_status == SUCCEEDED),
    )


def latest_successful_attempt(connection: Connection, service_id: int, instance: str) -> Row[Any] | None:
    return connection.execute(
        _ATTEMPTS.where(_of_instance(service_id, instance), _successful()).order_by(A.id.desc()).limit(1)
    ).first()


def last_synced_revision(
    connection: Connection, service_id: int, kind: str, name: str
) -> dict[str, str] | None:
    """The target revision of the newest attempt of a target that started a deployment (or succeeded)."""
    row = connection.execute(
        sa.select(A.target_revision)
        .where(
            A.service_id == service_id,
            A.kind == kind,
            A.name == name,
            sa.or_(A.deployment_id.is_not(None), A.status == SYNC_SUCCEEDED),
        )
        .order_by(A.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    revision: dict[str, str] = orjson.loads(row.target_revision)
    return revision


def services_using_repository(
    connection: Connection, account_id: str, region: str, provider: str, name: str
) -> list[str]:
    """Names of the services whose sync config reads a linked repository."""
    return [row.service_name for row in configs_of_repository(connection, account_id, region, provider, name)]
