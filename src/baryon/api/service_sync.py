"""Service sync (reference §1.10, §6.2): CreateServiceSyncConfig, GetServiceSyncConfig,
UpdateServiceSyncConfig, DeleteServiceSyncConfig, GetServiceInstanceSyncStatus,
GetServiceSyncBlockerSummary, UpdateServiceSyncBlocker; and `HandlerActions`, through which the syncer
(`baryon.sync.service_sync`) creates and redeploys instances and pipelines with these very handlers.

Invariants: a config names a service and a repository link of the caller's account and region (a missing
one is a ValidationException on create, whose model lists no ResourceNotFoundException, and a
ResourceNotFoundException on update); one config per service (ConflictException); deleting a config
deletes nothing else; a linked repository read by a config cannot be deleted (api/repositories.py);
configs, blockers, applied state and attempts go with their service. Blockers, configs and sync status of
another account or region are not found. The sync's requests carry `sync_principal`, so that they open no
blocker.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection, Row

from baryon.api.common import clean, not_found
from baryon.api.registry import Context, Params, operation
from baryon.api.service_instances import (
    create_service_instance,
    find_instance,
    update_service_instance,
)
from baryon.api.service_lookup import find_service, require_service, service_arn
from baryon.api.service_pipelines import update_service_pipeline
from baryon.api.sync_blockers import sync_principal
from baryon.api.sync_follow import check_named_branch, follow_named_branch, named_branch_columns
from baryon.domain import arns
from baryon.domain.ops_file import path_problem
from baryon.protocol.errors import (
    ConflictException,
    ResourceNotFoundException,
    ServiceError,
    ValidationException,
)
from baryon.store import service_sync as sync_store
from baryon.store import sync_status
from baryon.sync.base import SERVICE_SYNC
from baryon.sync.registry import provide
from baryon.sync.service_sync import ServiceSyncer

if TYPE_CHECKING:
    from baryon.runtime import Runtime

#: Longest resolvedReason kept.
MAX_REASON = 1024


def config_shape(row: Row[Any]) -> dict[str, Any]:
    return {
        "serviceName": row.service_name,
        "repositoryName": row.repository_name,
        "repositoryProvider": row.repository_provider,
        "branch": row.branch,
        "filePath": row.file_path,
    }


def _require_config(connection: Connection, ctx: Context, service: Row[Any]) -> Row[Any]:
    row = sync_store.find_config(connection, service.id)
    if row is None:
        raise not_found("service sync config", service_arn(ctx, service.name))
    return row


def _checked_location(
    ctx: Context, connection: Connection, params: Params, missing: type[ServiceError]
) -> None:
    check_named_branch(ctx, connection, params, missing)
    problem = path_problem(params["filePath"])
    if problem is not None:
        raise ValidationException(f"Invalid filePath: {problem}")


def _location(ctx: Context, params: Params) -> dict[str, Any]:
    """The store's arguments for where a config's ops file is."""
    return {"location": named_branch_columns(params), "file_path": params["filePath"], "now": ctx.now}


def _followed(ctx: Context, connection: Connection, params: Params, service: Row[Any]) -> dict[str, Any]:
    """Follow the branch a config now names; the answer of Create/UpdateServiceSyncConfig."""
    follow_named_branch(ctx, connection, params, SERVICE_SYNC)
    return {"serviceSyncConfig": config_shape(_require_config(connection, ctx, service))}


@operation("CreateServiceSyncConfig", write=True)
def create_service_sync_config(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    name = params["serviceName"]
    service = find_service(connection, ctx, name)
    if service is None:
        raise ValidationException(
            f"The service {name} does not exist in this account and region ({service_arn(ctx, name)})."
        )
    _checked_location(ctx, connection, params, ValidationException)
    if sync_store.find_config(connection, service.id) is not None:
        raise ConflictException(
            f"Service {name} already has a service sync config; change it with UpdateServiceSyncConfig."
        )
    sync_store.create_config(
        connection,
        service_id=service.id,
        account_id=ctx.account_id,
        region=ctx.region,
        service_name=name,
        **_location(ctx, params),
    )
    return _followed(ctx, connection, params, service)


@operation("GetServiceSyncConfig", write=False)
def get_service_sync_config(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    service = require_service(connection, ctx, params["serviceName"])
    return {"serviceSyncConfig": config_shape(_require_config(connection, ctx, service))}


@operation("UpdateServiceSyncConfig", write=True)
def update_service_sync_config(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    service = require_service(connection, ctx, params["serviceName"])
    config = _require_config(connection, ctx, service)
    _checked_location(ctx, connection, params, ResourceNotFoundException)
    sync_store.update_config(connection, config.id, **_location(ctx, params))
    return _followed(ctx, connection, params, service)


@operation("DeleteServiceSyncConfig", write=True)
def delete_service_sync_config(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    service = require_service(connection, ctx, params["serviceName"])
    config = _require_config(connection, ctx, service)
    sync_store.delete_config(connection, config.id)
    return {"serviceSyncConfig": config_shape(config)}


def _instance_arn(ctx: Context, service: str, instance: str) -> str:
    return arns.service_instance_arn(ctx.region, ctx.account_id, service, instance)


@operation("GetServiceInstanceSyncStatus", write=False)
def get_service_instance_sync_status(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    service = require_service(connection, ctx, params["serviceName"])
    name = params["serviceInstanceName"]
    instance = sync_store.target(ctx.account_id, ctx.region, service.name, sync_store.INSTANCE, name)
    desired = sync_status.desired(connection, instance)
    if (
        find_instance(connection, ctx, service.name, name) is None
        and desired is None
        and not sync_store.listed(connection, service.id, name)
    ):
        raise not_found("service instance", _instance_arn(ctx, service.name, name))
    # A commit that failed as a whole (ops file, spec files, a blocker on the service) is the instance's
    # latest sync too.
    whole = sync_store.target(ctx.account_id, ctx.region, service.name, sync_store.SERVICE)
    latest = sync_status.latest(connection, instance, whole)
    successful = sync_status.latest(connection, instance, whole, succeeded=True)
    return clean(
        {
            "latestSync": None if latest is None else latest.wire(),
            "latestSuccessfulSync": None if successful is None else successful.wire(),
            "desiredState": None if desired is None else desired.wire(),
        }
    )


@operation("GetServiceSyncBlockerSummary", write=False)
def get_service_sync_blocker_summary(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    service = require_service(connection, ctx, params["serviceName"])
    instance = params.get("serviceInstanceName")
    if (
        instance is not None
        and find_instance(connection, ctx, service.name, instance) is None
        and not sync_store.has_blockers(connection, service.id, instance)
    ):
        raise not_found("service instance", _instance_arn(ctx, service.name, instance))
    blockers = sync_store.latest_blockers(connection, service.id, instance)
    summary = clean(
        {
            "serviceName": service.name,
            "serviceInstanceName": instance,
            "latestBlockers": [sync_store.blocker_shape(row) for row in blockers],
        }
    )
    return {"serviceSyncBlockerSummary": summary}


@operation("UpdateServiceSyncBlocker", write=True)
def update_service_sync_blocker(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    blocker_id, reason = params["id"], params["resolvedReason"]
    row = sync_store.find_blocker(connection, ctx.account_id, ctx.region, blocker_id)
    if row is None:
        raise not_found("service sync blocker", blocker_id)
    if not reason.strip():
        raise ValidationException("resolvedReason must not be empty.")
    if len(reason) > MAX_REASON:
        raise ValidationException(f"resolvedReason must be at most {MAX_REASON} characters.")
    if row.status == sync_store.RESOLVED:
        raise ValidationException(f"Sync blocker {blocker_id} is already resolved.")
    sync_store.resolve_blocker(connection, blocker_id, reason, ctx.now)
    resolved = sync_store.find_blocker(connection, ctx.account_id, ctx.region, blocker_id)
    assert resolved is not None
    return clean(
        {
            "serviceName": row.service_name,
            "serviceInstanceName": row.service_instance_name,
            "serviceSyncBlocker": sync_store.blocker_shape(resolved),
        }
    )


# ------------------------------------------------------------------------------ the sync's actions


class HandlerActions:
    """`ServiceActions` through the operations' own handlers, as the sync's principal."""

    @staticmethod
    def _context(runtime: Runtime, account_id: str, region: str, name: str) -> Context:
        return Context(runtime, account_id, region, sync_principal(account_id), str(uuid.uuid4()), name)

    def create_instance(
        self,
        runtime: Runtime,
        connection: Connection,
        account_id: str,
        region: str,
        service: str,
        name: str,
        spec: str,
    ) -> str:
        ctx = self._context(runtime, account_id, region, "CreateServiceInstance")
        params = {"serviceName": service, "name": name, "spec": spec}
        out = create_service_instance(ctx, params, connection)
        return str(out["serviceInstance"]["lastAttemptedDeploymentId"])

    def update_instance(
        self,
        runtime: Runtime,
        connection: Connection,
        account_id: str,
        region: str,
        service: str,
        name: str,
        spec: str,
    ) -> str:
        ctx = self._context(runtime, account_id, region, "UpdateServiceInstance")
        params = {"serviceName": service, "name": name, "spec": spec, "deploymentType": "CURRENT_VERSION"}
        out = update_service_instance(ctx, params, connection)
        return str(out["serviceInstance"]["lastAttemptedDeploymentId"])

    def update_pipeline(
        self, runtime: Runtime, connection: Connection, account_id: str, region: str, service: str, spec: str
    ) -> str:
        ctx = self._context(runtime, account_id, region, "UpdateServicePipeline")
        params = {"serviceName": service, "spec": spec, "deploymentType": "CURRENT_VERSION"}
        out = update_service_pipeline(ctx, params, connection)
        return str(out["pipeline"]["lastAttemptedDeploymentId"])


def service_syncer() -> ServiceSyncer:
    """The SERVICE_SYNC syncer, acting through the handlers above (what the follower registers)."""
    return ServiceSyncer(HandlerActions())


provide(SERVICE_SYNC, service_syncer)
