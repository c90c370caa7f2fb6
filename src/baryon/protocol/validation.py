"""Validation of decoded input against the botocore model, with AWS-style messages.

Invariants: validation never mutates its input; every violation found is reported in one
`ValidationException` whose message reads `N validation error(s) detected: Value at '<path>' failed to
satisfy constraint: <constraint>` joined by `; `, the way AWS services word it. Values are never echoed,
so sensitive members cannot leak through error messages.

Beyond the model's own constraints, so that no input reaches a handler in a shape it cannot use:
- A member given as JSON ``null`` is refused (``Member must not be null``), as AWS SDKs refuse it before
  sending: handlers never see a null where the model has a member.
- No string anywhere may hold a NUL character (PostgreSQL cannot store one in text, and no Proton name,
  description or document needs it): ``Member must not contain the NUL character``.
- `REQUIRED_BY_MEANING` lists members the model leaves optional but that are meaningless without each other
  (a filter without its key or value); they are required like the model's required members.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from baryon.contract.model import operation_model
from baryon.protocol.errors import ValidationException


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


#: Members the model leaves optional that an input of the shape needs to mean anything, by shape name.
REQUIRED_BY_MEANING: dict[str, tuple[str, ...]] = {
    "ListServiceInstancesFilter": ("key", "value"),
    "Output": ("key", "valueString"),
}
_NUL = "\x00"


def validate_input(operation: str, params: Any) -> None:
    """Raise ValidationException when `params` does not satisfy the operation's input shape."""
    shape = operation_model(operation).input_shape
    if shape is None:
        return
    errors: list[str] = []
    if not isinstance(params, dict):
        errors.append("Value at 'input' failed to satisfy constraint: Member must be a structure")
    else:
        _structure(shape, params, "", errors)
    if errors:
        raise ValidationException(_message(errors))


def _message(errors: list[str]) -> str:
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(errors)


def _fail(path: str, constraint: str, errors: list[str]) -> None:
    errors.append(f"Value at '{path}' failed to satisfy constraint: {constraint}")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _structure(shape: Any, value: dict[str, Any], path: str, errors: list[str]) -> None:
    members = shape.members
    required = (*shape.required_members, *REQUIRED_BY_MEANING.get(shape.name, ()))
    for name in required:
        if value.get(name) is None:
            _fail(_join(path, name), "Member must not be null", errors)
    for name in members:
        if name in value and value[name] is None and name not in required:
            _fail(_join(path, name), "Member must not be null", errors)
    present = [name for name in members if value.get(name) is not None]
    if shape.is_tagged_union and len(present) != 1:
        _fail(path or "input", "Member must have exactly one member set", errors)
    for name in present:
        _value(members[name], value[name], _join(path, name), errors)


def _value(shape: Any, value: Any, path: str, errors: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            _fail(path, "Member must be a structure", errors)
            return
        _structure(shape, value, path, errors)
    elif kind == "list":
        if not isinstance(value, list):
            _fail(path, "Member must be a list", errors)
            return
        _bounds(shape, "length", len(value), path, errors)
        for index, item in enumerate(value, start=1):
            if item is None:
                _fail(f"{path}.{index}.member", "Member must not be null", errors)
            else:
                _value(shape.member, item, f"{path}.{index}.member", errors)
    elif kind == "map":
        if not isinstance(value, dict):
            _fail(path, "Member must be a map", errors)
            return
        _bounds(shape, "length", len(value), path, errors)
        for key, item in value.items():
            _value(shape.key, key, f"{path}.key", errors)
            _value(shape.value, item, f"{path}.{key}", errors)
    elif kind == "string":
        if not isinstance(value, str):
            _fail(path, "Member must be of type string", errors)
            return
        _string(shape, value, path, errors)
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(path, f"Member must be of type {kind}", errors)
            return
        _bounds(shape, "value", value, path, errors)
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            _fail(path, f"Member must be of type {kind}", errors)
            return
        _bounds(shape, "value", value, path, errors)
    elif kind == "boolean":
        if not isinstance(value, bool):
            _fail(path, "Member must be of type boolean", errors)
    elif kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            _fail(path, "Member must be of type timestamp", errors)
    elif kind == "blob" and not isinstance(value, str):
        _fail(path, "Member must be of type blob", errors)


def _bounds(shape: Any, measure: str, amount: float, path: str, errors: list[str]) -> None:
    """The model's min/max on a member's `measure` ("length" or "value")."""
    meta = shape.metadata
    if "min" in meta and amount < meta["min"]:
        _fail(path, f"Member must have {measure} greater than or equal to {meta['min']}", errors)
    if "max" in meta and amount > meta["max"]:
        _fail(path, f"Member must have {measure} less than or equal to {meta['max']}", errors)


def _string(shape: Any, value: str, path: str, errors: list[str]) -> None:
    if _NUL in value:
        _fail(path, "Member must not contain the NUL character", errors)
        return
    enum = shape.enum
    if enum and value not in enum:
        _fail(path, f"Member must satisfy enum value set: [{', '.join(enum)}]", errors)
        return
    _bounds(shape, "length", len(value), path, errors)
    pattern = shape.metadata.get("pattern")
    if pattern is not None and _regex(pattern).fullmatch(value) is None:
        _fail(path, f"Member must satisfy regular expression pattern: {pattern}", errors)
