"""Console forms generated from a template version's schema: fields, typed inputs, messages beside their
field, spec text that parses back, hostile forms, and browser patterns never stricter than the server."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from typing import Any

import pytest

from baryon.domain.browser_patterns import browser_pattern
from baryon.domain.spec_forms import (
    CHECKBOX,
    INTEGER,
    NUMBER,
    SELECT,
    TEXT,
    YAML,
    Choice,
    FormProblems,
    environment_spec,
    fields,
    inputs_from_form,
    inputs_spec,
    refilled,
    service_spec,
    subform,
    updated_instance_spec,
    with_undefined,
)
from baryon.domain.spec_schema import input_problems
from baryon.domain.specs import (
    ENVIRONMENT_INPUT,
    PIPELINE_INPUT,
    SERVICE_INPUT,
    InstanceSpec,
    load_spec_yaml,
    parse_environment_spec,
    parse_instance_spec_from_service_spec,
    parse_service_spec,
)
from baryon.protocol.errors import ValidationException
from tests.support.bundles import ENV_SCHEMA, SERVICE_SCHEMA, TF_ENV_SCHEMA


def _schema(properties: dict[str, Any], role: str = ENVIRONMENT_INPUT, **extra: Any) -> dict[str, Any]:
    return {
        "schema": {
            "format": {"openapi": "3.0.0"},
            role: "In",
            "types": {"In": {"type": "object", "properties": properties, **extra}},
        }
    }


def _one(definition: dict[str, Any], **extra: Any) -> Any:
    (only,) = fields(_schema({"x": definition}, **extra), ENVIRONMENT_INPUT)
    return only


def _refused(schema: dict[str, Any], form: dict[str, str]) -> FormProblems:
    with pytest.raises(FormProblems) as caught:
        inputs_from_form(schema, ENVIRONMENT_INPUT, form)
    return caught.value


# --- fields -------------------------------------------------------------------------------------------


def test_label_is_the_title_else_the_name_and_help_is_the_description() -> None:
    schema = _schema(
        {
            "vpc_cidr": {"type": "string", "title": "VPC CIDR", "description": "The VPC's range"},
            "subnet_cidr": {"type": "string"},
        }
    )
    first, second = fields(schema, ENVIRONMENT_INPUT)
    assert (first.name, first.label, first.help) == ("vpc_cidr", "VPC CIDR", "The VPC's range")
    assert (second.name, second.label, second.help) == ("subnet_cidr", "subnet_cidr", None)


def test_fields_follow_schema_order_and_the_role() -> None:
    schema = {
        "schema": {
            "service_input_type": "Svc",
            "pipeline_input_type": "Pipe",
            "types": {
                "Svc": {"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "string"}}},
                "Pipe": {"type": "object", "properties": {"dockerfile": {"type": "string"}}},
            },
        }
    }
    assert [f.name for f in fields(schema, SERVICE_INPUT)] == ["b", "a"]
    assert [f.name for f in fields(schema, PIPELINE_INPUT)] == ["dockerfile"]
    assert fields(schema, ENVIRONMENT_INPUT) == []


def test_kinds() -> None:
    assert _one({"type": "string"}).kind == TEXT
    assert _one({"type": "number"}).kind == NUMBER
    assert _one({"type": "integer"}).kind == INTEGER
    assert _one({"type": "boolean"}).kind == CHECKBOX
    assert _one({"type": "string", "enum": ["a", "b"]}).kind == SELECT
    assert _one({"type": "array", "items": {"type": "string"}}).kind == YAML
    assert _one({"type": "object"}).kind == YAML
    assert _one({}).kind == YAML
    assert _one({"type": "string"}).input_type == "text"
    assert _one({"type": "integer"}).input_type == "number"
    assert _one({"type": "object"}).input_type is None


def test_defaults_as_the_form_shows_them() -> None:
    assert _one({"type": "string", "default": "10.0.0.0/16"}).value == "10.0.0.0/16"
    assert _one({"type": "number", "default": 80}).default == "80"
    assert _one({"type": "number", "default": 0.5}).value == "0.5"
    assert _one({"type": "boolean", "default": True}).value == "true"
    assert _one({"type": "boolean", "default": False}).value == ""
    assert _one({"type": "array", "default": ["a", "b"]}).value == '["a", "b"]'
    assert _one({"type": "string"}).default is None
    assert _one({"type": "string"}).value == ""


def test_current_values_win_over_defaults() -> None:
    schema = _schema(
        {
            "port": {"type": "integer", "default": 80},
            "db": {"type": "object", "properties": {"host": {"type": "string"}}},
        }
    )
    port, host = fields(schema, ENVIRONMENT_INPUT, {"port": 8080, "db": {"host": "h"}})
    assert (port.value, port.default, host.value) == ("8080", "80", "h")


def test_enum_choices_with_an_empty_option_only_without_default() -> None:
    assert _one({"type": "string", "enum": ["s", "m"]}).choices == (
        Choice("", ""),
        Choice("s", "s"),
        Choice("m", "m"),
    )
    with_default = _one({"type": "string", "enum": ["s", "m"], "default": "m"})
    assert with_default.choices == (Choice("s", "s"), Choice("m", "m"))
    assert with_default.value == "m"
    assert [c.value for c in _one({"type": "number", "enum": [1, 2.5]}).choices] == ["", "1", "2.5"]


def test_required_only_where_the_server_would_say_missing() -> None:
    schema = _schema(
        {
            "a": {"type": "string"},
            "b": {"type": "string", "default": "x"},
            "c": {"type": "string"},
            "flag": {"type": "boolean"},
        },
        required=["a", "b", "flag"],
    )
    assert [f.required for f in fields(schema, ENVIRONMENT_INPUT)] == [True, False, False, False]


def test_string_constraints() -> None:
    field = _one({"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"})
    assert field.attributes == {
        "minlength": "2",
        "pattern": r"(?=[\s\S]{0,5}$)[\s\S]*(?:^[a-z]+$)[\s\S]*",
        "title": "At most 5 characters, matching ^[a-z]+$",
    }
    assert _one({"type": "string", "maxLength": 3}).attributes == {
        "pattern": r"[\s\S]{0,3}",
        "title": "At most 3 characters",
    }
    assert _one({"type": "string", "pattern": "^[A-Z]"}).attributes["title"] == "Matching ^[A-Z]"
    assert _one({"type": "string", "pattern": r"\s"}).attributes == {}


def test_number_constraints() -> None:
    assert _one({"type": "number", "minimum": 1, "maximum": 2.5}).attributes == {
        "step": "any",
        "min": "1",
        "max": "2.5",
    }
    # exclusive bounds: the browser's inclusive bound is looser, never stricter
    assert _one({"type": "number", "minimum": 0, "exclusiveMinimum": True}).attributes["min"] == "0"
    integer = _one({"type": "integer", "minimum": 0.5, "maximum": 10, "exclusiveMaximum": True})
    assert integer.attributes == {"step": "1", "min": "1", "max": "9"}
    assert _one({"type": "integer", "minimum": "x"}).attributes == {"step": "1"}


def test_flat_object_becomes_dotted_fields_with_a_group() -> None:
    schema = _schema(
        {
            "db": {
                "type": "object",
                "title": "Database",
                "description": "Where data lives",
                "properties": {"host": {"type": "string", "title": "Host"}, "port": {"type": "integer"}},
                "required": ["host"],
            }
        },
        required=["db"],
    )
    host, port = fields(schema, ENVIRONMENT_INPUT)
    assert (host.name, host.label, host.group, host.group_label, host.group_help, host.required) == (
        "db.host",
        "Host",
        "db",
        "Database",
        "Where data lives",
        True,
    )
    assert (port.name, port.label, port.kind, port.required) == ("db.port", "db.port", INTEGER, False)


def test_deeper_objects_are_one_yaml_field() -> None:
    schema = _schema(
        {"db": {"type": "object", "properties": {"replica": {"type": "object", "properties": {}}}}}
    )
    (only,) = fields(schema, ENVIRONMENT_INPUT)
    assert (only.name, only.kind) == ("db", YAML)


def test_refilled_keeps_what_was_sent() -> None:
    schema = _schema({"a": {"type": "string", "default": "d"}, "f": {"type": "boolean", "default": True}})
    a, f = refilled(fields(schema, ENVIRONMENT_INPUT), {"a": "typed"})
    assert (a.value, f.value) == ("typed", "")


def test_the_fields_of_the_test_bundles() -> None:
    schema = load_spec_yaml(TF_ENV_SCHEMA)
    shown = [(f.name, f.kind, f.value) for f in fields(schema, ENVIRONMENT_INPUT)]
    assert shown == [
        ("vpc_cidr", TEXT, "10.0.0.0/16"),
        ("az_count", INTEGER, "2"),
        ("nat", CHECKBOX, ""),
        ("subnets", YAML, ""),
    ]
    form = {"vpc_cidr": "10.1.0.0/16", "az_count": "3", "subnets": "[a, b]"}
    inputs = inputs_from_form(schema, ENVIRONMENT_INPUT, form)
    assert inputs == {"vpc_cidr": "10.1.0.0/16", "az_count": 3, "nat": False, "subnets": ["a", "b"]}
    problems = _refused(load_spec_yaml(ENV_SCHEMA), {"vpc_cidr": "none"})
    assert problems.by_field == {
        "vpc_cidr": [r"input 'vpc_cidr' does not match pattern ([0-9]{1,3}\.){3}[0-9]{1,3}($|/(16|24))"]
    }
    service = load_spec_yaml(SERVICE_SCHEMA)
    assert [(f.name, f.value) for f in fields(service, SERVICE_INPUT)] == [("port", "80")]
    assert [(f.name, f.value) for f in fields(service, PIPELINE_INPUT)] == [("dockerfile", "Dockerfile")]


# --- inputs from a form -----------------------------------------------------------------------------


def test_typed_values() -> None:
    schema = _schema(
        {
            "s": {"type": "string"},
            "n": {"type": "number"},
            "i": {"type": "integer"},
            "b": {"type": "boolean"},
            "e": {"type": "number", "enum": [1, 2]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "meta": {"type": "object"},
        }
    )
    form = {"s": " x ", "n": "2.5", "i": "3.0", "b": "true", "e": "2", "tags": "- a\n- b", "meta": '{"k": 1}'}
    assert inputs_from_form(schema, ENVIRONMENT_INPUT, form) == {
        "s": " x ",
        "n": 2.5,
        "i": 3,
        "b": True,
        "e": 2,
        "tags": ["a", "b"],
        "meta": {"k": 1},
    }


def test_empty_optional_fields_are_absent_and_unchecked_is_false() -> None:
    schema = _schema(
        {
            "s": {"type": "string", "default": "d"},
            "n": {"type": "number"},
            "b": {"type": "boolean", "default": True},
        }
    )
    assert inputs_from_form(schema, ENVIRONMENT_INPUT, {"s": "", "n": "  "}) == {"b": False}


def test_the_servers_messages_beside_each_field() -> None:
    schema = _schema(
        {
            "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 4},
            "port": {"type": "integer", "minimum": 1},
            "size": {"type": "string", "enum": ["s", "m"]},
            "count": {"type": "number"},
        },
        required=["name", "count"],
    )
    problems = _refused(schema, {"name": "ABCDEF", "port": "0", "size": "xl", "count": ""})
    assert problems.by_field == {
        "name": [
            "input 'name' does not match pattern ^[a-z]+$",
            "input 'name' must be at most 4 characters long",
        ],
        "port": ["input 'port' must be at least 1"],
        "size": ["input 'size' must be one of [s, m]"],
        "count": ["required input 'count' is missing"],
    }
    assert problems.general == []


def test_messages_match_the_servers_own_words() -> None:
    schema = _schema({"port": {"type": "integer", "maximum": 9}})
    _, server = input_problems(schema, ENVIRONMENT_INPUT, {"port": 10})
    assert _refused(schema, {"port": "10"}).by_field == {"port": [server[0].message]}
    assert _refused(schema, {"port": "2.5"}).by_field == {"port": ["input 'port' must be of type integer"]}
    assert _refused(schema, {"port": "ten"}).by_field == {"port": ["input 'port' must be of type integer"]}


def test_nested_problems_go_beside_the_field_holding_them() -> None:
    schema = _schema(
        {
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 2}},
            "db": {"type": "object", "properties": {"port": {"type": "integer", "maximum": 5}}},
        }
    )
    problems = _refused(schema, {"tags": '["ok", "long"]', "db.port": "6"})
    assert problems.by_field == {
        "tags": ["input 'tags[1]' must be at most 2 characters long"],
        "db.port": ["input 'db.port' must be at most 5"],
    }


def test_flattened_object_presence() -> None:
    properties = {
        "db": {
            "type": "object",
            "properties": {"host": {"type": "string"}, "tls": {"type": "boolean"}},
            "required": ["host"],
        }
    }
    optional = _schema(properties)
    assert inputs_from_form(optional, ENVIRONMENT_INPUT, {}) == {}
    assert inputs_from_form(optional, ENVIRONMENT_INPUT, {"db.host": "h"}) == {
        "db": {"host": "h", "tls": False}
    }
    assert _refused(optional, {"db.tls": "true"}).by_field == {
        "db.host": ["required input 'db.host' is missing"]
    }
    required = _schema(properties, required=["db"])
    assert _refused(required, {}).by_field == {"db.host": ["required input 'db.host' is missing"]}


def test_schema_problems_and_missing_input_type_are_general() -> None:
    problems = _refused(_schema({"x": {"type": "string", "pattern": "("}}), {"x": "a"})
    assert problems.by_field == {}
    assert problems.general == [
        "the template schema's 'pattern' for input 'x' must be a valid regular expression"
    ]
    with pytest.raises(FormProblems) as caught:
        inputs_from_form(_schema({}), SERVICE_INPUT, {})
    assert caught.value.general == ["the template version's schema defines no service_input_type"]


def test_a_required_name_without_a_property_is_general() -> None:
    assert _refused(_schema({}, required=["ghost"]), {"ghost": "x"}).general == [
        "required input 'ghost' is missing"
    ]


def test_a_form_with_several_input_types() -> None:
    schema = {
        "schema": {
            "service_input_type": "Svc",
            "pipeline_input_type": "Pipe",
            "types": {
                "Svc": {"type": "object", "properties": {"port": {"type": "integer"}}},
                "Pipe": {"type": "object", "properties": {"dockerfile": {"type": "string"}}},
            },
        }
    }
    form = {"csrf": "t", "instance.0.port": "80", "instance.1.port": "81", "pipeline.dockerfile": "D"}
    first = inputs_from_form(schema, SERVICE_INPUT, subform(form, "instance.0."))
    second = inputs_from_form(schema, SERVICE_INPUT, subform(form, "instance.1."))
    pipeline = inputs_from_form(schema, PIPELINE_INPUT, subform(form, "pipeline."))
    text = service_spec([InstanceSpec("a", "dev", first), InstanceSpec("b", "prod", second)], pipeline)
    parsed = parse_service_spec(text)
    assert [i.inputs for i in parsed.instances] == [{"port": 80}, {"port": 81}]
    assert parsed.pipeline == {"dockerfile": "D"}


# --- hostile forms ------------------------------------------------------------------------------------


def test_names_not_in_the_schema_are_ignored() -> None:
    schema = _schema({"a": {"type": "string"}})
    form = {f"junk{i}": "x" * 100 for i in range(5_000)} | {"a": "v", "csrf": "t"}
    assert inputs_from_form(schema, ENVIRONMENT_INPUT, form) == {"a": "v"}


def test_huge_values_are_refused_beside_their_field() -> None:
    schema = _schema({"a": {"type": "string"}, "n": {"type": "number"}})
    problems = _refused(schema, {"a": "x" * 60_000, "n": "9" * 5_000})
    assert problems.by_field == {
        "a": ["input 'a' is longer than 51200 characters"],
        "n": ["input 'n' must be of type number"],
    }


def test_inputs_too_long_for_a_spec_in_all() -> None:
    schema = _schema({"a": {"type": "string"}, "b": {"type": "string"}})
    problems = _refused(schema, {"a": "x" * 30_000, "b": "y" * 30_000})
    assert problems.general == ["the inputs are longer than 51200 characters as a spec"]


def test_yaml_bombs_and_bad_yaml() -> None:
    schema = _schema({"t": {"type": "array"}})
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    bomb = "\n".join(lines)
    (message,) = _refused(schema, {"t": bomb}).by_field["t"]
    assert message.startswith("input 't' is too large: it expands to more than 10000 values")
    (message,) = _refused(schema, {"t": "[1, 2"}).by_field["t"]
    assert message.startswith("input 't' is not valid YAML: line ")
    assert (
        _refused(schema, {"t": "!!python/object:os.system x"})
        .by_field["t"][0]
        .startswith("input 't' is not valid YAML")
    )


@pytest.mark.parametrize("text", ["inf", "-Infinity", "NaN", "1e999"])
def test_non_finite_numbers(text: str) -> None:
    problems = _refused(_schema({"n": {"type": "number"}}), {"n": text})
    assert problems.by_field["n"] in (
        ["input 'n' must be a finite number"],
        ["input 'n' must be of type number"],
    )


def test_integers_beyond_64_bits() -> None:
    problems = _refused(_schema({"n": {"type": "integer"}}), {"n": str(2**63)})
    assert problems.by_field == {
        "n": ["input 'n' must be between -9223372036854775808 and 9223372036854775807"]
    }


def test_text_that_no_spec_can_hold() -> None:
    problems = _refused(_schema({"a": {"type": "string"}}), {"a": "x\0y"})
    assert problems.by_field == {"a": ["input 'a' must not contain the NUL character"]}


def test_any_other_text_survives_the_round_trip_through_a_spec() -> None:
    schema = _schema({"a": {"type": "string"}})
    chooser = random.Random(5)
    alphabet = "ax :#'\"-\t\r\n\x01\x7f\x85\u00a0\u2028\u2029\ufeff\uffff😀{}[]&*!|>%@`"
    for _ in range(300):
        text = "".join(chooser.choice(alphabet) for _ in range(chooser.randint(1, 12)))
        inputs = inputs_from_form(schema, ENVIRONMENT_INPUT, {"a": text})
        assert parse_environment_spec(environment_spec(inputs)) == {"a": text}, repr(text)
        assert parse_instance_spec_from_service_spec(inputs_spec(inputs), "any") == {"a": text}, repr(text)
        for special in ("true", "null", "1", "0x1", "1e3", "~", "yes"):
            assert parse_environment_spec(environment_spec({"a": special})) == {"a": special}


def test_a_checkbox_accepts_only_true_or_false() -> None:
    problems = _refused(_schema({"b": {"type": "boolean"}}), {"b": "maybe"})
    assert problems.by_field == {"b": ["input 'b' must be of type boolean"]}


# --- spec text ----------------------------------------------------------------------------------------


def test_environment_spec_round_trip() -> None:
    inputs = {"vpc_cidr": "10.0.0.0/16", "az": 2, "nat": False, "tags": ["a"], "db": {"port": 5432}}
    assert parse_environment_spec(environment_spec(inputs)) == inputs
    assert parse_environment_spec(environment_spec({})) == {}
    assert environment_spec({}) == "proton: EnvironmentSpec\n"


def test_service_spec_round_trip() -> None:
    instances = [InstanceSpec("front", "dev", {"port": 8080}), InstanceSpec("back", "prod", {})]
    text = service_spec(instances, {"dockerfile": "Dockerfile"})
    parsed = parse_service_spec(text)
    assert parsed.pipeline == {"dockerfile": "Dockerfile"}
    assert [(i.name, i.environment, i.inputs) for i in parsed.instances] == [
        ("front", "dev", {"port": 8080}),
        ("back", "prod", {}),
    ]
    assert parse_service_spec(service_spec(instances)).pipeline is None


def test_service_spec_refuses_what_would_not_parse() -> None:
    with pytest.raises(ValidationException, match="at least one instance"):
        service_spec([])
    with pytest.raises(ValidationException, match="used more than once"):
        service_spec([InstanceSpec("a", "dev", {}), InstanceSpec("a", "dev", {})])
    with pytest.raises(ValidationException, match="must be 1 to 100 characters"):
        service_spec([InstanceSpec("bad name", "dev", {})])


def test_updated_instance_spec_changes_one_instance() -> None:
    text = service_spec(
        [InstanceSpec("front", "dev", {"port": 1}), InstanceSpec("back", "dev", {"port": 2})], {}
    )
    updated = updated_instance_spec(text, "back", {"port": 3, "image": "x:1"})
    assert parse_instance_spec_from_service_spec(updated, "back") == {"port": 3, "image": "x:1"}
    assert parse_instance_spec_from_service_spec(updated, "front") == {"port": 1}
    with pytest.raises(ValidationException, match="no instance named 'ghost'"):
        updated_instance_spec(text, "ghost", {})


def test_an_update_keeps_inputs_the_form_does_not_show() -> None:
    schema = _schema(
        {"port": {"type": "integer"}, "db": {"type": "object", "properties": {"host": {"type": "string"}}}}
    )
    current = {"legacy": "x", "port": 1, "db": {"host": "h", "extra": 2}}
    inputs = inputs_from_form(schema, ENVIRONMENT_INPUT, {"port": "2", "db.host": "k"})
    assert with_undefined(schema, ENVIRONMENT_INPUT, inputs, current) == {
        "port": 2,
        "db": {"host": "k", "extra": 2},
        "legacy": "x",
    }
    # a field emptied on the form stays empty
    assert with_undefined(schema, ENVIRONMENT_INPUT, {}, current) == {"legacy": "x"}


def test_inputs_spec_is_accepted_as_a_bare_mapping() -> None:
    inputs = {"port": 80, "name": "yes", "nothing": "null"}
    assert parse_instance_spec_from_service_spec(inputs_spec(inputs), "any") == inputs
    assert load_spec_yaml(inputs_spec({})) == {}


def test_form_to_spec_round_trip() -> None:
    schema = _schema(
        {
            "name": {"type": "string"},
            "port": {"type": "integer"},
            "on": {"type": "boolean"},
            "tags": {"type": "array"},
            "db": {"type": "object", "properties": {"host": {"type": "string"}}},
        }
    )
    form = {"name": "true", "port": "8080", "on": "on", "tags": "[1, 'x']", "db.host": "007"}
    inputs = inputs_from_form(schema, ENVIRONMENT_INPUT, form)
    assert (
        parse_environment_spec(environment_spec(inputs))
        == inputs
        == {
            "name": "true",
            "port": 8080,
            "on": True,
            "tags": [1, "x"],
            "db": {"host": "007"},
        }
    )
    # the update form shows the values back as they were typed
    shown = {f.name: f.value for f in fields(schema, ENVIRONMENT_INPUT, inputs)}
    assert shown == {"name": "true", "port": "8080", "on": "true", "tags": '[1, "x"]', "db.host": "007"}


# --- browser patterns ---------------------------------------------------------------------------------

PATTERNS = [
    r"([0-9]{1,3}\.){3}[0-9]{1,3}($|/(16|24))",
    r"^[a-z][a-z0-9-]*$",
    r"^[A-Za-z0-9_\-]+$",
    r"a.c",
    r"\d{2,}",
    r"^\w+@\w+\.com$",
    r"[.]",
    r"[^a-c-]x",
    r"a{,2}b",
    r"x{ 2}",
    r"(ab|cd)+?e",
    r"^(?!admin)\w+$",
    r"\bword\b",
    r"[\]\[]",
    r"[--z]",
    r"\x41\u00e9",
    r"[&&]",
    r"\$\d+\.\d\d",
    r"é+",
    r"^$",
    r"\s",
    r"(?i)abc",
    r"(?P<n>a)(?P=n)",
    r"a*+",
    r"(a)\1",
    r"[]a]",
    r"\Aab\Z",
]
_ALPHABET = "abcdexyzABC019_-./@$ &[]é\u2028\t😀"


def _strings() -> list[str]:
    chooser = random.Random(11)
    samples = [
        "",
        "a",
        "abc",
        "10.0.0.1",
        "10.0.0.1/16",
        "x@y.com",
        "admin",
        "ab",
        "x  2",
        "$12.34",
        "Aé",
        "word",
        "a\u2028c",
        "a😀c",
        "a.c",
    ]
    samples += ["".join(chooser.choice(_ALPHABET) for _ in range(chooser.randint(0, 8))) for _ in range(300)]
    return samples


def test_untranslatable_patterns_give_no_browser_check() -> None:
    for pattern in [r"\s", r"(?i)abc", r"(?P<n>a)(?P=n)", r"a*+", r"(a)\1", r"[]a]", r"\Aab\Z", "("]:
        assert browser_pattern(pattern) is None, pattern


_NODE = """
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.map(([attr, strings]) => {
  if (attr === null) return null;
  let re;
  try { re = new RegExp('^(?:' + attr + ')$', 'v'); } catch (e) { return 'not ECMAScript: ' + e.message; }
  return strings.map((s) => re.test(s));
});
process.stdout.write(JSON.stringify(out));
"""


def _browser_verdicts(cases: list[tuple[str | None, list[str]]]) -> list[Any]:
    """Per (attribute, strings): null for no attribute, else whether the browser accepts each string (the
    attribute compiled as the HTML standard does: ^(?:…)$ with the v flag), or why it does not compile."""
    payload = json.dumps(cases)
    result = subprocess.run(["node", "-e", _NODE], input=payload, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _check_against_server(patterns: list[str], strings: list[str]) -> int:
    """Assert, for every pattern and string, that the server accepts ⇒ the browser accepts, and that a
    translated pattern accepts exactly what the server does; return how many were translated."""
    import re

    attributes = [browser_pattern(pattern) for pattern in patterns]
    verdicts = _browser_verdicts([(attribute, strings) for attribute in attributes])
    translated = 0
    for pattern, attribute, browser in zip(patterns, attributes, verdicts, strict=True):
        if attribute is None:
            assert browser is None
            continue
        translated += 1
        assert isinstance(browser, list), (pattern, attribute, browser)
        server = re.compile(pattern, re.ASCII)
        for text, accepted in zip(strings, browser, strict=True):
            assert accepted == (server.search(text) is not None), (pattern, attribute, text)
    return translated


_needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run ECMAScript patterns")


@_needs_node
def test_browser_pattern_is_never_stricter_than_the_server() -> None:
    """The schema patterns of real templates and the corners of both syntaxes."""
    assert _check_against_server(PATTERNS, _strings()) >= 18


_TOKENS = [
    *"ab-.^$|*+?{}[]()&/:!#%~@=<>,;` é😀",
    *[r"\d", r"\w", r"\W", r"\D", r"\b", r"\.", r"\-", r"\n", r"\x41", r"\u00e9", "\\"],
    *["[^", "(?:", "(?=", "(?!", "*?", "{2}", "{1,}", "{,2}", "&&", "[a-c]", "[-a]", "[a-]"],
]


@_needs_node
def test_random_patterns_mean_the_same_in_the_browser() -> None:
    """Random patterns Python compiles, from the pieces where the two syntaxes differ most: each one
    translated compiles as ECMAScript and accepts exactly the strings the server accepts."""
    import re
    import warnings

    chooser = random.Random(2026)
    patterns: set[str] = set()
    while len(patterns) < 600:
        pattern = "".join(chooser.choice(_TOKENS) for _ in range(chooser.randint(1, 6)))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                re.compile(pattern, re.ASCII)
        except (re.error, OverflowError):
            continue
        patterns.add(pattern)
    alphabet = "ab-.1_é😀 &:/\u2028x["
    strings = [""]
    strings += ["".join(chooser.choice(alphabet) for _ in range(chooser.randint(1, 6))) for _ in range(120)]
    assert _check_against_server(sorted(patterns), strings) > 550
