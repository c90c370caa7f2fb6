"""The service status that follows from its instances and pipeline (reference §5.2), and the outcome of
UpdateService with its failure handling (reference §1.6).

Invariants: while a service is being created, updated or deleted, its status is recomputed in the same
transaction that settles any of its instance or pipeline deployments, with the service row locked, so
that of two deployments settling at once the later one sees the other settled; a service whose last
instance and pipeline are deleted is removed (with its tags and its sync status); instance and pipeline
updates never change the service status; every change of a service's status (and of the instance and
pipeline statuses this module writes) is an event in the same transaction (`baryon.events.outbox`).

A spec update stores an `UpdatePlan` on the service row (`update_state`, JSON): the spec before the
update, the instances it adds and removes, the pipeline deployment it started and its phase. Only the
deployments of that plan decide its outcome, and every transition happens in the transaction that
settles the deployment it waited for, so a crash of any process at any point leaves the plan and the
deployments' jobs to finish it:

- DEPLOYING: once no added instance is deploying, a failed (or cancelled) creation rolls the update back:
  the pipeline deployment, which waits for the instances and so has not started, ends CANCELLED (the
  pipeline keeps its version, spec and outputs), every added instance gets a DELETE deployment, the spec
  is reverted and the service becomes UPDATE_FAILED_CLEANUP_IN_PROGRESS (phase CLEANING_UP). Otherwise,
  once the removals and the pipeline have settled: UPDATE_FAILED when the pipeline failed (no rollback),
  UPDATE_COMPLETE_CLEANUP_FAILED when a removal ended DELETE_FAILED, else ACTIVE.
- CLEANING_UP: once the clean-up deletions and the removals have settled, UPDATE_FAILED_CLEANUP_FAILED
  when a clean-up deletion ended DELETE_FAILED, else UPDATE_FAILED_CLEANUP_COMPLETE.

A plan is dropped when the update reaches its final status.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.clock import Ids, RandomIds
from baryon.domain import arns
from baryon.domain.deployments import (
    BUSY,
    CANCELLED,
    CANCELLING,
    DELETE,
    DELETE_FAILED,
    IN_PROGRESS,
    SUCCEEDED,
)
from baryon.events import format as event_format
from baryon.events import outbox
from baryon.store import deployments as deployment_store
from baryon.store import service_sync
from baryon.store.prepared import Prepared
from baryon.store.schema import deployments, service_instances, service_pipelines, services, tags, templates

S = services.c
I = service_instances.c  # noqa: E741
P = service_pipelines.c
D = deployments.c

ACTIVE = "ACTIVE"
CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
CREATE_FAILED = "CREATE_FAILED"
CREATE_FAILED_CLEANUP_IN_PROGRESS = "CREATE_FAILED_CLEANUP_IN_PROGRESS"
UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
UPDATE_FAILED = "UPDATE_FAILED"
UPDATE_FAILED_CLEANUP_IN_PROGRESS = "UPDATE_FAILED_CLEANUP_IN_PROGRESS"
UPDATE_FAILED_CLEANUP_COMPLETE = "UPDATE_FAILED_CLEANUP_COMPLETE"
UPDATE_FAILED_CLEANUP_FAILED = "UPDATE_FAILED_CLEANUP_FAILED"
UPDATE_COMPLETE_CLEANUP_FAILED = "UPDATE_COMPLETE_CLEANUP_FAILED"
#: The service status and the deployment status of an instance being deleted (the same word).
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
SERVICE_DELETE_FAILED = "DELETE_FAILED"
#: Every *_IN_PROGRESS service status: service actions (UpdateService spec, DeleteService) wait for them.
IN_FLIGHT = frozenset(
    {
        CREATE_IN_PROGRESS,
        CREATE_FAILED_CLEANUP_IN_PROGRESS,
        UPDATE_IN_PROGRESS,
        UPDATE_FAILED_CLEANUP_IN_PROGRESS,
        DELETE_IN_PROGRESS,
    }
)

DEPLOYING = "DEPLOYING"
CLEANING_UP = "CLEANING_UP"


@dataclass(frozen=True)
class UpdatePlan:
    """What a running UpdateService does; stored as JSON on the service row."""

    previous_spec: str
    added: list[str]
    removed: list[str]
    pipeline_deployment: str | None
    phase: str = DEPLOYING
    cleanup: list[str] = field(default_factory=list)
    failure: str | None = None

    def dumps(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def loads(cls, text: str) -> UpdatePlan:
        data: dict[str, Any] = orjson.loads(text)
        return cls(**data)


def plan_of(service: Any) -> UpdatePlan | None:
    """The plan of the service row's running spec update, if any."""
    text = getattr(service, "update_state", None)
    return UpdatePlan.loads(text) if text else None


def touched_by_update(service: Any) -> frozenset[str]:
    """Instances the service's running spec update creates, removes or cleans up."""
    plan = plan_of(service) if service.status in IN_FLIGHT else None
    if plan is None:
        return frozenset()
    return frozenset(plan.added) | frozenset(plan.removed)


_SERVICE = Prepared(
    sa.select(
        S.id,
        S.account_id,
        S.region,
        S.name,
        S.status,
        S.update_state,
        templates.c.name.label("template_name"),
    )
    .join(templates, templates.c.id == S.template_id)
    .where(S.id == sa.bindparam("id"))
    # Settlements of a service's deployments queue on its row, so that the last of two settling at once
    # sees the other (on PostgreSQL; SQLite has one writer at a time).
    .with_for_update(of=services)
)


def refresh(connection: Connection, service_id: int, service_arn: str, now: float) -> None:
    service = _SERVICE.first(connection, {"id": service_id})
    if service is None or service.status not in IN_FLIGHT:
        return
    if service.status in (UPDATE_IN_PROGRESS, UPDATE_FAILED_CLEANUP_IN_PROGRESS) and service.update_state:
        _advance_update(connection, service, UpdatePlan.loads(service.update_state), now)
        return
    parts = [
        (f"service instance {row.name}", row.deployment_status, row.deployment_status_message)
        for row in connection.execute(
            sa.select(I.name, I.deployment_status, I.deployment_status_message).where(
                I.service_id == service_id
            )
        )
    ]
    pipeline = connection.execute(
        sa.select(P.deployment_status, P.deployment_status_message).where(P.service_id == service_id)
    ).first()
    if pipeline is not None:
        parts.append(("pipeline", pipeline.deployment_status, pipeline.deployment_status_message))
    if any(status in BUSY for _, status, _ in parts):
        return
    if service.status == DELETE_IN_PROGRESS:
        if not parts:
            connection.execute(sa.delete(services).where(S.id == service_id))
            _changed(connection, service, event_format.DELETED, None, now)
            # Its sync config and blockers go with it (ON DELETE CASCADE); its sync status is keyed by name.
            service_sync.forget_service(connection, service.account_id, service.region, service.name)
            connection.execute(
                sa.delete(tags).where(
                    sa.or_(tags.c.resource_arn == service_arn, tags.c.resource_arn.like(service_arn + "/%"))
                )
            )
            return
        failed = [f"{what}: {message}" for what, status, message in parts if status == DELETE_FAILED]
        values = {"status": SERVICE_DELETE_FAILED, "status_message": "; ".join(failed) or None}
    else:
        failed = [f"{what}: {message or status}" for what, status, message in parts if status != SUCCEEDED]
        if failed:
            status = CREATE_FAILED if service.status == CREATE_IN_PROGRESS else UPDATE_FAILED
            values = {"status": status, "status_message": "; ".join(failed)}
        else:
            values = {"status": ACTIVE, "status_message": None}
    _set(connection, service, now, **values)


def _set(connection: Connection, service: Any, now: float, **values: Any) -> None:
    """Update the service row (`service`, as read in this transaction); a change of its status is an
    event in the same transaction."""
    connection.execute(sa.update(services).where(S.id == service.id).values(last_modified_at=now, **values))
    if "status" in values:
        _changed(connection, service, values["status"], values.get("status_message"), now)


def _changed(connection: Connection, service: Any, status: str, message: str | None, now: float) -> None:
    outbox.service_changed(
        connection,
        account_id=service.account_id,
        region=service.region,
        name=service.name,
        previous=service.status,
        status=status,
        message=message,
        now=now,
    )


# ------------------------------------------------------------------------------------- spec updates


def _advance_update(connection: Connection, service: Any, plan: UpdatePlan, now: float) -> None:
    rows = connection.execute(sa.select(service_instances).where(I.service_id == service.id)).all()
    instances = {row.name: row for row in rows}
    pipeline = connection.execute(sa.select(service_pipelines).where(P.service_id == service.id)).first()
    own_pipeline = (
        pipeline
        if pipeline is not None
        and plan.pipeline_deployment is not None
        and pipeline.last_attempted_deployment_id == plan.pipeline_deployment
        else None
    )

    def busy(names: list[str]) -> bool:
        return any(name in instances and instances[name].deployment_status in BUSY for name in names)

    pipeline_busy = own_pipeline is not None and own_pipeline.deployment_status in BUSY
    removal_failures = _failures(instances, plan.removed, "could not be deleted")
    if plan.phase == DEPLOYING:
        if busy(plan.added):
            return
        failed = [n for n in plan.added if n in instances and instances[n].deployment_status != SUCCEEDED]
        if failed:
            _roll_back(connection, service, plan, instances, own_pipeline, failed, now)
            return
        if pipeline_busy or busy(plan.removed):
            return
        if own_pipeline is not None and own_pipeline.deployment_status != SUCCEEDED:
            reason = own_pipeline.deployment_status_message or own_pipeline.deployment_status
            message = "; ".join([f"the pipeline could not be deployed: {reason}", *removal_failures])
            _set(connection, service, now, status=UPDATE_FAILED, status_message=message, update_state=None)
        elif removal_failures:
            _set(
                connection,
                service,
                now,
                status=UPDATE_COMPLETE_CLEANUP_FAILED,
                status_message="; ".join(removal_failures),
                update_state=None,
            )
        else:
            _set(connection, service, now, status=ACTIVE, status_message=None, update_state=None)
        return
    if pipeline_busy or busy(plan.cleanup) or busy(plan.removed):
        return
    cleanup_failures = _failures(instances, plan.cleanup, "could not be deleted during the clean-up")
    message = "; ".join([*([plan.failure] if plan.failure else []), *cleanup_failures, *removal_failures])
    _set(
        connection,
        service,
        now,
        status=UPDATE_FAILED_CLEANUP_FAILED if cleanup_failures else UPDATE_FAILED_CLEANUP_COMPLETE,
        status_message=message,
        update_state=None,
    )


def _failures(instances: dict[str, Any], names: list[str], what: str) -> list[str]:
    return [
        f"service instance {name} {what}: {instances[name].deployment_status_message or DELETE_FAILED}"
        for name in names
        if name in instances and instances[name].deployment_status == DELETE_FAILED
    ]


def not_deployed_message(failed: list[str]) -> str:
    names = ", ".join(failed)
    return (
        f"Not deployed: the service update was rolled back because service instance(s) {names} "
        "could not be created."
    )


def _roll_back(
    connection: Connection,
    service: Any,
    plan: UpdatePlan,
    instances: dict[str, Any],
    pipeline: Any,
    failed: list[str],
    now: float,
) -> None:
    """A new instance failed: keep the pipeline as it was, delete what the update created, revert the spec."""
    if pipeline is not None and pipeline.deployment_status in BUSY:
        _stop_pipeline(connection, service, pipeline, not_deployed_message(failed), now)
    cleanup = [name for name in plan.added if name in instances]
    for name in cleanup:
        # The cleanup of a failed update (as DeleteService would).
        start_instance_deletion(
            connection,
            RandomIds(),
            account_id=service.account_id,
            region=service.region,
            service_name=service.name,
            template_name=service.template_name,
            row=instances[name],
            now=now,
        )
    failure = "; ".join(
        f"service instance {name} could not be created: "
        f"{instances[name].deployment_status_message or instances[name].deployment_status}"
        for name in failed
    )
    _set(
        connection,
        service,
        now,
        spec=plan.previous_spec,
        status=UPDATE_FAILED_CLEANUP_IN_PROGRESS,
        status_message=failure,
        update_state=replace(plan, phase=CLEANING_UP, cleanup=cleanup, failure=failure).dumps(),
    )


def _stop_pipeline(connection: Connection, service: Any, pipeline: Any, message: str, now: float) -> None:
    """End the update's pipeline deployment: CANCELLED at once when it has not started (the usual case:
    it waits for the instances), else CANCELLING so that the deployment job rolls its stack back."""
    service_id = service.id
    record = deployment_store.find(connection, pipeline.last_attempted_deployment_id)
    if record is None or record.deployment_status != IN_PROGRESS:
        return

    def changed(status: str, message: str | None) -> None:
        outbox.deployable_changed(
            connection,
            target_type="SERVICE_PIPELINE",
            account_id=service.account_id,
            region=service.region,
            names=(service.name,),
            previous=pipeline.deployment_status,
            status=status,
            deployment_id=record.id,
            message=message,
            now=now,
        )

    if orjson.loads(record.progress or "{}"):
        deployment_store.set_status(connection, record.id, CANCELLING, now)
        connection.execute(
            sa.update(service_pipelines)
            .where(P.service_id == service_id)
            .values(deployment_status=CANCELLING)
        )
        changed(CANCELLING, None)
        return
    connection.execute(
        sa.update(deployments)
        .where(D.id == record.id, D.deployment_status == IN_PROGRESS)
        .values(
            deployment_status=CANCELLED,
            deployment_status_message=message,
            last_modified_at=now,
            completed_at=now,
        )
    )
    connection.execute(
        sa.update(service_pipelines)
        .where(P.service_id == service_id)
        .values(deployment_status=CANCELLED, deployment_status_message=message)
    )
    changed(CANCELLED, message)


def start_instance_deletion(
    connection: Connection,
    ids: Ids,
    *,
    account_id: str,
    region: str,
    service_name: str,
    template_name: str,
    row: Any,
    now: float,
) -> str:
    """Start the DELETE deployment of a service instance (its record and job, the instance moved to
    DELETE_IN_PROGRESS) in the caller's transaction; the deployment id."""
    state: dict[str, Any] = {
        "templateName": template_name,
        "templateMajorVersion": str(row.template_major),
        "templateMinorVersion": str(row.template_minor),
        "inputs": None,
    }
    if row.spec is not None:
        state["spec"] = row.spec
    deployment_id = ids.uuid()
    deployment_store.start(
        connection,
        deployment_id=deployment_id,
        job_id=ids.uuid(),
        account_id=account_id,
        region=region,
        target_type="SERVICE_INSTANCE",
        target_arn=arns.service_instance_arn(region, account_id, service_name, row.name),
        target_created_at=row.created_at,
        operation=DELETE,
        environment_name=row.environment_name,
        target_state={"serviceInstance": state},
        initial_state={"serviceInstance": state},
        last_attempted=row.last_attempted_deployment_id,
        last_succeeded=row.last_succeeded_deployment_id,
        now=now,
        service_name=service_name,
        service_instance_name=row.name,
    )
    connection.execute(
        sa.update(service_instances)
        .where(I.id == row.id)
        .values(
            deployment_status=DELETE_IN_PROGRESS,
            deployment_status_message=None,
            last_deployment_attempted_at=now,
            last_attempted_deployment_id=deployment_id,
        )
    )
    outbox.deployable_changed(
        connection,
        target_type="SERVICE_INSTANCE",
        account_id=account_id,
        region=region,
        names=(service_name, row.name),
        previous=row.deployment_status,
        status=DELETE_IN_PROGRESS,
        deployment_id=deployment_id,
        now=now,
    )
    return deployment_id
