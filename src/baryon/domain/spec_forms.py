"""Forms generated from a template version's ``schema.yaml``: the fields a page shows for an input type,
the typed inputs a submitted form gives, and the spec text written from them.

Job: `fields` describes one form field per input (label, help, kind, default, choices and the constraints
a browser can check); `inputs_from_form` turns the submitted strings back into typed inputs and checks them
with `baryon.domain.spec_schema`, raising one `FormProblems` that places every message beside its field;
`refilled` shows a refused form again as it was sent; `subform` picks one input type's fields out of a
form holding several (a service's instances and pipeline); `with_undefined` keeps, on an update, the
inputs the form has no field for; `environment_spec`, `service_spec`, `updated_instance_spec` and
`inputs_spec` write spec text that `baryon.domain.specs` parses back to the same inputs.

Invariants:
- Pure: no I/O; arguments are never mutated.
- One field per property of the input type, in schema order. The label is the property's ``title`` when it
  is a non-empty string, else the property's path verbatim (``subnet_cidr``, ``db.port``); the help is its
  ``description``. An object property whose ``properties`` are all scalars (string, number, integer,
  boolean, or an enum of scalars) is flattened one level into fields named ``parent.child``; every other
  array or object property, and a property with neither ``type`` nor ``enum``, is one ``yaml`` field: a
  textarea holding YAML (JSON is YAML), shown as JSON.
- The browser is never stricter than the server: ``required`` only where the server would say "missing"
  (a required property with no default, under a required parent; never on a checkbox); ``minlength``,
  ``min`` and ``max`` loosened where HTML counts differently (UTF-16 units, inclusive bounds); the
  schema's ``maxLength`` and ``pattern`` become one HTML ``pattern`` (`baryon.domain.browser_patterns`),
  or none. The server's check, through `spec_schema.input_problems`, is authoritative and its messages
  are the ones shown.
- Only the form's names that are fields are read; any other name (a CSRF token, a resource name, junk) is
  ignored, so the work is bounded by the schema, not by the form. A value longer than `MAX_VALUE_CHARS`,
  a YAML textarea past the spec limits (aliases counted as copies), a non-finite or out-of-range number,
  a NUL character in text each give a message beside its field.
- An empty field is absent from the inputs (so the schema's default applies, on the server); an unchecked
  checkbox is ``false``. An optional flattened object is present only when one of its fields gives a value
  (a ``false`` checkbox alone does not); a required one is always present. The inputs returned are those
  the form gives, without defaults: the spec says what its writer chose.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from baryon.domain.browser_patterns import browser_pattern, text_pattern
from baryon.domain.spec_schema import ROLES, input_problems
from baryon.domain.specs import (
    ENVIRONMENT_SPEC,
    MAX_DEPTH,
    MAX_SPEC_CHARS,
    MAX_VALUES,
    SERVICE_SPEC,
    InstanceSpec,
    dump_spec,
    parse_service_spec,
    replace_instance_inputs,
)
from baryon.domain.yamlread import ReadLimits, YamlError, read_yaml
from baryon.protocol.errors import ValidationException

TEXT = "text"
NUMBER = "number"
INTEGER = "integer"
CHECKBOX = "checkbox"
SELECT = "select"
YAML = "yaml"
KINDS = (TEXT, NUMBER, INTEGER, CHECKBOX, SELECT, YAML)

#: The longest value one field may submit (a spec holds at most this many characters in all).
MAX_VALUE_CHARS = MAX_SPEC_CHARS
#: The longest number text read; longer text is not a number a spec can hold.
MAX_NUMBER_CHARS = 400
_INT64 = 2**63
_YAML_LIMITS = ReadLimits(max_depth=MAX_DEPTH, max_values=MAX_VALUES, unique_keys=True)
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INTEGER_TEXT = re.compile(r"[+-]?\d+", re.ASCII)
_SCALAR_TYPES = ("string", "number", "integer", "boolean")


@dataclass(frozen=True)
class Choice:
    """One option of a select: the text submitted and the text shown."""

    value: str
    label: str


@dataclass(frozen=True)
class Field:
    """One form field for one input.

    ``name`` is the input's path and the form's field name; ``kind`` is one of `KINDS` (``yaml`` is a
    textarea); ``default`` is the schema default as the form shows it (None: no default); ``value`` is what
    the field holds when the page opens (the current value, else the default, else empty; a checkbox holds
    ``true`` or nothing); ``choices`` lists a select's options (a first empty option when the field has no
    default); ``attributes`` are the HTML constraint attributes (``pattern``, ``minlength``, ``min``,
    ``max``, ``step``, and with a pattern the ``title`` that describes it) with their values; ``group``
    is the name of the flattened object the field belongs to (None: none), ``group_label`` and
    ``group_help`` its label and description.
    """

    name: str
    label: str
    help: str | None
    kind: str
    required: bool
    default: str | None
    value: str
    choices: tuple[Choice, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    group: str | None = None
    group_label: str | None = None
    group_help: str | None = None

    @property
    def input_type(self) -> str | None:
        """The ``type`` of the ``<input>`` element, or None for a select or a textarea."""
        return {TEXT: "text", NUMBER: "number", INTEGER: "number", CHECKBOX: "checkbox"}.get(self.kind)


class FormProblems(Exception):
    """A submitted form's problems: ``by_field`` maps a field's name to the messages shown beside it;
    ``general`` holds those about no field (the template's schema, the form as a whole)."""

    def __init__(self, by_field: dict[str, list[str]], general: list[str]) -> None:
        self.by_field = by_field
        self.general = general
        self.message = "; ".join([*general, *(m for messages in by_field.values() for m in messages)])
        super().__init__(self.message)


# --- the schema's properties ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Slot:
    """A property behind one field: its path, its parent (for a flattened object) and its definition."""

    name: str
    path: tuple[str, ...]
    definition: dict[str, Any]
    kind: str
    required: bool  # the browser may require it
    group: dict[str, Any] | None  # the flattened object's definition
    group_name: str | None


def _input_type(schema_document: Any, role: str) -> dict[str, Any] | None:
    if role not in ROLES:
        raise ValueError(f"unknown input type role {role!r}; expected one of {', '.join(ROLES)}")
    body = schema_document.get("schema") if isinstance(schema_document, dict) else None
    if not isinstance(body, dict):
        return None
    types = body.get("types")
    name = body.get(role)
    if not isinstance(name, str) or not isinstance(types, dict):
        return None
    definition = types.get(name)
    return definition if isinstance(definition, dict) else None


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


def _kind(definition: dict[str, Any]) -> str | None:
    """The kind of a scalar property, or None when it needs a YAML textarea."""
    type_name = definition.get("type")
    enum = definition.get("enum")
    if isinstance(enum, list) and enum:
        if not all(_scalar(option) for option in enum):
            return None
        return CHECKBOX if type_name == "boolean" else SELECT
    if type_name == "string":
        return TEXT
    if type_name == "number":
        return NUMBER
    if type_name == "integer":
        return INTEGER
    if type_name == "boolean":
        return CHECKBOX
    return None


def _properties(definition: dict[str, Any]) -> dict[str, Any]:
    properties = definition.get("properties")
    return properties if isinstance(properties, dict) else {}


def _required(definition: dict[str, Any]) -> list[str]:
    required = definition.get("required")
    return [name for name in required if isinstance(name, str)] if isinstance(required, list) else []


def _has_default(definition: dict[str, Any]) -> bool:
    return definition.get("default") is not None


def _flattenable(name: str, definition: dict[str, Any]) -> bool:
    if definition.get("type") != "object" or "enum" in definition or "." in name or "[" in name:
        return False
    properties = _properties(definition)
    return bool(properties) and all(
        isinstance(child, dict) and _kind(child) is not None and "." not in key and "[" not in key
        for key, child in properties.items()
    )


def _slots(input_type: dict[str, Any]) -> list[_Slot]:
    slots: list[_Slot] = []
    required = _required(input_type)
    for name, definition in _properties(input_type).items():
        if not isinstance(definition, dict):
            continue
        needed = name in required and not _has_default(definition)
        if _flattenable(name, definition):
            inner_required = _required(definition)
            for child, child_definition in _properties(definition).items():
                child_needed = needed and child in inner_required and not _has_default(child_definition)
                kind = _kind(child_definition) or YAML
                slots.append(
                    _Slot(
                        f"{name}.{child}",
                        (name, child),
                        child_definition,
                        kind,
                        child_needed and kind != CHECKBOX,
                        definition,
                        name,
                    )
                )
            continue
        kind = _kind(definition) or YAML
        slots.append(_Slot(name, (name,), definition, kind, needed and kind != CHECKBOX, None, None))
    return slots


# --- how values are shown --------------------------------------------------------------------------------


def _show_number(value: int | float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


def _option(value: Any) -> str:
    """An enum option as a select submits it: strings bare, other values in JSON notation."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _shown(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == CHECKBOX:
        return "true" if value is True else ""
    if kind == SELECT:
        return _option(value)
    if kind in (NUMBER, INTEGER) and isinstance(value, int | float) and not isinstance(value, bool):
        return _show_number(value)
    if kind == TEXT and isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _attributes(definition: dict[str, Any], kind: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    if kind == TEXT:
        minimum = definition.get("minLength")
        if isinstance(minimum, int) and not isinstance(minimum, bool) and minimum > 0:
            attributes["minlength"] = str(minimum)
        pattern = definition.get("pattern")
        maximum = definition.get("maxLength")
        if isinstance(maximum, bool) or not isinstance(maximum, int) or maximum < 0:
            maximum = None
        if maximum is not None and maximum >= MAX_VALUE_CHARS:
            maximum = None  # no longer than any value a form may send
        combined = text_pattern(pattern if isinstance(pattern, str) else None, maximum)
        if combined is not None:
            attributes["pattern"] = combined
            # what the browser shows after "Please match the requested format"
            wanted = [] if maximum is None else [f"at most {maximum} characters"]
            if isinstance(pattern, str) and browser_pattern(pattern) is not None:
                wanted.append(f"matching {pattern}")
            hint = ", ".join(wanted)
            attributes["title"] = hint[:1].upper() + hint[1:]
    elif kind in (NUMBER, INTEGER):
        low, high = _number(definition.get("minimum")), _number(definition.get("maximum"))
        exclusive_low = definition.get("exclusiveMinimum") is True
        exclusive_high = definition.get("exclusiveMaximum") is True
        if kind == INTEGER:
            attributes["step"] = "1"
            if low is not None:
                low = math.floor(low) + 1 if exclusive_low and float(low).is_integer() else math.ceil(low)
            if high is not None:
                high = (
                    math.ceil(high) - 1 if exclusive_high and float(high).is_integer() else math.floor(high)
                )
        else:
            attributes["step"] = "any"
        if low is not None:
            attributes["min"] = _show_number(low)
        if high is not None:
            attributes["max"] = _show_number(high)
    return attributes


def _choices(definition: dict[str, Any], has_default: bool) -> tuple[Choice, ...]:
    options = definition.get("enum")
    if not isinstance(options, list):
        return ()
    shown: list[Choice] = [] if has_default else [Choice("", "")]
    seen: set[str] = set()
    for option in options:
        text = _option(option)
        if text not in seen:
            seen.add(text)
            shown.append(Choice(text, text))
    return tuple(shown)


def _current(current: Mapping[str, Any] | None, path: tuple[str, ...]) -> Any:
    value: Any = current
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def fields(schema_document: Any, role: str, current: Mapping[str, Any] | None = None) -> list[Field]:
    """The fields of the form for the input type named by ``role`` (``environment_input_type``,
    ``service_input_type`` or ``pipeline_input_type``) of a parsed ``schema.yaml``, in schema order; each
    holds the input's value in ``current`` (the inputs a resource has now), else its default. An empty list
    when the schema has no such input type."""
    input_type = _input_type(schema_document, role)
    if input_type is None:
        return []
    result: list[Field] = []
    for slot in _slots(input_type):
        definition = slot.definition
        default_value = definition.get("default")
        default = None if default_value is None else _shown(default_value, slot.kind)
        given = _current(current, slot.path)
        value = _shown(given, slot.kind) if given is not None else (default or "")
        group = slot.group or {}
        result.append(
            Field(
                name=slot.name,
                label=_text(definition.get("title")) or slot.name,
                help=_text(definition.get("description")),
                kind=slot.kind,
                required=slot.required,
                default=default,
                value=value,
                choices=_choices(definition, default_value is not None) if slot.kind == SELECT else (),
                attributes=_attributes(definition, slot.kind),
                group=slot.group_name,
                group_label=None if slot.group_name is None else _text(group.get("title")) or slot.group_name,
                group_help=_text(group.get("description")),
            )
        )
    return result


def refilled(form_fields: Sequence[Field], form: Mapping[str, str]) -> list[Field]:
    """``form_fields`` holding what ``form`` submitted (to show a refused form again as it was sent)."""
    result = []
    for one in form_fields:
        submitted = form.get(one.name)
        if one.kind == CHECKBOX:
            value = "true" if submitted in ("true", "on") else ""
        else:
            value = submitted if isinstance(submitted, str) else ""
        result.append(dataclasses.replace(one, value=value))
    return result


# --- reading a submitted form -------------------------------------------------------------------------


def subform(form: Mapping[str, str], prefix: str) -> dict[str, str]:
    """The part of ``form`` whose names start with ``prefix``, with the prefix removed: one input type's
    fields in a form that holds several (``instance.0.port`` → ``port`` for the prefix ``instance.0.``)."""
    return {name[len(prefix) :]: value for name, value in form.items() if name.startswith(prefix)}


class _Refused(Exception):
    """A field's text cannot become a value; the message is shown beside it."""


def _label(path: str) -> str:
    return f"input '{path}'"


def _read_number(text: str, kind: str, path: str) -> Any:
    stripped = text.strip()
    if len(stripped) > MAX_NUMBER_CHARS or _NUMBER_TEXT.fullmatch(stripped) is None:
        return text  # not a number: the server's type check words the message
    if _INTEGER_TEXT.fullmatch(stripped):
        number: int | float = int(stripped)
        if not -_INT64 <= number < _INT64:
            raise _Refused(f"{_label(path)} must be between {-_INT64} and {_INT64 - 1}")
        return number
    number = float(stripped)
    if not math.isfinite(number):
        raise _Refused(f"{_label(path)} must be a finite number")
    if kind == INTEGER and number.is_integer() and -_INT64 <= number < _INT64:
        return int(number)
    return number


def _read_select(text: str, definition: dict[str, Any]) -> Any:
    options = definition.get("enum")
    for option in options if isinstance(options, list) else []:
        if _option(option) == text:
            return option
    return text  # not an option: the server's enum check words the message


def _read_yaml(text: str, path: str) -> Any:
    try:
        return read_yaml(text, _YAML_LIMITS)
    except YamlError as error:
        raise _Refused(
            error.describe(f"{_label(path)} is not valid YAML" if error.positioned else _label(path))
        ) from None


_ABSENT = object()


def _read(slot: _Slot, form: Mapping[str, str]) -> Any:
    """The value a field gives, or `_ABSENT`."""
    text = form.get(slot.name)
    if slot.kind == CHECKBOX:
        if text is None or text in ("", "false", "off"):
            return False
        if text in ("true", "on"):
            return True
        raise _Refused(f"{_label(slot.name)} must be of type boolean")
    if not isinstance(text, str) or text == "":
        return _ABSENT
    if len(text) > MAX_VALUE_CHARS:
        raise _Refused(f"{_label(slot.name)} is longer than {MAX_VALUE_CHARS} characters")
    if slot.kind == TEXT:
        if "\0" in text:
            raise _Refused(f"{_label(slot.name)} must not contain the NUL character")
        return text
    if slot.kind in (NUMBER, INTEGER):
        return _ABSENT if not text.strip() else _read_number(text, slot.kind, slot.name)
    if slot.kind == SELECT:
        return _read_select(text, slot.definition)
    if not text.strip():
        return _ABSENT
    value = _read_yaml(text, slot.name)
    return _ABSENT if value is None else value


def _field_of(path: str | None, names: Sequence[str]) -> str | None:
    """The field a problem about ``path`` is shown beside: the field of that path, else the field holding
    it (``tags`` for ``tags[0]``), else the first field inside it (``db.port`` for ``db``)."""
    if not path:
        return None
    if path in names:
        return path
    holders = [name for name in names if path.startswith((name + ".", name + "["))]
    if holders:
        return max(holders, key=len)
    return next((name for name in names if name.startswith(path + ".")), None)


def inputs_from_form(schema_document: Any, role: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The inputs a submitted form gives for the input type named by ``role``, checked against the schema
    (without its defaults: an empty field is left out so that the default applies); or raise
    `FormProblems` with every message, each beside its field where it is about one."""
    input_type = _input_type(schema_document, role)
    if input_type is None:
        raise FormProblems({}, [f"the template version's schema defines no {role}"])
    slots = _slots(input_type)
    names = [slot.name for slot in slots]
    by_field: dict[str, list[str]] = {}
    given: dict[str, Any] = {}
    members: dict[str, dict[str, Any]] = {}
    present = {slot.group_name: slot.group_name in _required(input_type) for slot in slots if slot.group_name}
    for slot in slots:
        try:
            value = _read(slot, form)
        except _Refused as refused:
            by_field[slot.name] = [str(refused)]
            continue
        if value is _ABSENT:
            continue
        if slot.group_name is None:
            given[slot.name] = value
        else:
            members.setdefault(slot.group_name, {})[slot.path[1]] = value
            if value is not False:  # a false checkbox alone does not make an optional object present
                present[slot.group_name] = True
    inputs: dict[str, Any] = {}
    for slot in slots:
        if slot.group_name is None:
            if slot.name in given:
                inputs[slot.name] = given[slot.name]
        elif present[slot.group_name]:
            group = inputs.setdefault(slot.group_name, {})
            if slot.path[1] in members.get(slot.group_name, {}):
                group[slot.path[1]] = members[slot.group_name][slot.path[1]]
    refused_names = set(by_field)
    general: list[str] = []
    for problem in input_problems(schema_document, role, inputs)[1]:
        name = _field_of(problem.path, names)
        if name is None:
            general.append(problem.message)
        elif name not in refused_names:
            by_field.setdefault(name, []).append(problem.message)
    if not by_field and not general and len(inputs_spec(inputs)) > MAX_SPEC_CHARS:
        general.append(f"the inputs are longer than {MAX_SPEC_CHARS} characters as a spec")
    if by_field or general:
        raise FormProblems({name: by_field[name] for name in names if name in by_field}, general)
    return inputs


def with_undefined(
    schema_document: Any, role: str, inputs: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """``inputs`` (what an update form gave) followed by the inputs of ``current`` (the spec's inputs so
    far) that the form has no field for: those the schema does not define, at the top level and inside a
    flattened object that ``inputs`` holds. An update through the form then changes only what it shows."""
    result = copy.deepcopy(dict(inputs))
    input_type = _input_type(schema_document, role)
    if input_type is None:
        return result
    slots = _slots(input_type)
    tops = {slot.path[0] for slot in slots}
    members = {slot.name for slot in slots}
    for key, value in current.items():
        if key not in tops:
            result.setdefault(key, copy.deepcopy(value))
        elif isinstance(value, Mapping) and isinstance(result.get(key), dict):
            for member, item in value.items():
                if f"{key}.{member}" not in members:
                    result[key].setdefault(member, copy.deepcopy(item))
    return result


# --- spec text ------------------------------------------------------------------------------------


def environment_spec(inputs: Mapping[str, Any]) -> str:
    """A ``proton: EnvironmentSpec`` document giving ``inputs`` (no ``spec`` key when there are none)."""
    document: dict[str, Any] = {"proton": ENVIRONMENT_SPEC}
    if inputs:
        document["spec"] = dict(inputs)
    return dump_spec(document)


def service_spec(instances: Sequence[InstanceSpec], pipeline: Mapping[str, Any] | None = None) -> str:
    """A ``proton: ServiceSpec`` document listing ``instances`` in order (name, environment and inputs;
    no ``spec`` key for an instance without inputs) and, unless ``pipeline`` is None, the pipeline's inputs.
    Raises ValidationException (the message `parse_service_spec` gives) when the document would not parse:
    no instance, a name used twice, a name that is not a valid name."""
    document: dict[str, Any] = {"proton": SERVICE_SPEC}
    if pipeline is not None:
        document["pipeline"] = dict(pipeline)
    entries = []
    for instance in instances:
        entry: dict[str, Any] = {"name": instance.name, "environment": instance.environment}
        if instance.inputs:
            entry["spec"] = dict(instance.inputs)
        entries.append(entry)
    document["instances"] = entries
    text = dump_spec(document)
    parse_service_spec(text)
    return text


def updated_instance_spec(service_spec_text: str, instance_name: str, inputs: Mapping[str, Any]) -> str:
    """A service's ServiceSpec text in which the instance ``instance_name`` has ``inputs`` (the rest of the
    document as it was), as UpdateServiceInstance takes it. Raises ValidationException when the text is
    not a valid ServiceSpec or lists no such instance."""
    document = parse_service_spec(service_spec_text).document
    try:
        updated = replace_instance_inputs(document, instance_name, dict(inputs))
    except KeyError:
        raise ValidationException(
            f"Invalid spec: the ServiceSpec lists no instance named '{instance_name}'"
        ) from None
    return dump_spec(updated)


def inputs_spec(inputs: Mapping[str, Any]) -> str:
    """A bare mapping of inputs, a spec UpdateServiceInstance and UpdateServicePipeline accept as it is."""
    return dump_spec(dict(inputs))
