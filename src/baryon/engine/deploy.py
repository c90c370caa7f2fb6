"""The deployment job: render the template, provision it through CloudFormation, record the outcome.

Invariants: each step re-reads the deployment and acts only while it is in flight; the stack id and
chosen action are saved before the next step, and CloudFormation calls carry the deployment id as their
token, so a step repeated after a crash never starts a second stack operation; the resource's version,
spec, inputs and outputs change only when its deployment succeeds; a render failure or a permanent
provisioning error ends the deployment FAILED with the reason, never an API error. A deployment that
must wait for others (`Subject.blocked`) polls with a delay that grows with its wait (`blocked_delay`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson

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
from baryon.engine import commands, selfmanaged
from baryon.engine.jobs import Job
from baryon.engine.outcomes import Done, Outcome, Retry, Wait
from baryon.engine.provisioners import cloudformation as cfn
from baryon.engine.provisioners.errors import ProvisionError
from baryon.engine.provisioners.targets import Target
from baryon.engine.settle import Finish
from baryon.engine.settle import finish as _finish
from baryon.engine.settle import save as _save
from baryon.engine.settle import target_of as _target
from baryon.engine.steps import BundlePart, StepInput, bundle_part, version_of
from baryon.engine.subjects import Subject, load
from baryon.render.errors import RenderError
from baryon.render.jinja import render_template
from baryon.runtime import Runtime
from baryon.store import deployments as deployment_store
from baryon.store.schema import deployments, template_versions

log = logging.getLogger("baryon.engine.deploy")
D = deployments.c
V = template_versions.c
POLL_SECONDS = 1.0
#: A deployment that waits for others (a pipeline for its service's instances) looks again after a tenth
#: of the time it has waited so far, at least every POLL_SECONDS and at most every BLOCKED_MAX_SECONDS.
BLOCKED_SHARE = 0.1
BLOCKED_MAX_SECONDS = 30.0
JOB_KIND = deployment_store.JOB_KIND
#: Provisioning methods other than CloudFormation, by the rendering engine of the bundle part.
METHODS: dict[str, Callable[[StepInput], Outcome]] = {"hcl": selfmanaged.step, "codebuild": commands.step}


def _source(
    runtime: Runtime, subject: Subject, major: int, minor: int, part: BundlePart | None = None
) -> tuple[str, str]:
    """The IaC file of the subject's part in a template version (bundles are unpacked once per process);
    `part` when the caller has already read it."""
    part = part or bundle_part(runtime, subject, major, minor)
    name = str(part.info["files"][0])
    return f"{subject.part}/{name}", part.files[name].decode()


def _render(
    runtime: Runtime, subject: Subject, target: dict[str, Any], part: BundlePart | None = None
) -> str:
    if subject.source is not None:
        file_name, source = subject.source(target)
    else:
        major, minor = int(target["templateMajorVersion"]), int(target["templateMinorVersion"])
        file_name, source = _source(runtime, subject, major, minor, part)
    inputs = target.get("inputs")
    if inputs is None:
        inputs = orjson.loads(subject.row.inputs)
    return render_template(source, subject.context(inputs), file_name=file_name)


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
        if subject.blocked and not progress:
            now = runtime.clock.now()
            return Wait(now + blocked_delay(now - record.created_at))
        fresh = job.claims == 1 and not progress
        part: BundlePart | None = None
        engine = progress.get("method") or subject.engine
        if engine is None:
            part = _part(runtime, record, subject)
            if part is None:
                return Done()
            engine = part.engine
        # Remembered with the step's progress, so later steps need not read the bundle part again.
        progress["method"] = engine
        method = METHODS.get(engine)
        if method is not None:
            return method(StepInput(runtime, job, record, subject, progress))
        target = Target(region=record.region, account_id=record.account_id, role_arn=subject.role_arn)
        if record.operation == DELETE:
            return _delete(
                runtime, record, subject, target, subject.row.stack_id or subject.stack_name, progress
            )
        return _deploy(runtime, record, subject, target, progress, fresh=fresh, part=part)
    except ProvisionError as error:
        if error.transient:
            return Retry(str(error))
        status = DELETE_FAILED if record.operation == DELETE else FAILED
        _finish(runtime, record, subject, Finish(status, str(error)), progress)
        return Done()


def blocked_delay(waited: float) -> float:
    """Seconds until a blocked deployment that has waited `waited` seconds looks again: short while the
    wait is short (CloudFormation instances settle in minutes), growing with it (Terraform instances may
    wait hours for their automation), so the delay it adds stays within a tenth of the wait."""
    return min(BLOCKED_MAX_SECONDS, max(POLL_SECONDS, waited * BLOCKED_SHARE))


def _part(runtime: Runtime, record: Any, subject: Subject) -> BundlePart | None:
    """The bundle part the deployment uses; None (deployment settled FAILED) when the template version
    cannot be read."""
    major, minor = version_of(record, subject)
    try:
        return bundle_part(runtime, subject, major, minor)
    except RenderError as error:
        status = DELETE_FAILED if record.operation == DELETE else FAILED
        _finish(runtime, record, subject, Finish(status, str(error)), orjson.loads(record.progress))
        return None


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
    part: BundlePart | None = None,
) -> Outcome:
    now = runtime.clock.now()
    if record.deployment_status == CANCELLING and not progress.get("stack_id"):
        _finish(runtime, record, subject, Finish(CANCELLED, CANCEL_MESSAGE), progress)
        return Done()
    if not progress.get("stack_id") or progress.get("action") == "WAIT":
        try:
            body = _render(runtime, subject, _target(record), part)
        except RenderError as error:
            _finish(runtime, record, subject, Finish(FAILED, str(error)), progress)
            return Done()
        started = cfn.start_deploy(
            target,
            subject.stack_name,
            body,
            subject.tags,
            record.id,
            fresh=fresh,
            known_stack_id=getattr(subject.row, "stack_id", None),
        )
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
