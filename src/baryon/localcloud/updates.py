"""Stack updates in the local cloud change what they describe.

moto's CloudFormation applies a changed resource through the type's `update_from_cloudformation_json`,
which many types leave out (moto then silently keeps the old resource, and forgets it in the stack's
resource map) and some implement in part (an `AWS::SQS::Queue` takes only `VisibilityTimeout` and
`ReceiveMessageWaitTimeSeconds`: a new `MessageRetentionPeriod` is ignored). `install()`, run once in the
local cloud's process, puts `update` in place of moto's `ResourceMap.update` (`uninstall()` puts moto's
back):

- only resources whose template entry changed (or names a changed parameter) are modified, with the
  values of `Fn::FindInMap` in place (moto saw no change where only a mapping changed, as where the
  samples keep their CIDR blocks); moto's stored entry of a resource without `Properties` gains an
  empty one, which moto took for a change;
- modifications run in dependency order (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `DependsOn`); a replaced
  resource whose physical id changed takes its dependents along (EC2 ones are replaced: they name its
  old id, as a VPC's subnets, route tables and routes do), and the replaced originals are removed
  after every modification, newest first (`updates_ec2.RETIRE` for EC2 types moto cannot delete
  itself); one that cannot go stays, as CloudFormation's clean-up failures leave an update complete;
- types with a handler here are updated in place from their new properties (`AWS::SQS::Queue`: every
  attribute and the tags; a new `QueueName` or `FifoQueue` replaces the queue, as in AWS;
  `AWS::Logs::LogGroup`: retention and tags; `AWS::EC2::VPCGatewayAttachment`: detached and attached to
  the new VPC or gateway);
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
import re
from collections.abc import Callable
from typing import Any

from baryon.localcloud import updates_ec2 as ec2

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
    "AWS::EC2::VPCGatewayAttachment": ec2.gateway_attachment,
}


def _normal(resource_json: Any) -> Any:
    """A resource's template entry as compared: moto adds an empty `Properties` to one that has none."""
    if isinstance(resource_json, dict) and "Properties" not in resource_json:
        return {**resource_json, "Properties": {}}
    return resource_json


def _mappings(template: Any) -> dict[str, Any]:
    found = template.get("Mappings") if isinstance(template, dict) else None
    return found if isinstance(found, dict) else {}


def _resolved(entry: Any, mappings: dict[str, Any]) -> Any:
    """A template entry as compared: `_normal`, with each `Fn::FindInMap` of literal keys replaced by its
    value (a changed mapping changes the resources that read it, as in AWS)."""
    return _inline(_normal(entry), mappings)


def _inline(value: Any, mappings: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        keys = value.get("Fn::FindInMap")
        if (
            len(value) == 1
            and isinstance(keys, list)
            and len(keys) == 3
            and all(isinstance(k, str) for k in keys)
        ):
            found = mappings.get(keys[0], {})
            found = found.get(keys[1], {}) if isinstance(found, dict) else {}
            if isinstance(found, dict) and keys[2] in found:
                return found[keys[2]]
        return {key: _inline(item, mappings) for key, item in value.items()}
    if isinstance(value, list):
        return [_inline(item, mappings) for item in value]
    return value


def _references(value: Any) -> set[str]:
    """The logical ids a template entry names (`Ref`, `Fn::GetAtt`, `${Name}` in `Fn::Sub`, `DependsOn`)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                target = item[0] if isinstance(item, list) and item else str(item).split(".")[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) and item else item
                if isinstance(text, str):
                    found.update(name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text))
                found |= _references(item)
            elif key == "DependsOn":
                found.update([item] if isinstance(item, str) else [str(name) for name in item or []])
            else:
                found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def _physical_id(resource: Any) -> Any:
    return getattr(resource, "physical_resource_id", resource)


def _apply(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, replace: bool
) -> tuple[Any, bool]:
    """Apply the new `resource_json` of `logical_id`: (the resource the stack keeps, whether it is a
    replacement whose original is still to be retired). `replace` asks for a replacement where moto's
    own update would otherwise be used (a dependent of a replaced EC2 resource)."""
    from moto.cloudformation import parsing

    account_id, region_name = resources_map._account_id, resources_map._region_name
    resource_type = str(resource_json.get("Type"))
    resource_class = parsing.resource_class_from_type(resource_type)
    if resource_class is None:
        return parsing.parse_and_update_resource(
            logical_id, resource_json, resources_map, account_id, region_name
        ), False
    original = resources_map[logical_id]
    handler = IN_PLACE.get(resource_type)
    if original is not None and handler is not None:
        new = dict(parsing.parse_resource(resource_json, resources_map)[1].get("Properties") or {})
        if handler(original, new):
            return original, False
    updatable = not hasattr(resource_class.update_from_cloudformation_json, "__isabstractmethod__")
    if original is not None and updatable and handler is None and not replace:
        return parsing.parse_and_update_resource(
            logical_id, resource_json, resources_map, account_id, region_name
        ), False
    if original is not None and resource_type in ec2.RETIRE_FIRST:
        ec2.RETIRE[resource_type](original)
        original = None
    replacement = parsing.parse_and_create_resource(
        logical_id, resource_json, resources_map, account_id, region_name
    )
    return replacement, original is not None


#: What `install` replaced, by (class, attribute name), to put back on `uninstall`.
_INSTALLED: dict[tuple[type, str], Any] = {}


def install() -> None:
    """Put `update` in place of moto's `ResourceMap.update` (and `build_resource_diff`)."""
    from moto.cloudformation import parsing

    if _INSTALLED:
        return
    from moto.cloudformation.models import Stack

    original_diff = parsing.ResourceMap.build_resource_diff
    _INSTALLED.update(
        {
            (parsing.ResourceMap, "update"): parsing.ResourceMap.update,
            (parsing.ResourceMap, "build_resource_diff"): original_diff,
            (Stack, "update"): Stack.update,
        }
    )

    def build_resource_diff(self: Any, other_template: dict[str, Any], parameters: Any = None) -> Any:
        actions = original_diff(self, other_template, parameters)
        old, new = self._resource_json_map, other_template["Resources"]
        old_maps = _mappings(self._template)
        new_maps = _mappings(other_template)

        def changed(name: str) -> bool:
            return bool(_resolved(old[name], old_maps) != _resolved(new[name], new_maps))

        modify = [name for name in actions["Modify"] if new[name] == old[name] or changed(name)]
        modify += [name for name in new if name in old and name not in modify and changed(name)]
        actions["Modify"] = modify
        return actions

    parsing.ResourceMap.build_resource_diff = build_resource_diff  # type: ignore[method-assign]
    parsing.ResourceMap.update = update  # type: ignore[method-assign]
    _settle_failed_updates()


def uninstall() -> None:
    """Put moto's own stack updates back (a process that ran `install` and stops being the local cloud)."""
    for (owner, attribute), original in _INSTALLED.items():
        setattr(owner, attribute, original)
    _INSTALLED.clear()


def update(self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
    """moto's `ResourceMap.update`, with modifications in dependency order: a resource replaced takes its
    EC2 dependents along (replaced too, since they name its old id), and what was replaced is retired
    once every modification is done (as CloudFormation's clean-up phase)."""
    from moto.cloudformation.parsing import MAX_UPDATE_ATTEMPTS

    actions = self.build_resource_diff(template, parameters)
    previous = dict(self._resource_json_map)
    _passes(
        actions["Remove"],
        lambda name: (
            self._delete_resource(self._parsed_resources[name], previous[name])
            if name in self._parsed_resources
            else None
        ),
    )
    self._template = template
    if parameters:
        self.input_parameters = parameters
    self.load_mapping()
    self.load_parameters()
    self.load_conditions()
    self._resource_json_map = template["Resources"]
    for name in actions["Add"]:
        _ = self[name]
    entries = self._resource_json_map
    references = {name: _references(entry) & set(entries) for name, entry in entries.items()}
    pending: dict[str, bool] = {name: False for name in entries if name in actions["Modify"]}
    retired: list[tuple[Any, dict[str, Any]]] = []
    done: set[str] = set()
    last: Exception | None = None
    for _attempt in range(MAX_UPDATE_ATTEMPTS * max(1, len(entries))):
        ready = [name for name in pending if not (references[name] & set(pending))]
        if not pending:
            break
        name = (ready or list(pending))[0]
        original = self._parsed_resources.get(name)
        try:
            changed, replaced = _apply(name, entries[name], self, pending[name])
        except Exception as error:
            last = error
            pending[name] = pending.pop(name)  # to the end: another may have to go first
            continue
        del pending[name]
        done.add(name)
        self._parsed_resources[name] = changed
        if replaced:
            retired.append((original, previous.get(name, entries[name])))
            if _physical_id(changed) != _physical_id(original):
                for dependent, named in references.items():
                    if name in named and dependent not in done and dependent not in pending:
                        pending[dependent] = str(entries[dependent].get("Type", "")).startswith("AWS::EC2::")
    if pending:
        raise last or RuntimeError(f"could not update {', '.join(pending)}")
    _retire(self, list(reversed(retired)))


def _passes(names: list[str], act: Callable[[str], Any]) -> None:
    """Act on each name, in passes (one may have to wait for another), as moto's update does."""
    from moto.cloudformation.parsing import MAX_UPDATE_ATTEMPTS

    left, last = list(names), None
    for _attempt in range(MAX_UPDATE_ATTEMPTS):
        for name in list(left):
            try:
                act(name)
            except Exception as error:
                last = error
            else:
                left.remove(name)
        if not left:
            return
    raise last or RuntimeError(f"could not remove {', '.join(left)}")


def _retire(resources_map: Any, retired: list[tuple[Any, dict[str, Any]]]) -> None:
    """Delete the originals of replaced resources, newest first and in passes; what cannot go stays (as
    AWS's clean-up failures leave an update complete)."""
    from moto.cloudformation.parsing import MAX_UPDATE_ATTEMPTS

    left = list(retired)
    for _attempt in range(MAX_UPDATE_ATTEMPTS):
        for resource, resource_json in list(left):
            try:
                remover = ec2.RETIRE.get(str(resource_json.get("Type")))
                if remover is not None:
                    remover(resource)
                else:
                    resources_map._delete_resource(resource, resource_json)
            except Exception:  # a dependency still in place: next pass
                continue
            left.remove((resource, resource_json))
        if not left:
            return


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
