"""The CloudFormation provisioner ("jinja" bundle parts and components): render the template, then create,
update or delete the resource's stack through `stacks`, one short call per step.

Deploying: render and `start_deploy` (saved: the stack id and the action) until CloudFormation accepts an
operation, then `poll` until the stack is terminal: SUCCEEDED with its outputs and resources, FAILED with
the first failed resource's reason. Before it is sent, the template as rendered goes through cfn-lint
(`template_lint.check_rendered`): errors fail the deployment (nothing is sent), warnings are kept with it.
Deleting: `start_delete`, then `deleted` until the stack is gone (DELETE_COMPLETE) or DELETE_FAILED.

Cancel (the deployment is CANCELLING when a step starts):
- nothing started yet, or only waiting for a busy stack: CANCELLED at once (nothing to undo; a stack that
  disappears meanwhile is never created);
- our update running: CancelUpdateStack, then CANCELLED once the rollback settles;
- our creation running: DeleteStack (CloudFormation stops the creation), then CANCELLED once it is gone;
- a deletion: CANCELLED at once; a DeleteStack already issued cannot be stopped, the message says so and
  the resource can be deleted (it then finds nothing) or deployed (it then creates the stack) again.

A deployment that finds the stack busy with an update it did not start (a left-over: only one deployment
of a resource is in flight) asks CloudFormation once to cancel that update, and waits for the rollback.

Deadline (`BARYON_DEADLINE_CLOUDFORMATION_SECONDS`, default DEFAULT_DEADLINE): counted from the
provisioner's first step of the deployment; a step that finds the stack still in an *_IN_PROGRESS status
past it settles the deployment FAILED (DELETE_FAILED) with "CloudFormation stack … stayed <status> for
…", after a CancelUpdateStack where one can end the update. The stack is left as it is; the next deploy
or delete deals with it (a creation still running is deleted by a delete; anything else is waited for,
again within the deadline).

The local cloud (the moto server `baryon up` runs) gets the local-cloud layer (`localcloud.layer`):
adapted templates, stand-ins named on the deployment, its own errors failing at once, its leftovers
removed before a deletion. Every other CloudFormation gets the template exactly as rendered.

Invariants: the stack id and action are saved before the next step, and every CloudFormation call carries
the deployment id as its token, so a repeated step never starts a second stack operation; the resource's
version, spec, inputs and outputs change only when its deployment succeeds.
"""

from __future__ import annotations

import logging

from baryon.domain.deployments import CANCEL_MESSAGE, CANCELLED, CANCELLING, DELETE_COMPLETE, SUCCEEDED
from baryon.domain.outcomes import Outcome, Wait
from baryon.engine.provisioners import stacks as cfn
from baryon.engine.provisioners.base import Settled, Traits, deadline, duration, overdue
from baryon.engine.provisioners.errors import ProvisionError
from baryon.engine.provisioners.localcloud import layer as local_layer
from baryon.engine.provisioners.localcloud.layer import Layer
from baryon.engine.provisioners.stack_names import stack_name, stack_tags
from baryon.engine.provisioners.targets import Target
from baryon.engine.provisioners.template_lint import check_rendered
from baryon.engine.settle import Finish, target_of
from baryon.engine.steps import BundlePart, StepInput, bundle_part
from baryon.render.errors import RenderError
from baryon.render.jinja import render_template
from baryon.store import deployments as deployment_store
from baryon.store import run_logs

__all__ = ["PROVISIONER", "CloudFormation", "stack_name", "stack_tags"]

POLL_SECONDS = 1.0
DEFAULT_DEADLINE = 7200.0
#: Progress member that records the cancel issued: "update" (CancelUpdateStack) or "create" (DeleteStack).
CANCEL_ISSUED = "cancel_issued"
#: Progress member that records the CancelUpdateStack asked for a left-over update the deployment waits for.
STALE = "stale_update_cancelled"
#: Progress member that records the id of the last stack event copied into the deployment's story.
EVENTS_SEEN = "events_seen"

log = logging.getLogger("baryon.engine.cloudformation")


def _target(given: StepInput) -> Target:
    record = given.record
    return Target(region=record.region, account_id=record.account_id, role_arn=given.subject.role_arn)


def render(given: StepInput, part: BundlePart | None = None) -> str:
    """The deployment's template body: the subject's own file (components) or its part's first file in
    the target version (`part` when the caller has read it already), rendered with the target's inputs."""
    return rendered(given, part)[1]


def rendered(given: StepInput, part: BundlePart | None = None) -> tuple[str, str]:
    """The bundle file name (e.g. ``instance_infrastructure/cloudformation.yaml``) and the rendered body."""
    subject, target = given.subject, target_of(given.record)
    if subject.source is not None:
        file_name, source = subject.source(target)
    else:
        major, minor = int(target["templateMajorVersion"]), int(target["templateMinorVersion"])
        part = part or bundle_part(given.runtime, subject, major, minor)
        name = str(part.info["files"][0])
        file_name, source = f"{subject.part}/{name}", part.files[name].decode()
    return file_name, render_template(source, subject.context(given.inputs()), file_name=file_name)


def _cancel_update(target: Target, stack_id: str) -> bool:
    """CancelUpdateStack where the endpoint can: whether it was issued (an endpoint that refuses it for
    good only means that the update runs to its end)."""
    try:
        return cfn.cancel(target, stack_id)
    except ProvisionError as error:
        if error.transient:
            raise
        return False


def _started_text(name: str, stack_id: str, action: str, status: str | None) -> str:
    if action == "CREATE":
        return f"CreateStack {name} accepted ({stack_id}); waiting for the stack"
    if action == "UPDATE":
        return f"UpdateStack {name} accepted ({stack_id}); waiting for the stack"
    if action == "NO_CHANGES":
        return f"Stack {name} already has this template and these tags: nothing to update"
    return f"Stack {name} is busy ({status}); waiting until it settles"


def copy_events(given: StepInput, target: Target, stack_id: str) -> None:
    """Copy the stack's events of this deployment that are not in its story yet, with the id of the last
    one copied, in one transaction (a repeated step copies nothing twice). Reading the events is an aid:
    a failure to read them is logged and the step goes on."""
    record = given.record
    try:
        events = cfn.new_events(
            target,
            str(stack_id),
            cfn.cfn_token(record.id),
            float(record.created_at),
            given.progress.get(EVENTS_SEEN),
        )
    except ProvisionError as error:
        log.info("stack events of deployment %s not read: %s", record.id, error)
        return
    if not events:
        return
    now = given.runtime.clock.now()
    with given.runtime.database.write() as connection:
        for event in events:
            run_logs.note(connection, record.id, run_logs.CLOUDFORMATION, event.text, now=now, at=event.at)
        given.progress[EVENTS_SEEN] = events[-1].event_id
        deployment_store.save_progress(connection, record.id, given.progress, now)


class CloudFormation(Settled):
    traits = Traits("jinja", "CloudFormation", "its stack", "cloudformation", DEFAULT_DEADLINE)

    # --- deploying --------------------------------------------------------------------------------

    def deploy(self, given: StepInput) -> Outcome:
        target = _target(given)
        cloud = local_layer.for_target(given.runtime.settings, target)
        with cloud.errors(given.subject.stack_name, given.progress):
            return self._deploy(given, target, cloud)

    def _deploy(self, given: StepInput, target: Target, cloud: Layer) -> Outcome:
        record, progress = given.record, given.progress
        cancelling = record.deployment_status == CANCELLING
        if cancelling and (not progress.get("stack_id") or progress.get("action") == "WAIT"):
            return given.finish(Finish(CANCELLED, CANCEL_MESSAGE))
        if not progress.get("stack_id") or progress.get("action") == "WAIT":
            started = self._start(given, target, cloud)
            if started is not None:
                return started
        try:
            result = cfn.poll(target, progress["stack_id"], record.id)
        except ProvisionError as error:
            if error.code == "StackNotFound" and progress.get(CANCEL_ISSUED):
                return given.finish(Finish(CANCELLED, CANCEL_MESSAGE))
            raise
        copy_events(given, target, str(progress["stack_id"]))
        if not cfn.is_terminal(result.status):
            if cancelling and not progress.get(CANCEL_ISSUED):
                progress[CANCEL_ISSUED] = self._cancel(given, target, str(progress["action"]))
                given.save()
            return self._wait(given, target, result.status)
        if cfn.is_success(result.status, progress["action"]):
            given.tell(
                f"Stack {given.subject.stack_name} is {result.status}: read {len(result.outputs)} output(s) "
                f"and {len(result.resources)} resource(s)"
            )
            succeeded = Finish(SUCCEEDED, None, result.outputs, result.resources)
            return given.finish(cloud.succeeded(progress, str(progress["stack_id"]), succeeded))
        if progress.get(CANCEL_ISSUED):
            return given.finish(Finish(CANCELLED, CANCEL_MESSAGE))
        return given.fail(result.failure_reason or f"The stack ended in {result.status}.")

    def _start(self, given: StepInput, target: Target, cloud: Layer) -> Outcome | None:
        """Render and ask CloudFormation for the operation; an outcome when the step ends here (a render
        failure, a busy stack), None when an operation was started and is to be polled."""
        progress = given.progress
        try:
            file_name, body = rendered(given, given.part)
        except RenderError as error:
            return given.fail(str(error))
        refused = check_rendered(given, file_name, body, local_cloud=cloud.local)
        if refused is not None:
            return refused
        subject = given.subject
        before = progress.get("action")
        if before != "WAIT":
            given.tell(f"Rendered the stack template ({len(body.encode())} bytes)")
        body = cloud.template(progress, body, subject.stack_name)
        adapted = cloud.adapted(progress)
        if adapted is not None and before != "WAIT":
            given.tell(adapted)
        known = getattr(subject.row, "stack_id", None)
        started = cfn.start_deploy(
            target,
            subject.stack_name,
            body,
            subject.tags,
            given.record.id,
            fresh=given.fresh,
            known_stack_id=known,
        )
        progress.update(stack_id=started.stack_id, action=started.action)
        if started.action != before:
            given.tell(_started_text(subject.stack_name, started.stack_id, started.action, started.status))
        if started.action == "WAIT" and started.status == "UPDATE_IN_PROGRESS" and not progress.get(STALE):
            # Only a deployment of this resource updates its stack, and none other is in flight: an update
            # still running is left over (e.g. from a deployment past its deadline). Roll it back.
            progress[STALE] = _cancel_update(target, started.stack_id) or "refused"
        given.save()
        if started.action == "WAIT":
            return self._wait(given, target, started.status)
        return None

    def _cancel(self, given: StepInput, target: Target, action: str) -> str | bool:
        """Stop our running operation: "update" (CancelUpdateStack issued), "create" (DeleteStack issued
        on the stack being created), False when there was nothing to stop."""
        stack_id = str(given.progress["stack_id"])
        if action == "CREATE":
            cfn.start_delete(target, stack_id, f"{given.record.id}-cancel")
            return "create"
        return "update" if _cancel_update(target, stack_id) else False

    def _wait(self, given: StepInput, target: Target, status: str | None, deleting: bool = False) -> Outcome:
        """Poll again soon, or settle failed when the wait is past the deadline."""
        waited = overdue(given, self)
        if waited is None:
            return Wait(given.runtime.clock.now() + POLL_SECONDS)
        stack = str(given.progress.get("stack_id") or given.subject.stack_name)
        if status == "UPDATE_IN_PROGRESS" and not deleting:
            _cancel_update(target, stack)
        limit = deadline(given.runtime.settings, self) or 0.0
        name = given.subject.stack_name
        return given.fail(
            f"CloudFormation stack {name} stayed {status or 'busy'} for {duration(waited)}, past the "
            f"deadline of {duration(limit)} (BARYON_DEADLINE_CLOUDFORMATION_SECONDS)."
        )

    # --- deleting ---------------------------------------------------------------------------------

    def delete(self, given: StepInput) -> Outcome:
        target = _target(given)
        cloud = local_layer.for_target(given.runtime.settings, target)
        with cloud.errors(given.subject.stack_name, given.progress):
            return self._delete(given, target, cloud)

    def _delete(self, given: StepInput, target: Target, cloud: Layer) -> Outcome:
        record, subject, progress = given.record, given.subject, given.progress
        stack = subject.row.stack_id or subject.stack_name
        if record.deployment_status == CANCELLING:
            if not progress.get("delete_started"):
                return given.finish(Finish(CANCELLED, CANCEL_MESSAGE))
            return given.finish(
                Finish(
                    CANCELLED,
                    f"{CANCEL_MESSAGE} CloudFormation cannot stop the deletion of stack {subject.stack_name} "
                    "once it has started; delete the resource again to finish, or deploy it again.",
                )
            )
        if not progress.get("delete_started"):
            cloud.before_delete(stack, progress)
            action = cfn.start_delete(target, stack, record.id)
            if action == "ABSENT":
                given.tell(f"Stack {subject.stack_name} does not exist: nothing to delete")
                return given.finish(Finish(DELETE_COMPLETE))
            if action == "WAIT":
                return self._wait(given, target, cfn.stack_status(target, stack), deleting=True)
            progress["delete_started"] = True
            given.save()
            given.tell(f"DeleteStack {subject.stack_name} accepted; waiting for the stack")
        state = cfn.deleted(target, stack, record.id)
        copy_events(given, target, stack)
        if state.gone:
            cloud.after_delete(progress)
            return given.finish(Finish(DELETE_COMPLETE))
        if state.failure is not None:
            return given.fail(state.failure)
        return self._wait(given, target, "DELETE_IN_PROGRESS", deleting=True)


PROVISIONER = CloudFormation()
