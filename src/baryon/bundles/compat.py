"""Backward compatibility of a new minor version's schema with the previous minor of its major.

Resources deployed on a minor version move to a later minor of the same major without new
inputs, so a new minor's input types must accept every spec the previous one accepted. The check
is deliberately small (Proton calls its own check "best effort"):

- a property of an input type must not be removed;
- a property's ``type`` must not change (a type added to or dropped from a property counts);
- a property must not become required without a ``default`` unless it was already required
  without one (a new required property, an optional one made required, or a required one that
  loses its default).

Constraints (enum, pattern, ranges), descriptions and defaults of optional properties may change
freely. Input types are compared by role (``environment_input_type`` for environments;
``service_input_type`` and ``pipeline_input_type`` for services), not by type name, so renaming a
type is allowed.

Invariants: the schemas are parsed ``schema.yaml`` documents that `load_bundle` accepted;
`check_minor_compatible` only reads them and raises one `BundleError` listing every problem it
found, in schema order.
"""

from __future__ import annotations

from typing import Any

from baryon.bundles.errors import BundleError
from baryon.bundles.layout import KINDS
from baryon.bundles.schema import ENVIRONMENT_INPUT, PIPELINE_INPUT, SERVICE_INPUT


def _input_type(document: dict[str, Any], key: str) -> tuple[str, dict[Any, Any]] | None:
    schema = document.get("schema")
    if not isinstance(schema, dict):
        return None
    name = schema.get(key)
    types = schema.get("types")
    if not isinstance(name, str) or not isinstance(types, dict) or not isinstance(types.get(name), dict):
        return None
    return name, types[name]


def _properties(definition: dict[Any, Any]) -> dict[Any, Any]:
    properties = definition.get("properties")
    return properties if isinstance(properties, dict) else {}


def _required(definition: dict[Any, Any]) -> set[Any]:
    required = definition.get("required")
    return set(required) if isinstance(required, list) else set()


def _type_name(definition: Any) -> str:
    if isinstance(definition, dict) and "type" in definition:
        return f"'{definition['type']}'"
    return "unspecified"


def _mandatory(definition: dict[Any, Any], name: Any, required: set[Any]) -> bool:
    """Required and without a default: a spec must supply it."""
    prop = _properties(definition).get(name)
    has_default = isinstance(prop, dict) and "default" in prop
    return name in required and not has_default


def _problems(key: str, previous: dict[str, Any], new: dict[str, Any]) -> list[str]:
    old_entry = _input_type(previous, key)
    if old_entry is None:
        return []
    new_entry = _input_type(new, key)
    if new_entry is None:
        return [f"schema.{key} was removed"]
    _, old_type = old_entry
    type_name, new_type = new_entry
    old_props, new_props = _properties(old_type), _properties(new_type)
    old_required, new_required = _required(old_type), _required(new_type)
    problems: list[str] = []
    for name, old_prop in old_props.items():
        if name not in new_props:
            problems.append(f"property '{name}' of type '{type_name}' was removed")
            continue
        old_kind, new_kind = _type_name(old_prop), _type_name(new_props[name])
        if old_kind != new_kind:
            problems.append(
                f"property '{name}' of type '{type_name}' changed type from {old_kind} to {new_kind}"
            )
    for name in new_props:
        if not _mandatory(new_type, name, new_required) or _mandatory(old_type, name, old_required):
            continue
        if name not in old_props:
            problems.append(f"new property '{name}' of type '{type_name}' is required and has no default")
        elif name in old_required:
            problems.append(f"property '{name}' of type '{type_name}' is required and lost its default")
        else:
            problems.append(f"property '{name}' of type '{type_name}' became required and has no default")
    return problems


def check_minor_compatible(
    previous_schema: dict[str, Any],
    new_schema: dict[str, Any],
    *,
    kind: str,
    previous_version: str = "",
) -> None:
    """Raise BundleError when a new minor version's schema is not backward compatible with the
    previous minor of the same major.

    `previous_version` (e.g. ``"1.2"``) only names the previous version in the message.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    keys = (ENVIRONMENT_INPUT,) if kind == "ENVIRONMENT" else (SERVICE_INPUT, PIPELINE_INPUT)
    problems = [problem for key in keys for problem in _problems(key, previous_schema, new_schema)]
    if not problems:
        return
    against = f"version {previous_version}" if previous_version else "the previous minor version"
    closing = "a change like this needs" if len(problems) == 1 else "changes like these need"
    raise BundleError(
        f"Schema is not backward compatible with {against}: {'; '.join(problems)}; "
        f"{closing} a new major version"
    )
