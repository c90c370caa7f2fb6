"""Validating spec inputs against a template version's schema.yaml."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from baryon.domain.spec_schema import Problem, checked_inputs, input_problems, undefined_warning
from baryon.domain.specs import (
    ENVIRONMENT_INPUT,
    PIPELINE_INPUT,
    SERVICE_INPUT,
    load_spec_yaml,
    parse_service_spec,
    validate_inputs,
)
from baryon.protocol.errors import ValidationException

WHERE = "service instance front"


def _schema(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    return {
        "schema": {
            "format": {"openapi": "3.0.0"},
            "service_input_type": "SvcIn",
            "types": {"SvcIn": definition},
        }
    }


def _ok(properties: dict[str, Any], values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return validate_inputs(_schema(properties, **extra), SERVICE_INPUT, values, where=WHERE)


def _problems(properties: dict[str, Any], values: dict[str, Any], **extra: Any) -> str:
    with pytest.raises(ValidationException) as caught:
        validate_inputs(_schema(properties, **extra), SERVICE_INPUT, values, where=WHERE)
    message = caught.value.message
    prefix = f"Invalid spec for {WHERE}: "
    assert message.startswith(prefix)
    return message[len(prefix) :]


# --- the documented messages -----------------------------------------------------------------------


def test_message_formats() -> None:
    properties = {
        "port": {"type": "number"},
        "image": {"type": "string"},
        "size": {"type": "string", "enum": ["small", "medium"]},
        "name": {"type": "string", "pattern": "^[a-z]+$"},
    }
    assert _problems(properties, {"image": "x", "port": "80"}) == "input 'port' must be of type number"
    assert _problems(properties, {}, required=["image"]) == "required input 'image' is missing"
    assert _problems(properties, {"size": "large"}) == "input 'size' must be one of [small, medium]"
    assert _problems(properties, {"name": "Bob"}) == "input 'name' does not match pattern ^[a-z]+$"
    assert (
        _problems(properties, {"unknown": 1}, additionalProperties=False)
        == "input 'unknown' is not defined in the schema"
    )


def test_full_message_names_the_resource() -> None:
    schema = _schema({"port": {"type": "number"}})
    with pytest.raises(ValidationException) as caught:
        validate_inputs(schema, SERVICE_INPUT, {"port": "80"}, where="service instance front of service api")
    assert caught.value.message == (
        "Invalid spec for service instance front of service api: input 'port' must be of type number"
    )
    assert caught.value.code == "ValidationException"


def test_all_problems_together_in_schema_order_then_unknown_in_given_order() -> None:
    properties = {
        "port": {"type": "number"},
        "image": {"type": "string"},
        "size": {"type": "string", "enum": ["small", "medium"]},
    }
    values = {"zeta": 1, "size": "huge", "alpha": 2, "port": True}
    assert _problems(properties, values, required=["image"], additionalProperties=False) == (
        "input 'port' must be of type number; required input 'image' is missing; "
        "input 'size' must be one of [small, medium]; "
        "input 'zeta' is not defined in the schema; input 'alpha' is not defined in the schema"
    )


# --- defaults, null and required -------------------------------------------------------------------


def test_defaults_fill_absent_and_null_inputs_only() -> None:
    properties = {
        "a": {"type": "string", "default": "A"},
        "b": {"type": "number", "default": 2},
        "c": {"type": "string", "default": "C"},
        "d": {"type": "string"},
    }
    result = _ok(properties, {"c": "given", "a": None})
    assert result == {"c": "given", "a": "A", "b": 2}
    assert list(result) == ["c", "a", "b"]


def test_null_means_absent() -> None:
    assert _ok({"d": {"type": "string"}}, {"d": None}) == {}
    assert (
        _problems({"d": {"type": "string"}}, {"d": None}, required=["d"]) == "required input 'd' is missing"
    )


def test_required_input_with_a_default_is_satisfied() -> None:
    assert _ok({"d": {"type": "integer", "default": 3}}, {}, required=["d"]) == {"d": 3}


def test_null_default_is_no_default() -> None:
    properties = {"d": {"type": "string", "default": None}}
    assert _ok(properties, {}) == {}
    assert _problems(properties, {}, required=["d"]) == "required input 'd' is missing"


def test_defaults_are_taken_verbatim_and_copied() -> None:
    default = {"k": [1, 2]}
    schema = _schema(
        {"wrong": {"type": "string", "default": 8080}, "obj": {"type": "object", "default": default}}
    )
    first = validate_inputs(schema, SERVICE_INPUT, {}, where=WHERE)
    assert first == {"wrong": 8080, "obj": {"k": [1, 2]}}
    first["obj"]["k"].append(3)
    assert default == {"k": [1, 2]}
    assert validate_inputs(schema, SERVICE_INPUT, {}, where=WHERE)["obj"] == {"k": [1, 2]}


def test_required_name_without_property_is_required_and_accepted() -> None:
    assert _problems({}, {}, required=["token"]) == "required input 'token' is missing"
    assert _ok({}, {"token": "t"}, required=["token"]) == {"token": "t"}


def test_arguments_are_not_mutated_and_results_are_copies() -> None:
    schema = _schema({"tags": {"type": "array", "items": {"type": "string"}}, "x": {"default": 1}})
    before = copy.deepcopy(schema)
    values = {"tags": ["a"]}
    result = validate_inputs(schema, SERVICE_INPUT, values, where=WHERE)
    result["tags"].append("b")
    assert values == {"tags": ["a"]}
    assert schema == before


def test_empty_input_type() -> None:
    assert _ok({}, {}) == {}
    assert _problems({}, {"a": 1}, additionalProperties=False) == "input 'a' is not defined in the schema"


# --- types -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "good", "bad"),
    [
        ("string", ["", "x", "80"], [80, 1.5, True, [], {}]),
        ("number", [0, -3, 1.5, 2**62, 3.0], ["80", "1.5", True, False, [], {}, float("nan"), float("inf")]),
        ("integer", [0, -3, 2**62, 3.0], [1.5, "3", True, [], float("inf")]),
        ("boolean", [True, False], ["true", 1, 0, "yes", []]),
        ("array", [[], [1, "a"]], ["a", {}, 1]),
        ("object", [{}, {"k": 1}], [[], "a", 1]),
    ],
)
def test_types(type_name: str, good: list[Any], bad: list[Any]) -> None:
    properties = {"v": {"type": type_name}}
    for value in good:
        assert _ok(properties, {"v": value}) == {"v": value}
    for value in bad:
        assert _problems(properties, {"v": value}) == f"input 'v' must be of type {type_name}"


def test_integer_keeps_the_given_json_type() -> None:
    result = _ok({"v": {"type": "integer"}}, {"v": 3.0})
    assert result == {"v": 3.0}
    assert isinstance(result["v"], float)


def test_numbers_given_as_strings_in_yaml_are_rejected() -> None:
    spec = parse_service_spec(
        "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: dev\n"
        "    spec:\n      port: '8080'\n      enabled: 'true'\n"
    )
    properties = {"port": {"type": "number"}, "enabled": {"type": "boolean"}}
    assert _problems(properties, spec.instances[0].inputs) == (
        "input 'port' must be of type number; input 'enabled' must be of type boolean"
    )


def test_property_without_type_accepts_any_value() -> None:
    assert _ok({"v": {"description": "anything"}}, {"v": [1, {"a": None}]}) == {"v": [1, {"a": None}]}


def test_type_mismatch_skips_the_other_checks() -> None:
    properties = {"v": {"type": "string", "minLength": 3, "pattern": "^a", "enum": ["abc"]}}
    assert _problems(properties, {"v": 1}) == "input 'v' must be of type string"


# --- enum ------------------------------------------------------------------------------------------


def test_enum_compares_json_values() -> None:
    properties = {"n": {"type": "number", "enum": [1, 2.5]}, "b": {"enum": [True, None, "x"]}}
    assert _ok(properties, {"n": 1.0, "b": True}) == {"n": 1.0, "b": True}
    assert _problems(properties, {"n": 3, "b": 1}) == (
        "input 'n' must be one of [1, 2.5]; input 'b' must be one of [true, null, x]"
    )


def test_enum_of_lists_and_objects() -> None:
    properties = {"v": {"enum": [[1, 2], {"a": 1}]}}
    assert _ok(properties, {"v": {"a": 1.0}}) == {"v": {"a": 1.0}}
    assert _problems(properties, {"v": [2, 1]}) == "input 'v' must be one of [[1, 2], {\"a\": 1}]"


# --- strings ---------------------------------------------------------------------------------------


def test_pattern_is_searched_not_anchored() -> None:
    properties = {"v": {"type": "string", "pattern": "[0-9]+"}}
    assert _ok(properties, {"v": "abc123def"}) == {"v": "abc123def"}
    assert _problems(properties, {"v": "abc"}) == "input 'v' does not match pattern [0-9]+"


def test_pattern_character_classes_are_ascii() -> None:
    properties = {"v": {"type": "string", "pattern": "^\\d+$"}}
    assert _ok(properties, {"v": "123"}) == {"v": "123"}
    assert _problems(properties, {"v": "١٢٣"}) == "input 'v' does not match pattern ^\\d+$"


def test_reference_cidr_pattern() -> None:
    properties = {"vpc_cidr": {"type": "string", "pattern": "([0-9]{1,3}\\.){3}[0-9]{1,3}($|/(16|24))"}}
    assert _ok(properties, {"vpc_cidr": "10.0.0.0/16"}) == {"vpc_cidr": "10.0.0.0/16"}
    assert _problems(properties, {"vpc_cidr": "ten"}).startswith("input 'vpc_cidr' does not match pattern")


def test_lengths_count_code_points() -> None:
    properties = {"v": {"type": "string", "minLength": 2, "maxLength": 3}}
    assert _ok(properties, {"v": "éé"}) == {"v": "éé"}
    assert _problems(properties, {"v": "a"}) == "input 'v' must be at least 2 characters long"
    assert _problems(properties, {"v": "abcd"}) == "input 'v' must be at most 3 characters long"
    one = {"v": {"type": "string", "minLength": 1, "maxLength": 1}}
    assert _problems(one, {"v": ""}) == "input 'v' must be at least 1 character long"
    assert _problems(one, {"v": "ab"}) == "input 'v' must be at most 1 character long"


def test_every_failing_string_keyword_is_reported() -> None:
    properties = {"v": {"type": "string", "enum": ["abc"], "pattern": "^a", "minLength": 3}}
    assert _problems(properties, {"v": "b"}) == (
        "input 'v' must be one of [abc]; input 'v' does not match pattern ^a; "
        "input 'v' must be at least 3 characters long"
    )


# --- numbers ---------------------------------------------------------------------------------------


def test_ranges() -> None:
    properties = {"v": {"type": "number", "minimum": 1, "maximum": 65535}}
    assert _ok(properties, {"v": 1}) == {"v": 1}
    assert _ok(properties, {"v": 65535.0}) == {"v": 65535.0}
    assert _problems(properties, {"v": 0}) == "input 'v' must be at least 1"
    assert _problems(properties, {"v": 65535.5}) == "input 'v' must be at most 65535"


def test_exclusive_ranges() -> None:
    properties = {
        "v": {
            "type": "number",
            "minimum": 0,
            "exclusiveMinimum": True,
            "maximum": 1.5,
            "exclusiveMaximum": True,
        }
    }
    assert _ok(properties, {"v": 0.5}) == {"v": 0.5}
    assert _problems(properties, {"v": 0}) == "input 'v' must be greater than 0"
    assert _problems(properties, {"v": 1.5}) == "input 'v' must be less than 1.5"


def test_ranges_apply_to_untyped_numbers_only() -> None:
    properties = {"v": {"minimum": 10}}
    assert _ok(properties, {"v": "5"}) == {"v": "5"}
    assert _problems(properties, {"v": 5}) == "input 'v' must be at least 10"


# --- arrays ----------------------------------------------------------------------------------------


def test_array_items_are_typed() -> None:
    properties = {"subnets": {"type": "array", "items": {"type": "string", "pattern": "^subnet-"}}}
    assert _ok(properties, {"subnets": ["subnet-1", "subnet-2"]}) == {"subnets": ["subnet-1", "subnet-2"]}
    assert _problems(properties, {"subnets": ["subnet-1", 2, "x", None]}) == (
        "input 'subnets[1]' must be of type string; input 'subnets[2]' does not match pattern ^subnet-; "
        "input 'subnets[3]' must be of type string"
    )


def test_nullable_items() -> None:
    properties = {"v": {"type": "array", "items": {"type": "string", "nullable": True}}}
    assert _ok(properties, {"v": ["a", None]}) == {"v": ["a", None]}


def test_array_sizes_and_uniqueness() -> None:
    properties = {"v": {"type": "array", "minItems": 1, "maxItems": 2, "uniqueItems": True}}
    assert _ok(properties, {"v": [1, True]}) == {"v": [1, True]}
    assert _problems(properties, {"v": []}) == "input 'v' must have at least 1 item"
    assert _problems(properties, {"v": [1, 2, 3]}) == "input 'v' must have at most 2 items"
    assert _problems(properties, {"v": [1, 1.0]}) == "input 'v' must not contain duplicate items"
    assert (
        _problems(properties, {"v": [{"a": [1]}, {"a": [1]}]}) == "input 'v' must not contain duplicate items"
    )


def test_array_of_objects() -> None:
    properties = {
        "env_vars": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"key": {"type": "string"}, "value": {"type": "string", "default": ""}},
                "required": ["key"],
                "additionalProperties": False,
            },
        }
    }
    assert _ok(properties, {"env_vars": [{"key": "A", "value": "1"}, {"key": "B"}]}) == {
        "env_vars": [{"key": "A", "value": "1"}, {"key": "B", "value": ""}]
    }
    assert _problems(properties, {"env_vars": [{"value": 1}, {"key": "B", "other": 2}]}) == (
        "required input 'env_vars[0].key' is missing; input 'env_vars[0].value' must be of type string; "
        "input 'env_vars[1].other' is not defined in the schema"
    )


# --- objects ---------------------------------------------------------------------------------------


def test_nested_objects() -> None:
    properties = {
        "db": {
            "type": "object",
            "properties": {
                "host": {"type": "string"},
                "port": {"type": "integer", "default": 5432},
                "tls": {"type": "object", "properties": {"mode": {"type": "string", "enum": ["on", "off"]}}},
            },
            "required": ["host"],
            "additionalProperties": False,
        }
    }
    assert _ok(properties, {"db": {"host": "h", "tls": {"mode": "on"}}}) == {
        "db": {"host": "h", "tls": {"mode": "on"}, "port": 5432}
    }
    assert _ok(properties, {"db": {"host": "h", "port": None}}) == {"db": {"host": "h", "port": 5432}}
    assert _problems(properties, {"db": {"port": "x", "tls": {"mode": "maybe"}, "user": "u"}}) == (
        "required input 'db.host' is missing; input 'db.port' must be of type integer; "
        "input 'db.tls.mode' must be one of [on, off]; input 'db.user' is not defined in the schema"
    )


def test_free_form_object_accepts_any_mapping() -> None:
    assert _ok({"labels": {"type": "object"}}, {"labels": {"a": "1", "b": [2], "c": None}}) == {
        "labels": {"a": "1", "b": [2]}
    }


def test_additional_properties() -> None:
    assert _ok({"a": {"type": "string"}}, {"a": "x", "b": [1]}, additionalProperties=True) == {
        "a": "x",
        "b": [1],
    }
    assert _ok({}, {"b": "x"}, additionalProperties={"type": "string"}) == {"b": "x"}
    assert (
        _problems({}, {"b": 1}, additionalProperties={"type": "string"}) == "input 'b' must be of type string"
    )
    assert _problems({}, {"b": 1}, additionalProperties=False) == "input 'b' is not defined in the schema"
    nested = {"tags": {"type": "object", "additionalProperties": {"type": "string"}}}
    assert _ok(nested, {"tags": {"team": "x"}}) == {"tags": {"team": "x"}}
    assert _problems(nested, {"tags": {"team": 1}}) == "input 'tags.team' must be of type string"


# --- roles and schema documents --------------------------------------------------------------------


def test_roles_pick_their_input_type() -> None:
    schema = {
        "schema": {
            "format": {"openapi": "3.0.0"},
            "service_input_type": "SvcIn",
            "pipeline_input_type": "PipeIn",
            "types": {
                "SvcIn": {"type": "object", "properties": {"port": {"type": "number", "default": 80}}},
                "PipeIn": {
                    "type": "object",
                    "properties": {"dockerfile": {"type": "string", "default": "D"}},
                },
            },
        }
    }
    assert validate_inputs(schema, SERVICE_INPUT, {}, where=WHERE) == {"port": 80}
    assert validate_inputs(schema, PIPELINE_INPUT, {}, where="pipeline of service api") == {"dockerfile": "D"}
    with pytest.raises(ValidationException) as caught:
        validate_inputs(schema, ENVIRONMENT_INPUT, {}, where="environment dev")
    assert caught.value.message == (
        "Invalid spec for environment dev: the template version's schema defines no environment_input_type"
    )


def test_unknown_role_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown input type role"):
        validate_inputs(_schema({}), "component_input_type", {}, where=WHERE)


def test_parsed_schema_yaml_from_the_reference() -> None:
    schema = load_spec_yaml(
        """\
schema:
  format:
    openapi: "3.0.0"
  environment_input_type: "EnvIn"
  types:
    EnvIn:
      type: object
      description: "Input properties for my environment"
      properties:
        vpc_cidr:
          type: string
          title: "VPC CIDR"
          description: "The CIDR range for the VPC"
          default: 10.0.0.0/16
          pattern: ([0-9]{1,3}\\.){3}[0-9]{1,3}($|/(16|24))
          example: 10.0.0.0/16
        az_count:
          type: integer
          minimum: 1
          maximum: 3
      required: [az_count]
"""
    )
    assert validate_inputs(schema, ENVIRONMENT_INPUT, {"az_count": 2}, where="environment dev") == {
        "az_count": 2,
        "vpc_cidr": "10.0.0.0/16",
    }
    with pytest.raises(ValidationException) as caught:
        validate_inputs(schema, ENVIRONMENT_INPUT, {"vpc_cidr": "x", "az_count": 4}, where="environment dev")
    assert caught.value.message == (
        "Invalid spec for environment dev: input 'vpc_cidr' does not match pattern "
        "([0-9]{1,3}\\.){3}[0-9]{1,3}($|/(16|24)); input 'az_count' must be at most 3"
    )


def test_customer_managed_outputs_are_strings() -> None:
    schema = {
        "schema": {
            "format": {"openapi": "3.0.0"},
            "environment_input_type": "Outputs",
            "types": {
                "Outputs": {
                    "type": "object",
                    "properties": {"VpcId": {"type": "string"}},
                    "required": ["VpcId"],
                }
            },
        }
    }
    assert validate_inputs(schema, ENVIRONMENT_INPUT, {"VpcId": "vpc-1"}, where="environment imported") == {
        "VpcId": "vpc-1"
    }
    with pytest.raises(ValidationException) as caught:
        validate_inputs(schema, ENVIRONMENT_INPUT, {"VpcId": 12}, where="environment imported")
    assert (
        caught.value.message == "Invalid spec for environment imported: input 'VpcId' must be of type string"
    )


@pytest.mark.parametrize(
    ("properties", "values", "expected"),
    [
        (
            {"v": {"type": "str"}},
            {"v": "x"},
            "the template schema's 'type' for input 'v' "
            "must be one of string, number, integer, boolean, array, object",
        ),
        (
            {"v": {"type": "string", "pattern": "(unclosed"}},
            {"v": "x"},
            "the template schema's 'pattern' for input 'v' must be a valid regular expression",
        ),
        (
            {"v": {"type": "string", "minLength": -1}},
            {"v": "x"},
            "the template schema's 'minLength' for input 'v' must be a non-negative integer",
        ),
        (
            {"v": {"type": "number", "maximum": "10"}},
            {"v": 1},
            "the template schema's 'maximum' for input 'v' must be a number",
        ),
        (
            {"v": {"enum": "a"}},
            {"v": "a"},
            "the template schema's 'enum' for input 'v' must be a non-empty list",
        ),
        (
            {"v": {"type": "array", "items": "string"}},
            {"v": ["a"]},
            "the template schema's 'items' for input 'v' must be a mapping",
        ),
        (
            {"v": {"type": "array", "uniqueItems": "yes"}},
            {"v": ["a"]},
            "the template schema's 'uniqueItems' for input 'v' must be true or false",
        ),
        (
            {"v": {"type": "object", "properties": {"w": "string"}}},
            {"v": {"w": "x"}},
            "the template schema's definition of input 'v.w' must be a mapping",
        ),
    ],
)
def test_unusable_schema_keywords_are_reported(
    properties: dict[str, Any], values: dict[str, Any], expected: str
) -> None:
    assert _problems(properties, values) == expected


def test_unusable_object_keywords_are_reported() -> None:
    assert _problems({}, {}, required="a") == (
        "the template schema's 'required' for the input type must be a list of property names"
    )
    assert _problems({}, {}, additionalProperties="no") == (
        "the template schema's 'additionalProperties' for the input type must be true, false or a mapping"
    )


def test_undefined_inputs_are_kept_and_named_unless_the_schema_forbids_them() -> None:
    properties = {
        "packaging_command": {"type": "string"},
        "db": {"type": "object", "properties": {"host": {"type": "string"}}},
    }
    values = {"packaging_commands": "zip", "db": {"host": "h", "user": "u"}, "port": 1}
    inputs, undefined = checked_inputs(_schema(properties), SERVICE_INPUT, values, where=WHERE)
    assert inputs == values
    assert undefined == ["db.user", "packaging_commands", "port"], "nested in schema order, then given order"
    assert undefined_warning(WHERE, undefined) == (
        "Warning: inputs 'db.user', 'packaging_commands', 'port' of service instance front are not defined "
        "in the schema; kept as given."
    )
    assert undefined_warning(WHERE, ["port"]) == (
        "Warning: input 'port' of service instance front is not defined in the schema; kept as given."
    )
    assert undefined_warning(WHERE, []) is None
    assert checked_inputs(
        _schema(properties, additionalProperties=True), SERVICE_INPUT, {"x": 1}, where=WHERE
    ) == (
        {"x": 1},
        [],
    )
    assert (
        _problems(properties, {"packaging_commands": "zip"}, additionalProperties=False)
        == "input 'packaging_commands' is not defined in the schema"
    )


# --- problems with their paths ----------------------------------------------------------------------


def test_input_problems_name_the_path_of_each_problem() -> None:
    properties = {
        "port": {"type": "integer", "maximum": 9},
        "tags": {"type": "array", "items": {"type": "string"}},
        "db": {"type": "object", "properties": {"host": {"type": "string"}}, "required": ["host"]},
        "bad": {"type": "string", "minLength": -1},
    }
    values = {"port": 10, "tags": ["a", 1], "db": {}, "bad": "x", "extra": 1}
    result, problems = input_problems(_schema(properties, additionalProperties=False), SERVICE_INPUT, values)
    assert problems == [
        Problem("port", "input 'port' must be at most 9"),
        Problem("tags[1]", "input 'tags[1]' must be of type string"),
        Problem("db.host", "required input 'db.host' is missing"),
        Problem(None, "the template schema's 'minLength' for input 'bad' must be a non-negative integer"),
        Problem("extra", "input 'extra' is not defined in the schema"),
    ]
    # the same problems, in the same words and order, as validate_inputs raises
    assert _problems(properties, values, additionalProperties=False) == "; ".join(p.message for p in problems)
    assert result["port"] == 10


def test_input_problems_without_the_input_type() -> None:
    assert input_problems(_schema({}), PIPELINE_INPUT, {}) == (
        {},
        [Problem(None, "the template version's schema defines no pipeline_input_type")],
    )
    assert input_problems(_schema({"a": {"type": "string", "default": "d"}}), SERVICE_INPUT, {}) == (
        {"a": "d"},
        [],
    )
