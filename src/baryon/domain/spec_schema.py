"""Validating the inputs of a spec against a template version's ``schema.yaml`` (reference §2.4).

Job: given the parsed schema document, the role of the input type to use (``environment_input_type``,
``service_input_type`` or ``pipeline_input_type``) and the inputs a spec supplies, return the inputs the
resource is deployed with (schema defaults added), or raise one `ValidationException` that lists every
problem of the spec.

Invariants:
- Pure: no I/O, arguments are never mutated, and the returned containers are fresh copies.
- The schema is the OpenAPI 3.0 subset Proton documents: ``type`` (string, number, integer, boolean,
  array, object), ``enum``, ``pattern``, ``minLength``, ``maxLength``, ``minimum``, ``maximum`` (with the
  OpenAPI 3.0 boolean ``exclusiveMinimum`` / ``exclusiveMaximum``), ``items``, ``minItems``, ``maxItems``,
  ``uniqueItems``, ``properties``, ``required``, ``additionalProperties``, ``nullable`` and ``default``.
  ``description``, ``title``, ``example`` and every other keyword (``format``, ``$ref``, ``oneOf``, ...)
  are ignored. A supported keyword with an unusable value is reported as a problem of the template schema.
- Types: a number is an int or a finite float, never a boolean; an integer is a number with no fractional
  part (``3`` or ``3.0``); strings are never converted to numbers or booleans. Values keep their JSON types.
- ``pattern`` is searched (not anchored), as in JSON Schema, with Python's `re` in ASCII mode (``\\d`` and
  ``\\w`` are ASCII-only, as in ECMAScript and Java). Lengths count Unicode code points.
- A property given as null counts as absent, at every level of nested objects.
- An absent property with a non-null ``default`` gets a copy of that default, verbatim: defaults belong to
  the template author and are not validated (the spec's writer could not fix them).
- A required property that is absent (or null) and has no default is a problem.
- A property the schema does not define is kept as given, as OpenAPI allows additional properties unless
  the object says otherwise; `checked_inputs` names it so that the deployment can warn. It is a problem
  only where the object's ``additionalProperties`` is ``false``; a schema there validates it. An object
  schema without ``properties``, ``required`` or ``additionalProperties`` is free-form and accepts any
  mapping.
- Problems are reported in a deterministic order: an object's properties in schema order (each one's own
  problems depth-first), then required names missing from ``properties``, then undefined inputs in the
  order given. Messages name inputs by path (``db.port``, ``subnets[0]``) and never echo the given value.
  `input_problems` gives the same problems one by one, each with the path of the input it is about (None
  for a problem of the template schema), so that a form can show each beside its field.
- The returned mapping keeps the given inputs in the order given, followed by defaulted inputs in schema
  order.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from baryon.protocol.errors import ValidationException

ENVIRONMENT_INPUT = "environment_input_type"
SERVICE_INPUT = "service_input_type"
PIPELINE_INPUT = "pipeline_input_type"
ROLES = (ENVIRONMENT_INPUT, SERVICE_INPUT, PIPELINE_INPUT)

TYPES = ("string", "number", "integer", "boolean", "array", "object")


class _Findings(list[str]):
    """The problems found so far, and the paths of inputs kept although the schema does not define them."""

    def __init__(self) -> None:
        super().__init__()
        self.undefined: list[str] = []
        #: Per problem, the path of the input it is about, or None for a problem of the template schema.
        self.paths: list[str | None] = []

    def add(self, path: str | None, message: str) -> None:
        self.append(message)
        self.paths.append(path)


@dataclass(frozen=True)
class Problem:
    """One problem of the inputs: its message (as `validate_inputs` words it) and the path of the input it
    is about (``db.port``, ``subnets[0]``), or None when it is a problem of the template schema itself."""

    path: str | None
    message: str


def validate_inputs(
    schema: dict[str, Any], input_type_role: str, values: dict[str, Any], *, where: str
) -> dict[str, Any]:
    """Return ``values`` with schema defaults applied, or raise ValidationException naming ``where``.

    ``schema`` is the parsed ``schema.yaml`` (top key ``schema``); ``where`` names the resource in
    messages, e.g. ``environment dev`` or ``service instance front of service api``.
    """
    return checked_inputs(schema, input_type_role, values, where=where)[0]


def checked_inputs(
    schema: dict[str, Any], input_type_role: str, values: dict[str, Any], *, where: str
) -> tuple[dict[str, Any], list[str]]:
    """`validate_inputs`, and the paths (``db.extra``) of the inputs kept although the schema does not
    define them, in the order given."""
    if input_type_role not in ROLES:
        raise ValueError(f"unknown input type role {input_type_role!r}; expected one of {', '.join(ROLES)}")
    input_type = _input_type(schema, input_type_role)
    if input_type is None:
        raise ValidationException(
            f"Invalid spec for {where}: the template version's schema defines no {input_type_role}"
        )
    problems = _Findings()
    result = _check_object(input_type, values, "", problems, top=True)
    if problems:
        raise ValidationException(f"Invalid spec for {where}: " + "; ".join(problems))
    return result, problems.undefined


def input_problems(
    schema: dict[str, Any], input_type_role: str, values: dict[str, Any]
) -> tuple[dict[str, Any], list[Problem]]:
    """The inputs with schema defaults applied and every problem with the path it is about (empty when the
    inputs are valid): what `checked_inputs` would raise, one problem at a time, in the same order and
    words. A schema without the role's input type is one problem with no path."""
    if input_type_role not in ROLES:
        raise ValueError(f"unknown input type role {input_type_role!r}; expected one of {', '.join(ROLES)}")
    input_type = _input_type(schema, input_type_role)
    if input_type is None:
        return {}, [Problem(None, f"the template version's schema defines no {input_type_role}")]
    problems = _Findings()
    result = _check_object(input_type, values, "", problems, top=True)
    return result, [Problem(path, message) for path, message in zip(problems.paths, problems, strict=True)]


def undefined_warning(where: str, paths: list[str]) -> str | None:
    """The warning a deployment carries for inputs the schema does not define (None: there are none)."""
    if not paths:
        return None
    names = ", ".join(f"'{path}'" for path in paths)
    noun, verb = ("input", "is") if len(paths) == 1 else ("inputs", "are")
    return f"Warning: {noun} {names} of {where} {verb} not defined in the schema; kept as given."


def _input_type(schema: Any, role: str) -> dict[str, Any] | None:
    body = schema.get("schema") if isinstance(schema, dict) else None
    if not isinstance(body, dict):
        return None
    name = body.get(role)
    types = body.get("types")
    if not isinstance(name, str) or not isinstance(types, dict):
        return None
    definition = types.get(name)
    return definition if isinstance(definition, dict) else None


# --- labels and messages ------------------------------------------------------------------------------


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _label(path: str) -> str:
    return f"input '{path}'"


def _schema_problem(path: str, keyword: str, requirement: str) -> str:
    subject = _label(path) if path else "the input type"
    return f"the template schema's '{keyword}' for {subject} {requirement}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _show_number(value: int | float) -> str:
    return str(value)


def _show(value: Any) -> str:
    """An enum option as it appears in messages: strings bare, other values in JSON notation."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


# --- value kinds ----------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _has_type(value: Any, type_name: str) -> bool:
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "number":
        return _is_number(value)
    if type_name == "integer":
        return _is_number(value) and (isinstance(value, int) or float(value).is_integer())
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def _canonical(value: Any) -> Any:
    """A form in which JSON-equal values are equal: 1 == 1.0, but true != 1."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    return value


def _key(value: Any) -> str:
    return json.dumps(_canonical(value), sort_keys=True, ensure_ascii=False)


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.ASCII)
    except re.error:
        return None


def _count_keyword(schema: dict[str, Any], keyword: str, path: str, problems: _Findings) -> int | None:
    if keyword not in schema:
        return None
    value = schema[keyword]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.add(None, _schema_problem(path, keyword, "must be a non-negative integer"))
        return None
    return value


def _number_keyword(
    schema: dict[str, Any], keyword: str, path: str, problems: _Findings
) -> int | float | None:
    if keyword not in schema:
        return None
    value = schema[keyword]
    if not _is_number(value):
        problems.add(None, _schema_problem(path, keyword, "must be a number"))
        return None
    return value  # type: ignore[no-any-return]


def _flag_keyword(schema: dict[str, Any], keyword: str, path: str, problems: _Findings) -> bool:
    value = schema.get(keyword, False)
    if not isinstance(value, bool):
        problems.add(None, _schema_problem(path, keyword, "must be true or false"))
        return False
    return value


# --- checks ---------------------------------------------------------------------------------------


def _check(schema: Any, value: Any, path: str, problems: _Findings) -> Any:
    """Check one value against its schema; return a copy with nested defaults applied."""
    if not isinstance(schema, dict):
        problems.add(None, f"the template schema's definition of {_label(path)} must be a mapping")
        return copy.deepcopy(value)
    label = _label(path)
    if "type" in schema:
        type_name = schema["type"]
        if type_name not in TYPES:
            problems.add(None, _schema_problem(path, "type", f"must be one of {', '.join(TYPES)}"))
            return copy.deepcopy(value)
        nullable = value is None and _flag_keyword(schema, "nullable", path, problems)
        if not nullable and not _has_type(value, type_name):
            problems.add(path, f"{label} must be of type {type_name}")
            return copy.deepcopy(value)
    _check_enum(schema, value, path, problems)
    if isinstance(value, str):
        _check_string(schema, value, path, problems)
    elif _is_number(value):
        _check_range(schema, value, path, problems)
    elif isinstance(value, list):
        return _check_array(schema, value, path, problems)
    elif isinstance(value, dict):
        return _check_object(schema, value, path, problems, top=False)
    return copy.deepcopy(value)


def _check_enum(schema: dict[str, Any], value: Any, path: str, problems: _Findings) -> None:
    if "enum" not in schema:
        return
    options = schema["enum"]
    if not isinstance(options, list) or not options:
        problems.add(None, _schema_problem(path, "enum", "must be a non-empty list"))
        return
    wanted = _key(value)
    if not any(_key(option) == wanted for option in options):
        shown = ", ".join(_show(option) for option in options)
        problems.add(path, f"{_label(path)} must be one of [{shown}]")


def _check_count(
    schema: dict[str, Any],
    keywords: tuple[str, str],
    count: int,
    path: str,
    problems: _Findings,
    unit: str,
    wording: str,
) -> None:
    """A count's (length's, items') lower and upper bound keywords; `wording` places the bound broken
    ("at least 2 items") in the message."""
    lower, upper = keywords
    lowest = _count_keyword(schema, lower, path, problems)
    if lowest is not None and count < lowest:
        problems.add(path, f"{_label(path)} {wording.format(f'at least {_plural(lowest, unit)}')}")
    highest = _count_keyword(schema, upper, path, problems)
    if highest is not None and count > highest:
        problems.add(path, f"{_label(path)} {wording.format(f'at most {_plural(highest, unit)}')}")


def _check_string(schema: dict[str, Any], value: str, path: str, problems: _Findings) -> None:
    label = _label(path)
    if "pattern" in schema:
        pattern = schema["pattern"]
        compiled = _compile(pattern) if isinstance(pattern, str) else None
        if compiled is None:
            problems.add(None, _schema_problem(path, "pattern", "must be a valid regular expression"))
        elif compiled.search(value) is None:
            problems.add(path, f"{label} does not match pattern {pattern}")
    _check_count(
        schema, ("minLength", "maxLength"), len(value), path, problems, "character", "must be {} long"
    )


def _check_range(schema: dict[str, Any], value: int | float, path: str, problems: _Findings) -> None:
    label = _label(path)
    lowest = _number_keyword(schema, "minimum", path, problems)
    if lowest is not None:
        if _flag_keyword(schema, "exclusiveMinimum", path, problems):
            if not value > lowest:
                problems.add(path, f"{label} must be greater than {_show_number(lowest)}")
        elif not value >= lowest:
            problems.add(path, f"{label} must be at least {_show_number(lowest)}")
    highest = _number_keyword(schema, "maximum", path, problems)
    if highest is not None:
        if _flag_keyword(schema, "exclusiveMaximum", path, problems):
            if not value < highest:
                problems.add(path, f"{label} must be less than {_show_number(highest)}")
        elif not value <= highest:
            problems.add(path, f"{label} must be at most {_show_number(highest)}")


def _check_array(schema: dict[str, Any], value: list[Any], path: str, problems: _Findings) -> list[Any]:
    label = _label(path)
    _check_count(schema, ("minItems", "maxItems"), len(value), path, problems, "item", "must have {}")
    if _flag_keyword(schema, "uniqueItems", path, problems):
        keys = [_key(item) for item in value]
        if len(set(keys)) != len(keys):
            problems.add(path, f"{label} must not contain duplicate items")
    if "items" not in schema:
        return copy.deepcopy(value)
    items = schema["items"]
    if not isinstance(items, dict):
        problems.add(None, _schema_problem(path, "items", "must be a mapping"))
        return copy.deepcopy(value)
    return [_check(items, item, f"{path}[{index}]", problems) for index, item in enumerate(value)]


def _check_object(
    schema: dict[str, Any], value: dict[str, Any], path: str, problems: _Findings, *, top: bool
) -> dict[str, Any]:
    has_shape = top or any(key in schema for key in ("properties", "required", "additionalProperties"))
    if not has_shape:
        return {key: copy.deepcopy(item) for key, item in value.items() if item is not None}
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        problems.add(None, _schema_problem(path, "properties", "must be a mapping"))
        properties = {}
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        problems.add(None, _schema_problem(path, "required", "must be a list of property names"))
        required = []
    extra = schema.get("additionalProperties")
    if extra is not None and not isinstance(extra, bool | dict):
        problems.add(None, _schema_problem(path, "additionalProperties", "must be true, false or a mapping"))
        extra = False

    given = {name: item for name, item in value.items() if item is not None}
    checked: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for name, definition in properties.items():
        child = _child(path, name)
        if name in given:
            checked[name] = _check(definition, given[name], child, problems)
        elif isinstance(definition, dict) and definition.get("default") is not None:
            defaults[name] = copy.deepcopy(definition["default"])
        elif name in required:
            problems.add(child, f"required {_label(child)} is missing")
    for name in required:
        if name in properties:
            continue
        if name in given:
            checked[name] = copy.deepcopy(given[name])
        else:
            problems.add(_child(path, name), f"required {_label(_child(path, name))} is missing")
    for name, item in given.items():
        if name in checked:
            continue
        child = _child(path, name)
        if extra is None:
            checked[name] = copy.deepcopy(item)
            problems.undefined.append(child)
        elif extra is True:
            checked[name] = copy.deepcopy(item)
        elif isinstance(extra, dict):
            checked[name] = _check(extra, item, child, problems)
        else:
            problems.add(child, f"{_label(child)} is not defined in the schema")
    result = {name: checked[name] for name in given if name in checked}
    result.update(defaults)
    return result
