"""Stack updates in the local cloud change what they describe.

moto's CloudFormation applies a changed resource through the type's `update_from_cloudformation_json`,
which many types leave out (moto then silently keeps the old resource, and forgets it in the stack's
resource map) and some implement in part (an `AWS::SQS::Queue` takes only `VisibilityTimeout` and
`ReceiveMessageWaitTimeSeconds`: a new `MessageRetentionPeriod` is ignored). `install()`, run once in the
local cloud's process, puts `update_resource` in place of moto's `parse_and_update_resource`:

- types with a handler here are updated in place from their new properties (`AWS::SQS::Queue`: every
  attribute and the tags; a new `QueueName` or `FifoQueue` replaces the queue, as in AWS;
  `AWS::Logs::LogGroup`: retention and tags);
- other modelled types with moto's own update keep it;
- modelled types without one are replaced: the new resource is created, then the old one deleted (as
  CloudFormation replaces a resource), so a custom-named resource fails the update with moto's "already
  exists" instead of claiming to have changed it;
- an update that fails leaves the stack UPDATE_ROLLBACK_COMPLETE with its previous template and answers
  a ValidationError naming the cause (resources changed before the failure stay changed: moto does not
  roll back).

Unmodelled types are left to moto (and to the local-cloud layer of the provisioner).

Invariants: acts only inside the local cloud's process; the resource returned is the one the stack
keeps (never None for a modelled type).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

_SQS_REPLACE = ("QueueName", "FifoQueue")


def _sqs_queue(original: Any, new: dict[str, Any]) -> bool:
    """Update the queue in place from `new`; False when the change needs a replacement (another
    `QueueName`, or a change of `FifoQueue`)."""
    if "QueueName" in new and str(new["QueueName"]) != original.name:
        return False
    if (str(new.get("FifoQueue", False)).lower() == "true") != bool(getattr(original, "fifo_queue", False)):
        return False
    attributes = {
        key: json.dumps(value) if isinstance(value, dict) else value
        for key, value in new.items()
        if key not in (*_SQS_REPLACE, "Tags")
    }
    attributes.setdefault("Policy", getattr(original, "policy", None))
    original._set_attributes(attributes)
    original.tags = {tag["Key"]: tag["Value"] for tag in new.get("Tags") or []}
    return True


def _log_group(original: Any, new: dict[str, Any]) -> bool:
    """Retention and tags change in place; another `LogGroupName` replaces the group."""
    if "LogGroupName" in new and str(new["LogGroupName"]) != original.name:
        return False
    retention = new.get("RetentionInDays")
    original.retention_in_days = int(retention) if retention is not None else None
    original.tags = {tag["Key"]: tag["Value"] for tag in new.get("Tags") or []}
    return True


#: Types updated in place here: (resource, new properties) -> done (False: replace it).
IN_PLACE: dict[str, Callable[[Any, dict[str, Any]], bool]] = {
    "AWS::SQS::Queue": _sqs_queue,
    "AWS::Logs::LogGroup": _log_group,
}


def install() -> None:
    """Put `update_resource` in place of moto's `parse_and_update_resource`."""
    from moto.cloudformation import parsing

    original_update = parsing.parse_and_update_resource
    if getattr(original_update, "baryon", False):
        return

    def update_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        resource_type = str(resource_json.get("Type"))
        resource_class = parsing.resource_class_from_type(resource_type)
        if resource_class is None:
            return original_update(logical_id, resource_json, resources_map, account_id, region_name)
        original = resources_map[logical_id]
        handler = IN_PLACE.get(resource_type)
        if original is not None and handler is not None:
            new = dict(parsing.parse_resource(resource_json, resources_map)[1].get("Properties") or {})
            if handler(original, new):
                return original
        updatable = not hasattr(resource_class.update_from_cloudformation_json, "__isabstractmethod__")
        if original is not None and updatable and handler is None:
            return original_update(logical_id, resource_json, resources_map, account_id, region_name)
        replacement = parsing.parse_and_create_resource(
            logical_id, resource_json, resources_map, account_id, region_name
        )
        if original is not None:
            resources_map._delete_resource(original, resource_json)
        return replacement

    update_resource.baryon = True  # type: ignore[attr-defined]
    parsing.parse_and_update_resource = update_resource
    _settle_failed_updates()


def _settle_failed_updates() -> None:
    """A stack update that fails leaves the stack UPDATE_ROLLBACK_COMPLETE with its previous template
    (moto would keep the new template and the old status, so that the next identical update finds
    "nothing to change"), and answers a ValidationError naming the cause (never an HTTP 500)."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import Stack

    original_update = Stack.update

    def update(self: Any, template: str, *args: Any, **kwargs: Any) -> None:
        previous = self.template
        try:
            original_update(self, template, *args, **kwargs)
        except Exception as error:
            reason = f"The local cloud could not apply the update: {type(error).__name__}: {error}"
            self.template = previous
            self._parse_template()
            self.status = "UPDATE_ROLLBACK_COMPLETE"
            self._add_stack_event("UPDATE_ROLLBACK_COMPLETE", resource_status_reason=reason)
            raise ValidationError(message=reason) from error

    Stack.update = update  # type: ignore[method-assign]
