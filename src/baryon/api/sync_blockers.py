"""Sync blockers opened by changes made by hand to a service that syncs from git (reference §6.2).

Invariants: only a service with a service sync config gets blockers; a change made through the API by
anyone but the sync (whose requests carry `sync_principal(account)`) opens an AUTOMATED blocker in the
transaction of the change: on the instance for CreateServiceInstance, UpdateServiceInstance and the
instances an UpdateService adds, on the whole service for the instances an UpdateService removes; an
already active blocker of the same scope is kept (no second one). The change also clears what the sync
last applied to that instance, so that after the blocker is resolved the next commit is compared with
what the instance really runs.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from baryon.api.registry import Context
from baryon.store import service_sync as sync_store

#: The IAM role Proton's service sync acted as; Baryon's sync uses it as the principal of its requests.
_SYNC_ROLE = "role/aws-service-role/sync.proton.amazonaws.com/AWSServiceRoleForProtonSync"


def sync_principal(account_id: str) -> str:
    """The principal of the requests the service sync makes in an account."""
    return f"arn:aws:iam::{account_id}:{_SYNC_ROLE}"


def by_sync(ctx: Context) -> bool:
    return ctx.principal == sync_principal(ctx.account_id)


def instance_changed(
    ctx: Context, connection: Connection, service_id: int, service_name: str, instance: str, *, created: bool
) -> None:
    """A service instance was created or updated: block its sync unless the sync did it."""
    what = "creation" if created else "update"
    _block(ctx, connection, service_id, service_name, instance, what, whole_service=False)


def instance_removed(
    ctx: Context, connection: Connection, service_id: int, service_name: str, instance: str
) -> None:
    """A service instance is being deleted by hand: block the sync of the whole service."""
    _block(ctx, connection, service_id, service_name, instance, "deletion", whole_service=True)


def _block(
    ctx: Context,
    connection: Connection,
    service_id: int,
    service_name: str,
    instance: str,
    what: str,
    *,
    whole_service: bool,
) -> None:
    """Unless the sync made the change (or the service has no sync config): forget what the sync applied
    to the instance and open a blocker on it, or on the whole service."""
    if by_sync(ctx) or sync_store.find_config(connection, service_id) is None:
        return
    blocked = "the sync of all its instances is" if whole_service else "its sync is"
    reason = (
        f"Manual {what} of service instance {instance} of service {service_name} ({ctx.operation} by "
        f"{ctx.principal}); the service syncs from git, so {blocked} blocked until this blocker is resolved."
    )
    target = sync_store.target(ctx.account_id, ctx.region, service_name, sync_store.INSTANCE, instance)
    sync_store.forget_applied(connection, target, ctx.now)
    sync_store.open_blocker(
        connection,
        blocker_id=ctx.runtime.ids.uuid(),
        service_id=service_id,
        account_id=ctx.account_id,
        region=ctx.region,
        service_name=service_name,
        instance=None if whole_service else instance,
        reason=reason,
        contexts=[
            {"key": "ServiceInstanceName", "value": instance},
            {"key": "Operation", "value": ctx.operation},
            {"key": "RequestId", "value": ctx.request_id},
        ],
        now=ctx.now,
    )
