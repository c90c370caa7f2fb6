"""CloudFormation stack operations: create, update, poll, cancel and delete one stack per Proton resource.

Every function here is one short, steppable call that the deployment job repeats until it is done; none
waits for CloudFormation. Whatever must survive a crash is returned to the caller, who persists it
before the next step: the stack id and the action from `start_deploy`, the client request token it
chose, whether it issued a cancel.

Deploying (the job's loop)::

    d = start_deploy(target, name, body, tags, token)     # repeat with the same token after a crash
    d.action == "WAIT"       -> the stack is busy (another operation, or the deletion of a stack that
                                failed to create); call start_deploy again later, same token
    d.action == "CREATE" | "UPDATE" | "NO_CHANGES"        -> persist d.stack_id and d.action, then
    r = poll(target, d.stack_id, token)                   # until is_terminal(r.status)
    is_success(r.status, d.action)  -> SUCCEEDED with r.outputs / r.resources
    otherwise                       -> FAILED with r.failure_reason (or CANCELLED if the job cancelled)

Deleting: `start_delete` ("DELETE" | "ABSENT" | "WAIT"), then `deleted` until gone or failed.
Cancelling: `cancel` issues CancelUpdateStack only while the stack is UPDATE_IN_PROGRESS and says
whether it did; the update then rolls back to UPDATE_ROLLBACK_COMPLETE, which `is_success` reports as not
a success (the job maps it to CANCELLED when it had issued the cancel). A stack being created has no
cancel call: its creation is stopped by deleting it (`start_delete`). `stack_status` reads the status
alone, for the messages of a deployment that waited past its deadline.

`start_deploy` decides from the stack found under `name`:

- none, or DELETE_COMPLETE: CreateStack (OnFailure=ROLLBACK) -> "CREATE";
- its latest operation was started with our token (read from the stack events' ClientRequestToken):
  that operation's action, without calling CloudFormation again — so a step repeated after a crash
  never starts a second operation, even after that operation failed (the events are not read on the
  job's first step, `fresh`, when no call with the token can have been made; on that first step a settled
  stack known from the resource's last deployment is updated without comparing templates, and anything
  else goes through this decision);
- ROLLBACK_COMPLETE, ROLLBACK_FAILED, CREATE_FAILED, REVIEW_IN_PROGRESS (a stack that can only be
  deleted): DeleteStack (token derived from ours) -> "WAIT"; once it is gone the next call creates;
- any other *_IN_PROGRESS: "WAIT";
- DELETE_FAILED, UPDATE_ROLLBACK_FAILED, IMPORT_ROLLBACK_FAILED: a permanent ProvisionError (an operator
  must repair the stack: retry the delete, or continue-update-rollback);
- a settled stack whose template (GetTemplate, Original) and tags already equal the request:
  "NO_CHANGES" without calling UpdateStack; otherwise UpdateStack -> "UPDATE", and CloudFormation's
  "No updates are to be performed." also becomes "NO_CHANGES". NO_CHANGES is a success whenever the
  stack is settled (`is_success`), and `poll` still reads outputs and resources.

Where events carry no ClientRequestToken (moto), a repeated step falls back on the comparison: after a
successful operation it answers NO_CHANGES (same outcome); after a failed create it recreates the stack
(the deployment is retried rather than reported failed).

Stack names, stack tags and client request tokens are `stack_names`.

Outputs and resources are read only once the stack is terminal (else empty): outputs as
`{"key", "valueString"}` in CloudFormation's order, dropping outputs whose value is empty (Proton's
`valueString` has a minimum length of 1); resources as `{"name": logical id, "identifier": physical id,
"provisioningEngine": "CLOUDFORMATION"}`, skipping resources without a physical id or already deleted.
`failure_reason` (set for failed, rolled-back and DELETE_FAILED stacks) is the first failed resource of
the operation, "LogicalId (Type): reason", skipping CloudFormation's "Resource creation cancelled"
follow-ups; else the stack's StackStatusReason; else a sentence naming the status. It describes the
token's operation (or the latest one), so on a NO_CHANGES deploy to an UPDATE_ROLLBACK_COMPLETE stack it
names the earlier failed update — the caller goes by `is_success` and ignores it then.

Invariants: no function sleeps or loops on CloudFormation; every AWS failure surfaces as a
`ProvisionError` (transient or permanent, see `errors`); client request tokens sent to CloudFormation
match its pattern (others are replaced by a digest, the same for the same input); templates are sent
inline (TemplateBody, at most 51,200 bytes — larger bodies fail permanently) with CAPABILITY_IAM,
CAPABILITY_NAMED_IAM and CAPABILITY_AUTO_EXPAND; Proton inputs are rendered into the body, never passed
as stack parameters. `new_events` reads one deployment's stack events for its story.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from botocore.exceptions import ClientError

from baryon.engine.provisioners.errors import (
    BOTO_ERRORS,
    EXPIRED_CODES,
    ProvisionError,
    error_code,
    error_message,
    from_boto,
    not_an_aws_reply,
)
from baryon.engine.provisioners.stack_names import NAME_PATTERN as _NAME
from baryon.engine.provisioners.stack_names import cfn_token, stack_name, stack_tags
from baryon.engine.provisioners.targets import Target, client, forget

__all__ = [
    "CAPABILITIES",
    "MAX_TEMPLATE_BYTES",
    "DeleteAction",
    "DeleteState",
    "Deploy",
    "DeployAction",
    "Plan",
    "ProvisionError",
    "StackEvent",
    "StackResult",
    "Target",
    "cancel",
    "cfn_token",
    "deleted",
    "explain_failure",
    "is_success",
    "is_terminal",
    "new_events",
    "plan_deploy",
    "poll",
    "select_operation",
    "stack_name",
    "stack_status",
    "stack_tags",
    "start_delete",
    "start_deploy",
]

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
MAX_TEMPLATE_BYTES = 51_200
STACK_TYPE = "AWS::CloudFormation::Stack"

DeployAction = Literal["CREATE", "UPDATE", "NO_CHANGES", "WAIT"]
DeleteAction = Literal["DELETE", "ABSENT", "WAIT"]
Plan = Literal["CREATE", "UPDATE", "NO_CHANGES", "WAIT", "RECREATE", "BLOCKED"]

# Statuses in which the stack has no operation running.
SETTLED = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)
# Operations in progress that DeleteStack may interrupt (CloudFormation stops a creation to delete).
DELETABLE_IN_PROGRESS = frozenset({"CREATE_IN_PROGRESS", "REVIEW_IN_PROGRESS"})
# Statuses a stack can only leave by being deleted.
RECREATE = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "REVIEW_IN_PROGRESS"})
# Statuses that need an operator before another deployment.
BLOCKED = frozenset({"DELETE_FAILED", "UPDATE_ROLLBACK_FAILED", "IMPORT_ROLLBACK_FAILED"})
# Terminal statuses that mean some operation failed; `poll` explains them.
FAILURES = frozenset(
    {
        "CREATE_FAILED",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "DELETE_FAILED",
        "UPDATE_FAILED",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "IMPORT_ROLLBACK_COMPLETE",
        "IMPORT_ROLLBACK_FAILED",
    }
)
# Stack-level statuses that open an operation (the first event CloudFormation writes for it).
_STARTS = frozenset({"CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "IMPORT_IN_PROGRESS"})
_DEPLOYS: dict[str, DeployAction] = {"CREATE_IN_PROGRESS": "CREATE", "UPDATE_IN_PROGRESS": "UPDATE"}
_CANCELLED_REASONS = ("Resource creation cancelled", "Resource update cancelled")
_MAX_EVENT_PAGES = 10


@dataclass(frozen=True)
class Deploy:
    """What `start_deploy` did. `stack_id` is the stack to poll (for WAIT: the stack being waited on)."""

    stack_id: str
    action: DeployAction
    status: str | None = None  # the stack status seen before acting (None: no stack)


@dataclass(frozen=True)
class StackResult:
    """What `poll` saw: the status and, once terminal, outputs, resources and the failure reason."""

    status: str
    outputs: list[dict[str, str]]
    resources: list[dict[str, str]]
    failure_reason: str | None


class DeleteState(NamedTuple):
    """What `deleted` saw; unpacks as (gone, failure)."""

    gone: bool  # no live stack any more (DELETE_COMPLETE or unknown)
    failure: str | None  # the reason when the stack is DELETE_FAILED


# --------------------------------------------------------------------------------------------- statuses


def is_terminal(status: str) -> bool:
    """True when no operation is running on the stack (the status does not end in _IN_PROGRESS)."""
    return not status.endswith("_IN_PROGRESS")


def is_success(status: str, operation: str) -> bool:
    """Whether `status` is the successful end of `operation` ("CREATE", "UPDATE", "NO_CHANGES", "DELETE").

    NO_CHANGES succeeds on any settled stack: the stack already runs the requested template.
    """
    if operation == "CREATE":
        return status == "CREATE_COMPLETE"
    if operation == "UPDATE":
        return status == "UPDATE_COMPLETE"
    if operation == "NO_CHANGES":
        return status in SETTLED
    if operation == "DELETE":
        return status == "DELETE_COMPLETE"
    raise ValueError(f"unknown operation {operation!r}")


def plan_deploy(status: str | None, *, ours: DeployAction | None, unchanged: bool) -> Plan:
    """The decision of `start_deploy`, as a pure function.

    `status`: the live stack's status (None: no stack, or DELETE_COMPLETE); `ours`: the action of the
    stack's latest operation when our token started it ("CREATE"/"UPDATE"), else None; `unchanged`:
    the stack's template and tags equal the request. Returns "CREATE", "UPDATE", "NO_CHANGES", "WAIT",
    "RECREATE" (delete first) or "BLOCKED" (needs an operator).
    """
    if status is None or status == "DELETE_COMPLETE":
        return "CREATE"
    if ours is not None:
        return ours
    if status in RECREATE:
        return "RECREATE"
    if status in BLOCKED:
        return "BLOCKED"
    if not is_terminal(status):
        return "WAIT"
    if status in SETTLED and unchanged:
        return "NO_CHANGES"
    return "UPDATE"


# ------------------------------------------------------------------------------------------ AWS helpers


@contextmanager
def _aws(target: Target, doing: str) -> Iterator[None]:
    """Turn boto errors raised inside the block into ProvisionErrors (dropping stale credentials)."""
    try:
        yield
    except BOTO_ERRORS as exc:
        if error_code(exc) in EXPIRED_CODES:
            forget(target)
        raise from_boto(exc, doing, _endpoint(target)) from exc


def _endpoint(target: Target) -> str | None:
    """The URL CloudFormation calls for the target go to (for messages), None when unknown."""
    try:
        return str(client(target, "cloudformation").meta.endpoint_url)
    except Exception:  # naming the endpoint must never hide the error being reported
        return None


def _missing(exc: ClientError) -> bool:
    return error_code(exc) == "ValidationError" and "does not exist" in error_message(exc)


def _describe(target: Target, cf: Any, name_or_id: str) -> dict[str, Any] | None:
    """The stack, or None when CloudFormation does not know it (names only match live stacks)."""
    with _aws(target, f"DescribeStacks {name_or_id}"):
        try:
            stacks = cf.describe_stacks(StackName=name_or_id)["Stacks"]
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
    return dict(stacks[0]) if stacks else None


def _is_stack_event(event: Mapping[str, Any]) -> bool:
    return event.get("ResourceType") == STACK_TYPE and event.get("PhysicalResourceId") == event.get("StackId")


def _events(target: Target, cf: Any, stack_id: str) -> Iterator[dict[str, Any]]:
    """Stack events, newest first, at most `_MAX_EVENT_PAGES` pages of 100."""
    paginator = cf.get_paginator("describe_stack_events")
    pages = paginator.paginate(StackName=stack_id, PaginationConfig={"MaxItems": 100 * _MAX_EVENT_PAGES})
    with _aws(target, f"DescribeStackEvents {stack_id}"):
        for page in pages:
            yield from page.get("StackEvents", [])


def select_operation(
    events: Iterable[Mapping[str, Any]], token: str | None = None
) -> tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]:
    """Pick one operation out of stack events given newest first (DescribeStackEvents order).

    Returns its opening stack-level event (CREATE/UPDATE/DELETE/IMPORT_IN_PROGRESS) and its events
    oldest first: the operation started with `token` when the events carry ClientRequestTokens and one
    matches (only events with that token), else the latest operation (every event since it opened).
    Consumes `events` lazily and stops at the opening event it needs.
    """
    seen: list[Mapping[str, Any]] = []
    latest: tuple[Mapping[str, Any], int] | None = None
    for event in events:
        seen.append(event)
        if not (_is_stack_event(event) and event.get("ResourceStatus") in _STARTS):
            continue
        if latest is None:
            latest = (event, len(seen))
        event_token = event.get("ClientRequestToken")
        if token is None or not event_token:
            break
        if event_token == token:
            return event, [e for e in reversed(seen) if e.get("ClientRequestToken") == token]
    if latest is None:
        return None, seen[::-1]
    opening, count = latest
    return opening, seen[:count][::-1]


def explain_failure(stack: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> str:
    """Why an operation failed, from the stack (DescribeStacks) and the operation's events oldest first:
    "LogicalId (Type): reason" of the first failed resource (or failed hook), skipping the
    "Resource creation/update cancelled" that follow the real failure; else StackStatusReason; else a
    sentence naming the status."""
    for event in events:
        if _is_stack_event(event):
            continue
        reason = str(event.get("ResourceStatusReason") or "")
        if str(event.get("HookStatus") or "").endswith("FAILED") and event.get("HookStatusReason"):
            reason = str(event["HookStatusReason"])
        elif not str(event.get("ResourceStatus", "")).endswith("FAILED"):
            continue
        if reason.startswith(_CANCELLED_REASONS):
            continue
        described = reason or str(event.get("ResourceStatus"))
        return f"{event.get('LogicalResourceId')} ({event.get('ResourceType')}): {described}"
    if stack.get("StackStatusReason"):
        return str(stack["StackStatusReason"])
    return f"Stack {stack.get('StackName', stack.get('StackId'))} is {stack.get('StackStatus')}"


def _ours(target: Target, cf: Any, stack_id: str, token: str) -> DeployAction | None:
    """The action of the stack's latest operation when `token` started it (CREATE/UPDATE), else None."""
    opening, _ = select_operation(_events(target, cf, stack_id))
    if opening is None or opening.get("ClientRequestToken") != token:
        return None
    return _DEPLOYS.get(str(opening.get("ResourceStatus")))


@dataclass(frozen=True)
class StackEvent:
    """One stack event as a deployment's story tells it."""

    event_id: str
    at: float
    text: str


def _event_time(event: Mapping[str, Any]) -> float:
    stamp = event.get("Timestamp")
    if isinstance(stamp, datetime):
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
    return 0.0


def _event_text(event: Mapping[str, Any]) -> str:
    text = f"{event.get('LogicalResourceId')} {event.get('ResourceType')} {event.get('ResourceStatus')}"
    reason = event.get("ResourceStatusReason") or event.get("HookStatusReason")
    return f"{text}: {reason}" if reason else text


def new_events(
    target: Target, stack_id: str, token: str, since: float, last_seen: str | None
) -> list[StackEvent]:
    """The stack's events of one deployment that came after the event `last_seen`, oldest first.

    An event is the deployment's when its ClientRequestToken starts with `token` (the deployment's own,
    its cancel's and its recreation's); where events carry no token (moto) when it is no older than
    `since`, the time the deployment began. Reads newest first and stops at `last_seen` or at the first
    event older than `since`, so a step that copies the events reads one page at most as a rule."""
    cf = client(target, "cloudformation")
    found: list[StackEvent] = []
    for event in _events(target, cf, stack_id):
        event_id = str(event.get("EventId") or "")
        if last_seen is not None and event_id == last_seen:
            break
        at = _event_time(event)
        event_token = str(event.get("ClientRequestToken") or "")
        if at < since and not event_token.startswith(token):
            break
        if event_token and not event_token.startswith(token):
            continue
        found.append(StackEvent(event_id, at, _event_text(event)))
    return found[::-1]


def _failure_reason(target: Target, cf: Any, stack: Mapping[str, Any], token: str | None) -> str:
    _, events = select_operation(_events(target, cf, str(stack["StackId"])), token)
    return explain_failure(stack, events)


def _same_template(current: Any, body: str) -> bool:
    """Whether GetTemplate's answer equals `body` (botocore decodes JSON templates into dicts)."""
    if isinstance(current, Mapping):
        try:
            return bool(json.loads(body) == current)
        except ValueError:
            return False
    return isinstance(current, str) and current == body


def _unchanged(target: Target, cf: Any, stack: Mapping[str, Any], body: str, tags: Mapping[str, str]) -> bool:
    current_tags = {t["Key"]: t["Value"] for t in stack.get("Tags") or []}
    if current_tags != dict(tags):
        return False
    stack_id = str(stack["StackId"])
    with _aws(target, f"GetTemplate {stack_id}"):
        answer = cf.get_template(StackName=stack_id, TemplateStage="Original")
    return _same_template(answer.get("TemplateBody"), body)


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


# ------------------------------------------------------------------------------------------- the steps


def start_deploy(
    target: Target,
    name: str,
    template_body: str,
    tags: Mapping[str, str],
    client_request_token: str,
    *,
    fresh: bool = False,
    known_stack_id: str | None = None,
) -> Deploy:
    """Create or update the stack `name` so that it runs `template_body` with `tags` (see the module
    docstring for the decision). Safe to repeat with the same token.

    `fresh`: the caller knows that no call with this token was ever made (the job's first step), so the
    stack events need not be searched for an operation of ours. With `fresh` and `known_stack_id` (the
    stack the resource's last deployment left), a settled stack is updated without comparing templates
    first; anything else (a stack that is gone, busy or needs repair) falls back on the full decision."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"invalid stack name {name!r}")
    size = len(template_body.encode())
    if size > MAX_TEMPLATE_BYTES:
        raise ProvisionError(
            f"The rendered CloudFormation template is {size} bytes; CloudFormation accepts at most "
            f"{MAX_TEMPLATE_BYTES} bytes inline",
            transient=False,
            code="TemplateTooLarge",
        )
    token = cfn_token(client_request_token)
    cf = client(target, "cloudformation")
    if fresh and known_stack_id:
        direct = _update_known(target, cf, known_stack_id, template_body, tags, token)
        if direct is not None:
            return direct
    for _ in range(3):  # a stack created or deleted by someone else between our calls: look again
        stack = _describe(target, cf, name)
        if stack is None or stack["StackStatus"] == "DELETE_COMPLETE":
            with _aws(target, f"CreateStack {name}"):
                try:
                    answer = cf.create_stack(
                        StackName=name,
                        TemplateBody=template_body,
                        Tags=_tag_list(tags),
                        Capabilities=CAPABILITIES,
                        OnFailure="ROLLBACK",
                        ClientRequestToken=token,
                    )
                except ClientError as exc:
                    if error_code(exc) == "AlreadyExistsException":
                        continue
                    raise
            return Deploy(str(answer["StackId"]), "CREATE", None)
        stack_id = str(stack["StackId"])
        status = str(stack["StackStatus"])
        ours = None if fresh else _ours(target, cf, stack_id, token)
        unchanged = ours is None and status in SETTLED and _unchanged(target, cf, stack, template_body, tags)
        plan = plan_deploy(status, ours=ours, unchanged=unchanged)
        if plan == "RECREATE":
            with _aws(target, f"DeleteStack {name} ({status})"):
                cf.delete_stack(
                    StackName=stack_id, ClientRequestToken=cfn_token(client_request_token, "recreate")
                )
            return Deploy(stack_id, "WAIT", status)
        if plan == "BLOCKED":
            raise ProvisionError(
                f"Stack {name} is {status} and cannot be deployed until it is repaired: "
                f"{_failure_reason(target, cf, stack, None)}",
                transient=False,
                code=status,
            )
        if plan != "UPDATE":
            return Deploy(stack_id, plan, status)
        return _update(target, cf, name, stack_id, status, template_body, tags, token)
    raise ProvisionError(f"Stack {name} was created or deleted concurrently; will retry", transient=True)


def _update(
    target: Target,
    cf: Any,
    label: str,
    stack_id: str,
    status: str,
    template_body: str,
    tags: Mapping[str, str],
    token: str,
) -> Deploy:
    """UpdateStack: "UPDATE" when issued, "NO_CHANGES" for CloudFormation's "No updates are to be
    performed", "WAIT" when another operation runs on the stack; any other refusal is a ProvisionError."""
    with _aws(target, f"UpdateStack {label}"):
        try:
            cf.update_stack(
                StackName=stack_id,
                TemplateBody=template_body,
                Tags=_tag_list(tags),
                Capabilities=CAPABILITIES,
                ClientRequestToken=token,
            )
        except ClientError as exc:
            message = error_message(exc)
            if error_code(exc) == "ValidationError" and "No updates are to be performed" in message:
                return Deploy(stack_id, "NO_CHANGES", status)
            if error_code(exc) == "ValidationError" and "_IN_PROGRESS state" in message:
                return Deploy(stack_id, "WAIT", status)
            raise
    return Deploy(stack_id, "UPDATE", status)


def _update_known(
    target: Target, cf: Any, stack_id: str, template_body: str, tags: Mapping[str, str], token: str
) -> Deploy | None:
    """UpdateStack on a stack known from the resource's last deployment, when it is settled (without
    comparing templates first: an unchanged template is CloudFormation's "No updates are to be
    performed"); None when the stack is not settled, is busy again or CloudFormation refuses the update
    (the caller then takes the full decision)."""
    stack = _describe(target, cf, stack_id)
    if stack is None or str(stack["StackStatus"]) not in SETTLED:
        return None
    try:
        started = _update(
            target, cf, stack_id, stack_id, str(stack["StackStatus"]), template_body, tags, token
        )
    except ProvisionError as error:
        if error.code == "ValidationError":
            return None
        raise
    return None if started.action == "WAIT" else started


def poll(target: Target, stack_id: str, operation_token: str | None = None) -> StackResult:
    """The stack's status; once terminal also its outputs, resources and (on failure) the reason.

    `operation_token` (the token given to start_deploy or start_delete) selects the operation whose
    events explain a failure when CloudFormation records tokens on events; otherwise the stack's latest
    operation is used. `failure_reason` is None for statuses that are no failure — including
    DELETE_COMPLETE, which ends a deploy only if someone deleted the stack meanwhile: callers that get
    `is_success` False and no reason report the status itself.
    """
    cf = client(target, "cloudformation")
    stack = _describe(target, cf, stack_id)
    if stack is None:
        raise ProvisionError(f"Stack {stack_id} does not exist", transient=False, code="StackNotFound")
    status = str(stack["StackStatus"])
    if not is_terminal(status) or status == "DELETE_COMPLETE":
        return StackResult(status, [], [], None)
    outputs = [
        {"key": str(o["OutputKey"]), "valueString": str(o["OutputValue"])}
        for o in stack.get("Outputs") or []
        if o.get("OutputKey") and o.get("OutputValue")
    ]
    resources: list[dict[str, str]] = []
    with _aws(target, f"ListStackResources {stack_id}"):
        for page in cf.get_paginator("list_stack_resources").paginate(StackName=str(stack["StackId"])):
            for summary in page.get("StackResourceSummaries", []):
                if summary.get("PhysicalResourceId") and summary.get("ResourceStatus") != "DELETE_COMPLETE":
                    resources.append(
                        {
                            "name": str(summary["LogicalResourceId"]),
                            "identifier": str(summary["PhysicalResourceId"]),
                            "provisioningEngine": "CLOUDFORMATION",
                        }
                    )
    token = cfn_token(operation_token) if operation_token else None
    failure = _failure_reason(target, cf, stack, token) if status in FAILURES else None
    return StackResult(status, outputs, resources, failure)


def start_delete(target: Target, stack_id_or_name: str, client_request_token: str) -> DeleteAction:
    """Start deleting the stack. "ABSENT": nothing to delete; "DELETE": deletion issued or running;
    "WAIT": another operation runs on the stack, call again later. Safe to repeat; a DELETE_FAILED stack
    is deleted again. A stack still being created (CREATE_IN_PROGRESS, REVIEW_IN_PROGRESS) is deleted at
    once — CloudFormation stops the creation; a stack being updated gets a CancelUpdateStack where the
    endpoint supports it (its rollback ends the update sooner) and "WAIT"."""
    cf = client(target, "cloudformation")
    try:
        stack = _describe(target, cf, stack_id_or_name)
    except ProvisionError as error:
        if not not_an_aws_reply(error):
            raise
        # CloudFormation cannot describe the stack (e.g. the local cloud on a stack whose outputs name a
        # resource it failed to create): a deletion asks to delete it all the same.
        with _aws(target, f"DeleteStack {stack_id_or_name}"):
            cf.delete_stack(StackName=stack_id_or_name, ClientRequestToken=cfn_token(client_request_token))
        return "DELETE"
    if stack is None or stack["StackStatus"] == "DELETE_COMPLETE":
        return "ABSENT"
    status = str(stack["StackStatus"])
    if status == "DELETE_IN_PROGRESS":
        return "DELETE"
    if status == "UPDATE_IN_PROGRESS":
        _try_cancel(target, cf, stack)
        return "WAIT"
    if not is_terminal(status) and status not in DELETABLE_IN_PROGRESS:
        return "WAIT"
    stack_id = str(stack["StackId"])
    with _aws(target, f"DeleteStack {stack.get('StackName', stack_id)}"):
        try:
            cf.delete_stack(StackName=stack_id, ClientRequestToken=cfn_token(client_request_token))
        except ClientError as exc:
            if _missing(exc):
                return "ABSENT"
            if error_code(exc) == "ValidationError" and "_IN_PROGRESS" in error_message(exc):
                return "WAIT"
            raise
    return "DELETE"


def deleted(target: Target, stack_id: str, operation_token: str | None = None) -> DeleteState:
    """(gone, failure): gone once the stack is DELETE_COMPLETE or unknown; `failure` is the reason when
    it is DELETE_FAILED; (False, None) while the deletion runs."""
    cf = client(target, "cloudformation")
    stack = _describe(target, cf, stack_id)
    if stack is None or stack["StackStatus"] == "DELETE_COMPLETE":
        return DeleteState(True, None)
    if stack["StackStatus"] == "DELETE_FAILED":
        token = cfn_token(operation_token) if operation_token else None
        return DeleteState(False, _failure_reason(target, cf, stack, token))
    return DeleteState(False, None)


def _try_cancel(target: Target, cf: Any, stack: Mapping[str, Any]) -> bool:
    """CancelUpdateStack where possible: whether it was issued (a refusal or an endpoint without the call
    only means waiting longer)."""
    try:
        with _aws(target, f"CancelUpdateStack {stack.get('StackName', stack['StackId'])}"):
            cf.cancel_update_stack(StackName=str(stack["StackId"]))
    except ProvisionError:
        return False
    return True


def stack_status(target: Target, stack_id_or_name: str) -> str | None:
    """The stack's status now (None: no such stack), for messages."""
    stack = _describe(target, client(target, "cloudformation"), stack_id_or_name)
    return None if stack is None else str(stack["StackStatus"])


def cancel(target: Target, stack_id: str) -> bool:
    """Issue CancelUpdateStack when the stack is UPDATE_IN_PROGRESS; return whether a cancel was issued.

    False when there is nothing to cancel: no update running (including one already rolling back after
    an earlier cancel — the caller remembers that it cancelled), or the update ended between our look
    and the call."""
    cf = client(target, "cloudformation")
    stack = _describe(target, cf, stack_id)
    if stack is None or stack["StackStatus"] != "UPDATE_IN_PROGRESS":
        return False
    with _aws(target, f"CancelUpdateStack {stack_id}"):
        try:
            cf.cancel_update_stack(StackName=str(stack["StackId"]))
        except ClientError as exc:
            if error_code(exc) == "ValidationError":
                return False  # "CancelUpdateStack cannot be called from current stack status"
            raise
    return True
