"""The deployment job: render the template, provision it through CloudFormation, record the outcome.

Invariants: each step re-reads the deployment and acts only while it is in flight; the stack id and
chosen action are saved before the next step, and CloudFormation calls carry the deployment id as their
token, so a step repeated after a crash never starts a second stack operation; the resource's version,
spec, inputs and outputs change only when its deployment succeeds; a render failure or a permanent
provisioning error ends the deployment FAILED with the reason, never an API error; so does a subject whose
provisioning method no provisioner here serves (the message names the provisioner it needs).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.bundles.load import load_bundle
from baryon.domain import arns
from baryon.domain.deployments import (
    CANCEL_MESSAGE,
    CANCELLED,
    CANCELLING,
    DELETE,
    DELETE_COMPLETE,
    DELETE_FAILED,
    FAILED,
    FINAL,
    SUCCEEDED,
)
from baryon.domain.provisioning import CLOUDFORMATION
from baryon.engine.jobs import Job
from baryon.engine.outcomes import Done, Outcome, Retry, Wait
from baryon.engine.provisioners import cloudformation as cfn
from baryon.engine.provisioners.errors import ProvisionError
from baryon.engine.provisioners.targets import Target
from baryon.engine.subjects import Subject, load
from baryon.render.errors import RenderError
from baryon.render.jinja import render_template
from baryon.runtime import Runtime
from baryon.store import deployments as deployment_store
from baryon.store import prepared
from baryon.store import services as services_state
from baryon.store.schema import deployments, tags, template_versions

log = logging.getLogger("baryon.engine.deploy")
D = deployments.c
V = template_versions.c
POLL_SECONDS = 1.0
JOB_KIND = deployment_store.JOB_KIND


@dataclass(frozen=True)
class Finish:
    status: str
    message: str | None = None
    outputs: list[dict[str, str]] | None = None
    resources: list[dict[str, str]] | None = None


def _version(connection: Connection, template_id: int, major: int, minor: int) -> Any:
    return connection.execute(
        sa.select(V.bundle, V.bundle_info).where(
            V.template_id == template_id, V.major == major, V.minor == minor
        )
    ).first()


def _target(record: Any) -> dict[str, Any]:
    state: dict[str, Any] = orjson.loads(record.target_state)
    target: dict[str, Any] = next(iter(state.values()))
    return target


#: (version row id, its creation time, part) -> (file name, template source). A registered version's bundle
#: never changes; the creation time tells a version apart from a later one that reused a deleted row id.
_SOURCES: dict[tuple[int, float, str], tuple[str, str]] = {}
_SOURCES_MAX = 256
_SOURCES_LOCK = threading.Lock()


def _source(runtime: Runtime, subject: Subject, major: int, minor: int) -> tuple[str, str]:
    """The IaC file of the subject's part in a template version, read and unpacked once per process."""
    with runtime.database.read() as connection:
        identity = connection.execute(
            sa.select(V.id, V.created_at).where(
                V.template_id == subject.template_id,
                V.major == major,
                V.minor == minor,
                V.bundle.is_not(None),
            )
        ).first()
        if identity is None:
            raise RenderError(
                "the template version is no longer available",
                file_name=f"{subject.template_name} {major}.{minor}",
            )
        key = (int(identity.id), float(identity.created_at), subject.part)
        cached = _SOURCES.get(key)
        if cached is not None:
            return cached
        version = _version(connection, subject.template_id, major, minor)
    bundle = load_bundle(
        version.bundle,
        kind=subject.template_kind,
        has_pipeline=subject.part == "pipeline_infrastructure"
        or "pipeline_infrastructure" in orjson.loads(version.bundle_info or "{}").get("parts", {}),
    )
    part = bundle.parts[subject.part]
    file_name = f"{subject.part}/{part['files'][0]}"
    found = (file_name, bundle.files[file_name].decode())
    with _SOURCES_LOCK:
        if len(_SOURCES) >= _SOURCES_MAX:
            _SOURCES.pop(next(iter(_SOURCES)))
        _SOURCES[key] = found
    return found


def _render(runtime: Runtime, subject: Subject, target: dict[str, Any]) -> str:
    if subject.source is not None:
        file_name, source = subject.source(target)
    else:
        major, minor = int(target["templateMajorVersion"]), int(target["templateMinorVersion"])
        file_name, source = _source(runtime, subject, major, minor)
    inputs = target.get("inputs")
    if inputs is None:
        inputs = orjson.loads(subject.row.inputs)
    return render_template(source, subject.context(inputs), file_name=file_name)


def _finish(
    runtime: Runtime, record: Any, subject: Subject | None, finish: Finish, progress: dict[str, Any]
) -> None:
    now = runtime.clock.now()
    target = _target(record)
    with runtime.database.write() as connection:
        current = deployment_store.find(connection, record.id)
        if current is None or current.deployment_status in FINAL:
            return
        settled = {
            "deployment_status": finish.status,
            "deployment_status_message": finish.message,
            "outputs": orjson.dumps(finish.outputs).decode() if finish.outputs is not None else None,
            "resources": orjson.dumps(finish.resources).decode() if finish.resources is not None else None,
            "progress": orjson.dumps(progress).decode(),
            "last_modified_at": now,
            "completed_at": now,
        }
        prepared.update(deployments, ("id",), tuple(settled)).run(
            connection, {"where_id": record.id, **settled}
        )
        if subject is None:
            return
        if finish.status == DELETE_COMPLETE:
            connection.execute(sa.delete(subject.table).where(subject.where))
            arn = record.target_arn
            connection.execute(sa.delete(tags).where(tags.c.resource_arn == arn))
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
                keys = tuple(subject.key)
                prepared.update(subject.table, keys, tuple(values)).run(
                    connection, {**{f"where_{k}": v for k, v in subject.key.items()}, **values}
                )
        if subject.service_id is not None:
            service_arn = arns.arn(record.region, record.account_id, f"service/{record.service_name}")
            services_state.refresh(connection, subject.service_id, service_arn, now)


def _save(runtime: Runtime, record: Any, progress: dict[str, Any]) -> None:
    with runtime.database.write() as connection:
        deployment_store.save_progress(connection, record.id, progress, runtime.clock.now())


def step(runtime: Runtime, job: Job) -> Outcome:
    deployment_id = str(job.payload["deployment_id"])
    with runtime.database.read() as connection:
        record = deployment_store.find(connection, deployment_id)
        subject = load(connection, record) if record is not None else None
    if record is None or record.deployment_status in FINAL:
        return Done("the deployment is already settled")
    progress: dict[str, Any] = orjson.loads(record.progress)
    if subject is None:
        _finish(runtime, record, None, Finish(FAILED, "The resource no longer exists."), progress)
        return Done()
    try:
        if subject.customer_managed:
            return _customer_managed(runtime, record, subject, progress)
        if subject.provisioning != CLOUDFORMATION:
            return _unprovisioned(runtime, record, subject, progress)
        if subject.blocked and not progress:
            return Wait(runtime.clock.now() + POLL_SECONDS)
        target = Target(region=record.region, account_id=record.account_id, role_arn=subject.role_arn)
        if record.operation == DELETE:
            return _delete(
                runtime, record, subject, target, subject.row.stack_id or subject.stack_name, progress
            )
        return _deploy(runtime, record, subject, target, progress, fresh=job.claims == 1 and not progress)
    except ProvisionError as error:
        if error.transient:
            return Retry(str(error))
        status = DELETE_FAILED if record.operation == DELETE else FAILED
        _finish(runtime, record, subject, Finish(status, str(error)), progress)
        return Done()


def _unprovisioned(runtime: Runtime, record: Any, subject: Subject, progress: dict[str, Any]) -> Outcome:
    """No provisioner here serves the subject's method: the deployment fails, saying which one it needs.
    Deleting a subject that never deployed successfully has nothing to remove and completes."""
    if record.operation == DELETE and subject.row.last_succeeded_deployment_id is None:
        _finish(runtime, record, subject, Finish(DELETE_COMPLETE), progress)
        return Done()
    method = subject.provisioning.capitalize()
    kind = record.target_type.lower().replace("_", " ")
    message = f"{method} {kind}s need the {method} provisioner."
    status = DELETE_FAILED if record.operation == DELETE else FAILED
    _finish(runtime, record, subject, Finish(status, message), progress)
    return Done()


def _customer_managed(runtime: Runtime, record: Any, subject: Subject, progress: dict[str, Any]) -> Outcome:
    if record.operation == DELETE:
        _finish(runtime, record, subject, Finish(DELETE_COMPLETE), progress)
        return Done()
    inputs = _target(record).get("inputs", orjson.loads(subject.row.inputs))
    outputs = [{"key": key, "valueString": str(value)} for key, value in inputs.items() if str(value)]
    _finish(runtime, record, subject, Finish(SUCCEEDED, outputs=outputs, resources=[]), progress)
    return Done()


def _deploy(
    runtime: Runtime,
    record: Any,
    subject: Subject,
    target: Target,
    progress: dict[str, Any],
    *,
    fresh: bool = False,
) -> Outcome:
    now = runtime.clock.now()
    if record.deployment_status == CANCELLING and not progress.get("stack_id"):
        _finish(runtime, record, subject, Finish(CANCELLED, CANCEL_MESSAGE), progress)
        return Done()
    if not progress.get("stack_id") or progress.get("action") == "WAIT":
        try:
            body = _render(runtime, subject, _target(record))
        except RenderError as error:
            _finish(runtime, record, subject, Finish(FAILED, str(error)), progress)
            return Done()
        started = cfn.start_deploy(target, subject.stack_name, body, subject.tags, record.id, fresh=fresh)
        progress.update(stack_id=started.stack_id, action=started.action)
        _save(runtime, record, progress)
        if started.action == "WAIT":
            return Wait(now + POLL_SECONDS)
    result = cfn.poll(target, progress["stack_id"], record.id)
    if not cfn.is_terminal(result.status):
        if record.deployment_status == CANCELLING and not progress.get("cancel_issued"):
            progress["cancel_issued"] = cfn.cancel(target, progress["stack_id"])
            _save(runtime, record, progress)
        return Wait(now + POLL_SECONDS)
    if cfn.is_success(result.status, progress["action"]):
        _finish(runtime, record, subject, Finish(SUCCEEDED, None, result.outputs, result.resources), progress)
    elif progress.get("cancel_issued"):
        _finish(runtime, record, subject, Finish(CANCELLED, CANCEL_MESSAGE), progress)
    else:
        reason = result.failure_reason or f"The stack ended in {result.status}."
        _finish(runtime, record, subject, Finish(FAILED, reason), progress)
    return Done()


def _delete(
    runtime: Runtime, record: Any, subject: Subject, target: Target, stack: str, progress: dict[str, Any]
) -> Outcome:
    now = runtime.clock.now()
    if not progress.get("delete_started"):
        action = cfn.start_delete(target, stack, record.id)
        if action == "ABSENT":
            _finish(runtime, record, subject, Finish(DELETE_COMPLETE), progress)
            return Done()
        if action == "WAIT":
            return Wait(now + POLL_SECONDS)
        progress["delete_started"] = True
        _save(runtime, record, progress)
    state = cfn.deleted(target, stack, record.id)
    if state.gone:
        _finish(runtime, record, subject, Finish(DELETE_COMPLETE), progress)
        return Done()
    if state.failure is not None:
        _finish(runtime, record, subject, Finish(DELETE_FAILED, state.failure), progress)
        return Done()
    return Wait(now + POLL_SECONDS)


def give_up(runtime: Runtime, job: Job, reason: str) -> None:
    with runtime.database.read() as connection:
        record = deployment_store.find(connection, str(job.payload["deployment_id"]))
        subject = load(connection, record) if record is not None else None
    if record is not None:
        status = DELETE_FAILED if record.operation == DELETE else FAILED
        _finish(runtime, record, subject, Finish(status, reason), orjson.loads(record.progress))
