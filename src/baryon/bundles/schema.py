"""Checking ``schema/schema.yaml``, the input schema of a template version.

The schema is an OpenAPI 3.0.0 document fragment: ``schema.format.openapi: "3.0.0"``, one key per
input type the template has (``environment_input_type``; or ``service_input_type`` plus
``pipeline_input_type`` when the service template has a pipeline) naming an entry of
``schema.types``.

Invariants once `validate_schema` returns:
- exactly the input-type keys the template's kind and pipeline setting call for are present, and
  each names a type under ``schema.types``;
- each named input type is ``type: object`` with a ``properties`` mapping (possibly empty) whose
  values are mappings (the YAML loader guarantees string keys); a property's ``type``, when
  given, is one of `PROPERTY_TYPES`; ``required``, when given, lists names of existing
  properties;
- in a customer-managed environment schema every property is ``type: string``.
Other types under ``schema.types`` and other keywords are not checked.
"""

from __future__ import annotations

from typing import Any

from baryon.bundles.errors import BundleError
from baryon.bundles.layout import SCHEMA_PATH
from baryon.bundles.yamldoc import describe_value

PROPERTY_TYPES = ("string", "number", "integer", "boolean", "array", "object")
ENVIRONMENT_INPUT = "environment_input_type"
SERVICE_INPUT = "service_input_type"
PIPELINE_INPUT = "pipeline_input_type"


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else describe_value(value)


def input_type_keys(kind: str, *, has_pipeline: bool) -> tuple[str, ...]:
    """The ``schema.<key>`` entries a schema of this kind must declare."""
    if kind == "ENVIRONMENT":
        return (ENVIRONMENT_INPUT,)
    return (SERVICE_INPUT, PIPELINE_INPUT) if has_pipeline else (SERVICE_INPUT,)


def _forbidden(key: str, kind: str, customer_managed: bool) -> BundleError:
    if kind == "ENVIRONMENT":
        message = f"{SCHEMA_PATH}: schema.{key} is not allowed in an environment template schema"
        if customer_managed:
            message += "; a customer-managed environment template declares only environment_input_type"
        else:
            message += f"; it declares only {ENVIRONMENT_INPUT}"
        return BundleError(message)
    if key == PIPELINE_INPUT:
        return BundleError(
            f"{SCHEMA_PATH}: schema.{PIPELINE_INPUT} is not allowed: this service template has no pipeline "
            "(pipelineProvisioning is CUSTOMER_MANAGED)"
        )
    return BundleError(
        f"{SCHEMA_PATH}: schema.{key} is not allowed in a service template schema; "
        f"use {SERVICE_INPUT} for service instance inputs"
    )


def _missing(key: str, customer_managed: bool) -> BundleError:
    if key == ENVIRONMENT_INPUT:
        holds = "the environment's outputs" if customer_managed else "the environment's inputs"
        where = "an environment template schema"
    elif key == SERVICE_INPUT:
        holds, where = "each service instance's inputs", "a service template schema"
    else:
        return BundleError(
            f"{SCHEMA_PATH}: schema.{PIPELINE_INPUT} is required because this service template has a "
            "pipeline; it names the type under schema.types that holds the pipeline's inputs"
        )
    return BundleError(
        f"{SCHEMA_PATH}: schema.{key} is required in {where}; it names the type under schema.types "
        f"that holds {holds}"
    )


def _require_mapping(where: str, definition: Any, holding: str) -> None:
    if not isinstance(definition, dict):
        raise BundleError(f"{where} must be a mapping {holding}, not {describe_value(definition)}")


def _found_type(definition: dict[str, Any], missing: str) -> str:
    """What a definition's `type` is, for a message: `found <type>`, or `missing` when it has none."""
    return f"found {_show(definition['type'])}" if "type" in definition else missing


def _check_property(type_name: str, name: str, definition: Any, customer_managed: bool) -> None:
    where = f"{SCHEMA_PATH}: property '{name}' of type '{type_name}'"
    _require_mapping(where, definition, "(type, description, default, ...)")
    if "type" in definition and definition["type"] not in PROPERTY_TYPES:
        raise BundleError(
            f"{where} has type {_show(definition['type'])}; valid types: {', '.join(PROPERTY_TYPES)}"
        )
    if customer_managed and definition.get("type") != "string":
        found = _found_type(definition, "its type is missing")
        raise BundleError(
            f"{where} must be type: string in a customer-managed environment template, because its "
            f"values are the environment's outputs, which are strings ({found})"
        )


def _check_input_type(key: str, name: str, definition: Any, customer_managed: bool) -> None:
    where = f"{SCHEMA_PATH}: type '{name}' (schema.{key})"
    _require_mapping(where, definition, "with type: object and properties")
    if definition.get("type") != "object":
        found = _found_type(definition, "it is missing")
        raise BundleError(f"{where} must have type: object ({found})")
    properties = definition.get("properties")
    if not isinstance(properties, dict):
        found = "it is missing" if "properties" not in definition else f"not {describe_value(properties)}"
        raise BundleError(
            f"{where} needs a 'properties' mapping ({found}); "
            "write properties: {} for a type without inputs"
        )
    for property_name, property_definition in properties.items():
        _check_property(name, property_name, property_definition, customer_managed)
    if "required" in definition:
        required = definition["required"]
        if not isinstance(required, list) or not all(isinstance(item, str) for item in required):
            raise BundleError(
                f"{where}: 'required' must be a list of property names, not {describe_value(required)}"
            )
        for item in required:
            if item not in properties:
                raise BundleError(f"{where} lists '{item}' under required, but has no property '{item}'")


def validate_schema(
    document: dict[Any, Any], *, kind: str, customer_managed: bool, has_pipeline: bool
) -> None:
    """Raise BundleError unless the parsed schema.yaml fits the template's kind."""
    customer_managed = customer_managed and kind == "ENVIRONMENT"
    if "schema" not in document:
        raise BundleError(f"{SCHEMA_PATH}: missing the top-level 'schema' key")
    schema = document["schema"]
    if not isinstance(schema, dict):
        raise BundleError(f"{SCHEMA_PATH}: 'schema' must be a mapping, not {describe_value(schema)}")
    form = schema.get("format")
    openapi = form.get("openapi") if isinstance(form, dict) else None
    if openapi != "3.0.0":
        found = "it is missing" if openapi is None else f"found {_show(openapi)}"
        raise BundleError(f'{SCHEMA_PATH}: schema.format.openapi must be "3.0.0" ({found})')
    wanted = input_type_keys(kind, has_pipeline=has_pipeline)
    for key in (ENVIRONMENT_INPUT, SERVICE_INPUT, PIPELINE_INPUT):
        if key in schema and key not in wanted:
            raise _forbidden(key, kind, customer_managed)
    for key in wanted:
        if key not in schema:
            raise _missing(key, customer_managed)
        if not isinstance(schema[key], str) or not schema[key]:
            raise BundleError(
                f"{SCHEMA_PATH}: schema.{key} must be the name of a type under schema.types, "
                f"not {describe_value(schema[key])}"
            )
    types = schema.get("types")
    if not isinstance(types, dict):
        found = "it is missing" if "types" not in schema else f"not {describe_value(types)}"
        raise BundleError(
            f"{SCHEMA_PATH}: schema.types must be a mapping of type names to type definitions ({found})"
        )
    for key in wanted:
        name = schema[key]
        if name not in types:
            defined = ", ".join(str(type_name) for type_name in types) or "none"
            raise BundleError(
                f"{SCHEMA_PATH}: schema.{key} names '{name}', but schema.types has no type '{name}' "
                f"(types defined: {defined})"
            )
        _check_input_type(key, name, types[name], customer_managed)
