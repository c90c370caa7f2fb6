"""Service sync records: a service's sync config and its sync blockers (reference §1.10, §6.2); its
sync status goes through `store.sync_status` (targets named by `target`).

Invariants:
- Configs and blockers belong to one service and go with it (ON DELETE CASCADE); the service's sync status
  (attempts, desired state, what the sync last applied) is deleted by `forget_service`, which
  `store.services` calls in the transaction that deletes the service. Deleting a config keeps the
  blockers and the sync status.
- At most one config per service; at most one ACTIVE blocker per (service, instance) and one per service
  (instance NULL): opening a second one while one is active does nothing.
- What the sync applied to a target (the digest of the block, in the target's `sync_status` state) is
  written in the transaction that starts the deployment of that block, so a sync that runs again for the
  same commit finds it and deploys nothing; a change made by hand clears it, so the next sync compares
  the spec file with what the resource was really given.
- Target keys are `<service>/INSTANCE/<instance>`, `<service>/PIPELINE` and `<service>/SERVICE` (the whole
  commit: ops file, spec files, a blocker on the service); names hold no `/`, so `<service>/` is the prefix
  of exactly one service's targets.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.store import sync_status
from baryon.store.schema import service_sync_blockers, service_sync_configs
from baryon.store.sync_status import SERVICE_SYNC, SyncTarget

C = service_sync_configs.c
B = service_sync_blockers.c

ACTIVE = "ACTIVE"
RESOLVED = "RESOLVED"
AUTOMATED = "AUTOMATED"

#: Kinds of sync targets (see `target`).
SERVICE = "SERVICE"
INSTANCE = "INSTANCE"
PIPELINE = "PIPELINE"

#: The key of the digest of the block last applied, in a target's `sync_status` state document.
APPLIED = "applied"


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


def _location(location: dict[str, str], file_path: str) -> dict[str, Any]:
    """Where the ops file is (`location`: repository_provider, repository_name, branch); the entries last
    read are forgotten (the next sync reads it)."""
    return {**location, "file_path": file_path, "ops_entries": "{}", "ops_sha": None}


def create_config(
    connection: Connection,
    *,
    service_id: int,
    account_id: str,
    region: str,
    service_name: str,
    location: dict[str, str],
    file_path: str,
    now: float,
) -> None:
    connection.execute(
        sa.insert(service_sync_configs).values(
            service_id=service_id,
            account_id=account_id,
            region=region,
            service_name=service_name,
            **_location(location, file_path),
            created_at=now,
            last_modified_at=now,
        )
    )


def update_config(
    connection: Connection, config_id: int, *, location: dict[str, str], file_path: str, now: float
) -> None:
    """Point a config at another ops file."""
    connection.execute(
        sa.update(service_sync_configs)
        .where(C.id == config_id)
        .values(**_location(location, file_path), last_modified_at=now)
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


# --------------------------------------------------------------------------------------- sync status


def target(account_id: str, region: str, service: str, kind: str, name: str = "") -> SyncTarget:
    """The `sync_status` target of a service's whole commit (SERVICE), its pipeline (PIPELINE) or one of
    its instances (INSTANCE, `name` the instance)."""
    key = f"{service}/{kind}/{name}" if kind == INSTANCE else f"{service}/{kind}"
    return SyncTarget(account_id, region, SERVICE_SYNC, key)


def applied(connection: Connection, sync_target: SyncTarget) -> str | None:
    """The digest of the block the sync last applied to a target (None: none since a change by hand)."""
    value = sync_status.state(connection, sync_target).get(APPLIED)
    return None if value is None else str(value)


def set_applied(connection: Connection, sync_target: SyncTarget, digest: str, now: float) -> None:
    """Record the block the sync applied (in the transaction that starts its deployment)."""
    sync_status.set_state(connection, sync_target, {APPLIED: digest}, now)


def forget_applied(connection: Connection, sync_target: SyncTarget, now: float) -> None:
    """A change made by hand: the next sync compares with the resource, not with what it last applied."""
    if applied(connection, sync_target) is not None:
        sync_status.set_state(connection, sync_target, {}, now)


def listed(connection: Connection, service_id: int, instance: str) -> bool:
    """Whether the ops file last read lists the instance."""
    config = find_config(connection, service_id)
    return config is not None and instance in ops_entries(config)


def forget_service(connection: Connection, account_id: str, region: str, service: str) -> None:
    """Delete the sync status of a service and of its instances and pipeline (the service is deleted)."""
    sync_status.forget_targets(connection, account_id, region, SERVICE_SYNC, f"{service}/")


def services_using_repository(
    connection: Connection, account_id: str, region: str, provider: str, name: str
) -> list[str]:
    """Names of the services whose sync config reads a linked repository."""
    return [row.service_name for row in configs_of_repository(connection, account_id, region, provider, name)]
