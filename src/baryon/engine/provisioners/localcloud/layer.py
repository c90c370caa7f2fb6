"""What the CloudFormation provisioner asks of the local-cloud layer, in one object per target.

`for_target(settings, target)` answers `LocalCloud` when the CloudFormation endpoint the target's client
calls is the local cloud (`Settings.local_cloud_url`, which `baryon up` sets to its moto server, else
`BARYON_LOCAL_CLOUD_URL` as `baryon.localcloud.endpoint_in_use` reads it now), else
`AWS`, whose every member leaves things exactly as they are. The provisioner calls the same members either
way:

- `template(progress, body, stack_name)`: the body to send. The local cloud's is `adapt`ed; what the layer
  will need later (stand-ins, declared outputs, expected resources) is kept in the deployment's progress
  (`PROGRESS`); a template the local cloud cannot take raises a permanent `ProvisionError` naming the
  resource and what is not supported. `adapted(progress)` says what was changed, for the deployment's
  story.
- `errors(stack_name, progress)`: a context for every stack call of a step. In the local cloud an error of
  the local cloud itself — an HTTP 500, a reply botocore cannot parse (moto answering JSON inside the XML
  protocol), an internal-error code — becomes a permanent `ProvisionError` whose message names the stack,
  the call, the resources it did not create (where the local cloud lists what it created) and the local
  cloud's own words, never the page it sent; and
  after any permanent failure of a creation the stack moto leaves CREATE_IN_PROGRESS (moto does not roll
  back) is deleted with its leftovers. Elsewhere errors pass unchanged (AWS's throttling and 5xx stay
  transient).
- `succeeded(progress, stack_id, finish)`: the settled outcome of a stack that reached success. In the
  local cloud: FAILED when a resource the template declares was neither created nor stood in for (an
  entry moto's update left blank may stand for any one of them: it cannot be told apart); else
  SUCCEEDED with the stand-ins among the resources and a message naming them and the outputs left
  empty ("Stood in for in the local cloud: Pipeline (AWS::CodePipeline::Pipeline); outputs left empty:
  Url").
- `before_delete(stack, progress)` and `after_delete(progress)`: around a deletion, remove what moto
  would leave behind (`cleanup`); what can only go after the stack is kept in the progress meanwhile.

Invariants: the decision is made per call from the client actually used, never from the template; the
AWS object never changes a body, an error or an outcome; progress keeps only JSON values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any

from baryon.config import Settings
from baryon.domain.deployments import FAILED, SUCCEEDED
from baryon.engine.provisioners.errors import (
    BOTO_ERRORS,
    NOT_AN_AWS_REPLY,
    ProvisionError,
    error_code,
    error_message,
)
from baryon.engine.provisioners.localcloud import cleanup
from baryon.engine.provisioners.localcloud.adapt import NotSupported, adapt
from baryon.engine.provisioners.localcloud.template import load
from baryon.engine.provisioners.targets import Target, client
from baryon.engine.settle import Finish
from baryon.localcloud import endpoint_in_use

#: The progress member that records what the layer did to the deployment's template.
PROGRESS = "local_cloud"
#: The progress member that keeps what to remove once a deleted stack is gone.
LEFTOVERS = "local_cloud_leftovers"
#: Error codes that mean the local cloud itself failed.
INTERNAL_CODES = frozenset(
    {"InternalFailure", "InternalError", "InternalServerError", "InternalServiceError"}
)
_SHOWN = 5  # resources named in a message before "and N more"


def _same_endpoint(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def is_local(settings: Settings, target: Target) -> bool:
    """Whether the target's CloudFormation calls go to the local cloud."""
    local = settings.local_cloud_url or endpoint_in_use()
    if not local:
        return False
    endpoint = client(target, "cloudformation").meta.endpoint_url
    return bool(endpoint) and _same_endpoint(str(endpoint), local)


class AWS:
    """Any CloudFormation but the local cloud: templates, errors and outcomes as they are."""

    local = False

    def template(self, progress: dict[str, Any], body: str, stack_name: str) -> str:
        return body

    def adapted(self, progress: dict[str, Any]) -> str | None:
        return None

    @contextmanager
    def errors(self, stack_name: str, progress: dict[str, Any]) -> Iterator[None]:
        yield

    def succeeded(self, progress: dict[str, Any], stack_id: str, finish: Finish) -> Finish:
        return finish

    def before_delete(self, stack: str, progress: dict[str, Any]) -> None:
        return None

    def after_delete(self, progress: dict[str, Any]) -> None:
        return None


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def _doing(error: ProvisionError) -> str:
    return error.message.split(" failed:", 1)[0]


def _local_defect(error: ProvisionError) -> bool:
    code = error.code or ""
    return code == NOT_AN_AWS_REPLY or code.startswith("HTTP") or code in INTERNAL_CODES


_JSON_ERROR = re.compile(r"(\{.*\})", re.DOTALL)


def _what_it_said(error: ProvisionError) -> str:
    """The local cloud's own words: the error inside a JSON reply, or "an internal error (HTTP 500)"."""
    cause = error.__cause__
    text = str(cause) if cause is not None else error.message
    if cause is not None and error_code(cause) in INTERNAL_CODES:
        return f"an internal error ({error_code(cause)}: {error_message(cause)})"
    for candidate in _JSON_ERROR.findall(text.replace("\\n", " ").replace('\\"', '"')):
        try:
            reply = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(reply, dict) and (reply.get("__type") or reply.get("message")):
            kind = str(reply.get("__type") or "Error").rsplit("#", 1)[-1]
            return f"{kind}: {reply.get('message') or reply.get('Message') or ''}".strip()
    status = re.search(r"\b(5\d\d)\b", text)
    return f"an internal error (HTTP {status.group(1) if status else 500})"


class LocalCloud:
    """The local cloud (moto): see the module docstring."""

    local = True

    def __init__(self, target: Target) -> None:
        self.target = target

    # --- the template ------------------------------------------------------------------------------

    def template(self, progress: dict[str, Any], body: str, stack_name: str) -> str:
        target = self.target
        try:
            adapted = adapt(body, region=target.region, account_id=target.account_id, stack_name=stack_name)
        except NotSupported as error:
            raise ProvisionError(
                f"The local cloud cannot deploy stack {stack_name}: {error}.",
                transient=False,
                code="LocalCloudNotSupported",
            ) from None
        sent = load(adapted.template_json)
        resources = sent.get("Resources") if isinstance(sent.get("Resources"), dict) else {}
        progress[PROGRESS] = {
            "stand_ins": [[s.logical_id, s.type, s.physical_id] for s in adapted.stand_ins],
            "outputs": adapted.outputs,
            "resources": {
                name: str(body.get("Type"))
                for name, body in (resources or {}).items()
                if isinstance(body, dict) and "Condition" not in body
            },
            "notes": adapted.notes,
        }
        return adapted.template_json

    def adapted(self, progress: dict[str, Any]) -> str | None:
        """What `template` did, for the deployment's story; None when it sent the template as JSON only."""
        record = progress.get(PROGRESS)
        if not isinstance(record, dict):
            return None
        parts = [str(note) for note in record.get("notes") or []]
        stand_ins = [f"{name} ({kind})" for name, kind, _ in record.get("stand_ins") or []]
        if stand_ins:
            parts.append("stood in for: " + ", ".join(stand_ins))
        return "Adapted for the local cloud: " + "; ".join(parts) if parts else None

    # --- errors ------------------------------------------------------------------------------------

    @contextmanager
    def errors(self, stack_name: str, progress: dict[str, Any]) -> Iterator[None]:
        try:
            yield
        except ProvisionError as error:
            if error.transient and not _local_defect(error):
                raise
            record = progress.get(PROGRESS) or {}
            created = self._created(stack_name)
            creating = created is not None and created[0] == "CREATE_IN_PROGRESS"
            if creating:
                self._remove(stack_name)
            if not _local_defect(error):
                if creating:
                    raise ProvisionError(
                        f"{error.message} (the local cloud does not roll back: the stack and what it had "
                        "created were deleted)",
                        transient=False,
                        code=error.code,
                    ) from error
                raise
            missing = [
                f"{name} ({kind})"
                for name, kind in dict(record.get("resources") or {}).items()
                if created is not None and created[1] and name not in created[1]
            ]
            doing = _doing(error)
            where = doing if stack_name in doing else f"{doing} for stack {stack_name}"
            message = (
                f"The local cloud failed on {where} with {_what_it_said(error)}: something in the "
                "template is not supported by its CloudFormation"
            )
            if missing:
                message += f"; resources not created: {_listed(missing)}"
            if creating:
                message += "; the stack and what it had created were deleted"
            raise ProvisionError(message + ".", transient=False, code="LocalCloudError") from error

    def _created(self, stack_name: str) -> tuple[str, set[str]] | None:
        """The live stack's status and the logical ids it lists, or None (no stack, or none readable)."""
        cf = client(self.target, "cloudformation")
        try:
            stacks = cf.describe_stacks(StackName=stack_name)["Stacks"]
        except BOTO_ERRORS:
            return None
        if not stacks or stacks[0].get("StackStatus") == "DELETE_COMPLETE":
            return None
        names: set[str] = set()
        try:
            for page in cf.get_paginator("list_stack_resources").paginate(StackName=stack_name):
                names.update(str(s["LogicalResourceId"]) for s in page.get("StackResourceSummaries", []))
        except BOTO_ERRORS:
            pass
        return str(stacks[0].get("StackStatus")), names

    def _remove(self, stack_name: str) -> None:
        """Delete a stack moto left half-created, with its leftovers (best effort; moto deletes at once)."""
        progress: dict[str, Any] = {}
        self.before_delete(stack_name, progress)
        with suppress(*BOTO_ERRORS):
            client(self.target, "cloudformation").delete_stack(StackName=stack_name)
        self.after_delete(progress)

    # --- outcomes ----------------------------------------------------------------------------------

    def succeeded(self, progress: dict[str, Any], stack_id: str, finish: Finish) -> Finish:
        record = progress.get(PROGRESS)
        if finish.status != SUCCEEDED or not isinstance(record, dict):
            return finish
        cf = client(self.target, "cloudformation")
        listed: set[str] = set()
        blank = 0  # moto's update loses the entry of an unchanged resource: listed with no id at all
        try:
            for page in cf.get_paginator("list_stack_resources").paginate(StackName=stack_id):
                for summary in page.get("StackResourceSummaries", []):
                    listed.add(str(summary.get("LogicalResourceId") or ""))
                    blank += not summary.get("LogicalResourceId")
        except BOTO_ERRORS as error:
            return Finish(FAILED, f"The local cloud cannot list the resources of {stack_id}: {error}")
        expected = dict(record.get("resources") or {})
        missing = [f"{name} ({kind})" for name, kind in expected.items() if name not in listed]
        if len(missing) > blank:
            return Finish(
                FAILED,
                f"The local cloud reported the stack complete without creating {_listed(missing)}; "
                "its CloudFormation does not support them.",
            )
        stand_ins = [(str(a), str(b), str(c)) for a, b, c in record.get("stand_ins") or []]
        received = {o["key"] for o in finish.outputs or []}
        empty = [name for name in record.get("outputs") or [] if name not in received]
        parts = []
        if stand_ins:
            named = ", ".join(f"{name} ({kind})" for name, kind, _ in stand_ins)
            parts.append(f"Stood in for in the local cloud: {named}")
        if empty:
            parts.append("outputs left empty: " + ", ".join(empty))
        resources = list(finish.resources or [])
        resources.extend(
            {"name": name, "identifier": physical, "provisioningEngine": "CLOUDFORMATION"}
            for name, _, physical in stand_ins
        )
        message = "; ".join(parts) + "." if parts else finish.message
        return replace(finish, message=message, resources=resources)

    def before_delete(self, stack: str, progress: dict[str, Any]) -> None:
        progress[LEFTOVERS] = cleanup.before_delete(self.target, stack)

    def after_delete(self, progress: dict[str, Any]) -> None:
        leftovers = progress.get(LEFTOVERS)
        if isinstance(leftovers, dict):
            cleanup.after_delete(self.target, {str(k): [str(i) for i in v] for k, v in leftovers.items()})


Layer = AWS | LocalCloud


def for_target(settings: Settings, target: Target) -> Layer:
    """The layer for `target`: `LocalCloud` when its CloudFormation is the local cloud, else `AWS`."""
    return LocalCloud(target) if is_local(settings, target) else AWS()
