"""Recording a deployment's outcome: the deployment record, the resource it deployed, its service.

Job: `record_finish` settles a deployment inside the caller's transaction (the engine's own, or the API's
for NotifyResourceDeploymentStatusChange); `finish` does it in a transaction of its own; `save` persists a
step's progress before the next step; `record_report` keeps what a notification reported on a deployment
that it does not settle; `keep_warnings` adds warnings found while deploying (cfn-lint's) to those of the
request, in the deployment's target state.

Invariants: a deployment that already reached a final status is never settled again (the call answers
False); the resource's version, spec, inputs (as its subject's `settled` picks them from the target
state) and outputs change only when its deployment succeeds; a `Finish` without outputs (or resources)
leaves those already recorded on the deployment record (an IN_PROGRESS notification's outputs survive a
cancel or a failure); a DELETE_COMPLETE deployment removes the resource row and its tags; the owning
service's status is refreshed in the same transaction, and the resource's status change is an event
in it (`DELETED` for a deletion); each settling is counted in
`baryon_deployments_total{kind,provisioner,result}` (when its transaction commits) and timed from the
deployment's creation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon import metrics
from baryon.deployables import KINDS
from baryon.deployables.wire import added_warnings
from baryon.domain import arns
from baryon.domain.deployments import DELETE_COMPLETE, FINAL, SUCCEEDED
from baryon.domain.story import ENDED, DeploymentEvent, resource_name, target_words
from baryon.engine.subjects import Subject
from baryon.events import format as event_format
from baryon.events import outbox
from baryon.runtime import Runtime
from baryon.store import deployments as deployment_store
from baryon.store import prepared, run_logs
from baryon.store import services as services_state
from baryon.store.schema import deployments, tags


def _provisioner_name(progress: dict[str, Any]) -> str:
    """The provisioner's name in metrics (cloudformation, terraform_git, command_runner,
    customer_managed), or "none" when no provisioner was chosen before the deployment settled."""
    # Imported here: the provisioners import this module.
    from baryon.engine.provisioners import registry

    method = progress.get(registry.METHOD)
    found = registry.provisioner(str(method)) if method else None
    return found.traits.deadline_name if found is not None else "none"


@dataclass(frozen=True)
class Finish:
    status: str
    message: str | None = None
    outputs: list[dict[str, str]] | None = None
    resources: list[dict[str, str]] | None = None


def target_of(record: Any) -> dict[str, Any]:
    """The target state of a deployment record (the one member of its DeploymentState union)."""
    state: dict[str, Any] = orjson.loads(record.target_state)
    target: dict[str, Any] = next(iter(state.values()))
    return target


def record_finish(
    connection: Connection,
    now: float,
    record: Any,
    subject: Subject | None,
    finish: Finish,
    progress: dict[str, Any],
    announce: Callable[[DeploymentEvent], None] | None = None,
) -> bool:
    """Settle the deployment in `connection`'s transaction; False when it had already settled. The
    settling is the last line of the deployment's story (`run_logs.note`), and `announce` (when given)
    hears of it once the transaction commits."""
    target = target_of(record)
    current = deployment_store.find(connection, record.id)
    if current is None or current.deployment_status in FINAL:
        return False
    settled: dict[str, Any] = {
        "deployment_status": finish.status,
        "deployment_status_message": finish.message,
        "progress": orjson.dumps(progress).decode(),
        "last_modified_at": now,
        "completed_at": now,
    }
    # A Finish without outputs (a cancel, a failure) keeps those a notification recorded on the record.
    if finish.outputs is not None:
        settled["outputs"] = orjson.dumps(finish.outputs).decode()
    if finish.resources is not None:
        settled["resources"] = orjson.dumps(finish.resources).decode()
    prepared.update(deployments, ("id",), tuple(settled)).run(connection, {"where_id": record.id, **settled})
    # Counted when the transaction commits, so a rolled back or retried one counts nothing.
    provisioner = _provisioner_name(progress)
    took = now - float(record.created_at)
    counted = (record.target_type, provisioner, finish.status, took)
    sa.event.listen(connection, "commit", lambda _: metrics.record_deployment(*counted), once=True)
    told = f"{finish.status}: {finish.message}" if finish.message else finish.status
    told += f" ({took:.1f} s after the deployment began)"
    run_logs.note(connection, record.id, run_logs.BARYON, told, now=now)
    if announce is not None:
        ended = event_of(record, ENDED, provisioner, finish.status, finish.message, took)
        sa.event.listen(connection, "commit", lambda _: announce(ended), once=True)
    if subject is None:
        return True
    previous = connection.execute(sa.select(subject.table.c.deployment_status).where(subject.where)).scalar()
    if previous is not None:
        outbox.deployable_changed(
            connection,
            target_type=record.target_type,
            account_id=record.account_id,
            region=record.region,
            names=KINDS[record.target_type].names_of_record(record),
            previous=str(previous),
            status=event_format.DELETED if finish.status == DELETE_COMPLETE else finish.status,
            deployment_id=record.id,
            message=finish.message,
            now=now,
        )
    if finish.status == DELETE_COMPLETE:
        connection.execute(sa.delete(subject.table).where(subject.where))
        connection.execute(sa.delete(tags).where(tags.c.resource_arn == record.target_arn))
    else:
        values: dict[str, Any] = {
            "deployment_status": finish.status,
            "deployment_status_message": finish.message,
        }
        if progress.get("stack_id"):
            values["stack_id"] = progress["stack_id"]
        if finish.status == SUCCEEDED:
            values.update(
                last_deployment_succeeded_at=now,
                last_succeeded_deployment_id=record.id,
                outputs=orjson.dumps(finish.outputs or []).decode(),
                resources=orjson.dumps(finish.resources or []).decode(),
                **subject.settled(target),
            )
        if subject.key is None:
            connection.execute(sa.update(subject.table).where(subject.where).values(**values))
        else:
            prepared.update(subject.table, tuple(subject.key), tuple(values)).run(
                connection, {**{f"where_{k}": v for k, v in subject.key.items()}, **values}
            )
    if subject.service_id is not None:
        service_arn = arns.service_arn(record.region, record.account_id, record.service_name)
        services_state.refresh(connection, subject.service_id, service_arn, now)
    return True


def event_of(
    record: Any,
    phase: str,
    provisioner: str,
    status: str | None = None,
    message: str | None = None,
    seconds: float | None = None,
) -> DeploymentEvent:
    """The observers' event for a deployment record."""
    return DeploymentEvent(
        phase,
        str(record.id),
        target_words(str(record.target_type)),
        resource_name(
            record.environment_name,
            record.service_name,
            record.service_instance_name,
            record.component_name,
            str(record.target_type),
        ),
        provisioner,
        status,
        message,
        seconds,
    )


def record_report(
    connection: Connection,
    now: float,
    record: Any,
    outputs: list[dict[str, str]],
    message: str | None,
    reported_status: str | None = None,
) -> None:
    """Record a notification's outputs, message (when given) and reported status (when given) on the
    deployment, in the caller's transaction, without settling it."""
    values: dict[str, Any] = {"outputs": orjson.dumps(outputs).decode(), "last_modified_at": now}
    if message is not None:
        values["deployment_status_message"] = message
    if reported_status is not None:
        values["reported_status"] = reported_status
    connection.execute(sa.update(deployments).where(deployments.c.id == record.id).values(**values))


def finish(
    runtime: Runtime, record: Any, subject: Subject | None, outcome: Finish, progress: dict[str, Any]
) -> None:
    """Settle the deployment in a write transaction of its own."""
    with runtime.database.write() as connection:
        record_finish(connection, runtime.clock.now(), record, subject, outcome, progress, runtime.announce)


def keep_warnings(runtime: Runtime, record: Any, warnings: list[str]) -> None:
    """Record `warnings` with the deployment (shown in its `deploymentStatusMessage` after its own message),
    each once however often a step repeats."""
    if not warnings:
        return
    with runtime.database.write() as connection:
        where = deployments.c.id == record.id
        text = connection.execute(sa.select(deployments.c.target_state).where(where)).scalar()
        merged = added_warnings(str(text), warnings) if text else None
        if merged is not None and merged != text:
            connection.execute(sa.update(deployments).where(where).values(target_state=merged))


def save(runtime: Runtime, record: Any, progress: dict[str, Any]) -> None:
    """Persist a step's progress on the deployment record."""
    with runtime.database.write() as connection:
        deployment_store.save_progress(connection, record.id, progress, runtime.clock.now())
