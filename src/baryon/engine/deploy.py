"""The deployment job: find the deployment's provisioner and run its step.

Job: each step re-reads the deployment and its resource (`Subject`), and acts only while the deployment is
in flight; it finds the provisioning method (`registry.method_of`, remembered in the progress so later
steps skip the bundle) and asks that provisioner to `deploy` or `delete`. A deployment that must wait for
others (`Subject.blocked`: a pipeline for its service's instances) polls with a delay that grows with its
wait (`blocked_delay`) before its provisioner is asked anything; a deployment cancelled before any
provisioner acted on it ends CANCELLED at once.

Invariants: the resource's version, spec, inputs and outputs change only when its deployment succeeds; a
template version that cannot be read, a method without a provisioner and a permanent provisioning error
end the deployment FAILED (DELETE_FAILED for a deletion) with the reason, never an API error; a transient
provisioning error is a `Retry` under the job's policy, and when the retries run out `give_up` settles the
deployment with the last reason.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from baryon.domain import jobs as job_kinds
from baryon.domain.deployments import CANCEL_MESSAGE, CANCELLED, CANCELLING, DELETE, FAILED, FINAL
from baryon.domain.outcomes import Done, Outcome, Retry, Wait
from baryon.domain.story import STARTED
from baryon.engine.provisioners import registry
from baryon.engine.provisioners.errors import ProvisionError
from baryon.engine.settle import Finish, event_of, finish
from baryon.engine.steps import BundlePart, StepInput, bundle_part, failure_status, version_of
from baryon.engine.subjects import load
from baryon.render.errors import RenderError
from baryon.runtime import Runtime
from baryon.store import deployments as deployment_store
from baryon.store import run_logs
from baryon.store.jobs import Job

log = logging.getLogger("baryon.engine.deploy")
POLL_SECONDS = 1.0
#: A deployment that waits for others (a pipeline for its service's instances) looks again after a tenth
#: of the time it has waited so far, at least every POLL_SECONDS and at most every BLOCKED_MAX_SECONDS.
BLOCKED_SHARE = 0.1
BLOCKED_MAX_SECONDS = 30.0
JOB_KIND = job_kinds.DEPLOY


def step(runtime: Runtime, job: Job) -> Outcome:
    deployment_id = str(job.payload["deployment_id"])
    with runtime.database.read() as connection:
        record = deployment_store.find(connection, deployment_id)
        subject = load(connection, record) if record is not None else None
    if record is None or record.deployment_status in FINAL:
        return Done("the deployment is already settled")
    progress: dict[str, Any] = orjson.loads(record.progress)
    if subject is None:
        finish(runtime, record, None, Finish(FAILED, "The resource no longer exists."), progress)
        return Done()
    given = StepInput(runtime, job, record, subject, progress, fresh=job.claims == 1 and not progress)
    try:
        if record.deployment_status == CANCELLING and not progress:
            # Cancelled before any provisioner acted (a pipeline still waiting for its instances included).
            return given.finish(Finish(CANCELLED, CANCEL_MESSAGE))
        if subject.problem is not None:
            return given.fail(subject.problem)
        if subject.blocked and not progress:
            now = runtime.clock.now()
            return Wait(now + blocked_delay(now - record.created_at))
        method = registry.known_method(progress, subject)
        if method is None:
            given.part = _part(given)
            if given.part is None:
                return Done()
            method = given.part.engine
        provisioner = registry.provisioner(method)
        if provisioner is None:
            return given.fail(f"No provisioner handles the rendering engine {method!r}.")
        if registry.METHOD not in progress:
            _started(given, provisioner.traits.deadline_name)
        # Remembered with the step's progress, so later steps need not read the bundle part again.
        progress[registry.METHOD] = method
        return provisioner.delete(given) if record.operation == DELETE else provisioner.deploy(given)
    except ProvisionError as error:
        if error.transient:
            return Retry(str(error))
        return given.fail(str(error))


def _started(given: StepInput, provisioner: str) -> None:
    """The story's first line and the observers' start event, when a provisioner is first chosen; told once
    (a step repeated before its progress was saved finds the line already there)."""
    record, runtime = given.record, given.runtime
    try:
        version = " (template version {}.{})".format(*version_of(record, given.subject))
    except (AttributeError, KeyError, TypeError, ValueError):
        version = ""  # a component has no template version
    message = f"{record.operation} of {record.target_arn}{version} through {provisioner}"
    now = runtime.clock.now()
    with runtime.database.write() as connection:
        if run_logs.has_source(connection, record.id, run_logs.BARYON):
            return
        run_logs.note(connection, record.id, run_logs.BARYON, message, now=now)
    runtime.announce(event_of(record, STARTED, provisioner))


def blocked_delay(waited: float) -> float:
    """Seconds until a blocked deployment that has waited `waited` seconds looks again: short while the
    wait is short (CloudFormation instances settle in minutes), growing with it (Terraform instances may
    wait hours for their automation), so the delay it adds stays within a tenth of the wait."""
    return min(BLOCKED_MAX_SECONDS, max(POLL_SECONDS, waited * BLOCKED_SHARE))


def _part(given: StepInput) -> BundlePart | None:
    """The bundle part the deployment uses; None (deployment settled failed) when the template version
    cannot be read."""
    try:
        return bundle_part(given.runtime, given.subject, *version_of(given.record, given.subject))
    except RenderError as error:
        given.fail(str(error))
        return None


def give_up(runtime: Runtime, job: Job, reason: str) -> None:
    with runtime.database.read() as connection:
        record = deployment_store.find(connection, str(job.payload["deployment_id"]))
        subject = load(connection, record) if record is not None else None
    if record is not None:
        finish(
            runtime, record, subject, Finish(failure_status(record), reason), orjson.loads(record.progress)
        )
