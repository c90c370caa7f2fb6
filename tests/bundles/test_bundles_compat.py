"""check_minor_compatible: what a new minor version may and may not change in its input types."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from baryon.bundles import BundleError, check_minor_compatible, load_bundle
from baryon.bundles.load import check_minor_compatible as from_load
from tests.bundles.bundlekit import ENV_SCHEMA, SERVICE_SCHEMA, bundle, service


def parsed(text: str) -> dict[str, Any]:
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return document


def service_type(document: dict[str, Any], name: str = "ServiceInput") -> dict[str, Any]:
    result = document["schema"]["types"][name]
    assert isinstance(result, dict)
    return result


def incompatible(previous: dict[str, Any], new: dict[str, Any], **options: Any) -> str:
    options.setdefault("kind", "SERVICE")
    with pytest.raises(BundleError) as caught:
        check_minor_compatible(previous, new, **options)
    return str(caught.value)


def test_exported_from_load_module_too() -> None:
    assert from_load is check_minor_compatible


def test_identical_schema_is_compatible() -> None:
    check_minor_compatible(parsed(SERVICE_SCHEMA), parsed(SERVICE_SCHEMA), kind="SERVICE")
    check_minor_compatible(parsed(ENV_SCHEMA), parsed(ENV_SCHEMA), kind="ENVIRONMENT")


def test_schemas_from_loaded_bundles_can_be_compared() -> None:
    old = load_bundle(bundle(service()), kind="SERVICE", has_pipeline=True)
    new = load_bundle(bundle(service()), kind="SERVICE", has_pipeline=True)
    check_minor_compatible(old.schema, new.schema, kind="SERVICE", previous_version="1.0")


def test_allowed_changes() -> None:
    previous = parsed(SERVICE_SCHEMA)
    new = copy.deepcopy(previous)
    inputs = service_type(new)
    inputs["properties"]["replicas"] = {"type": "integer"}  # new optional property
    inputs["properties"]["region"] = {"type": "string", "default": "eu-west-1"}  # new required, defaulted
    inputs["required"] = ["image", "region"]
    inputs["properties"]["port"]["default"] = 8080  # defaults of optional properties may change
    inputs["properties"]["image"]["description"] = "container image"
    inputs["properties"]["image"]["pattern"] = "^[a-z]"  # constraints are not compared
    service_type(new, "PipelineInput")["properties"]["branch"] = {"type": "string"}
    check_minor_compatible(previous, new, kind="SERVICE", previous_version="1.3")


def test_required_property_that_was_already_required_without_default_stays_allowed() -> None:
    previous = parsed(SERVICE_SCHEMA)
    check_minor_compatible(previous, copy.deepcopy(previous), kind="SERVICE")


def test_property_made_optional_is_allowed() -> None:
    previous = parsed(SERVICE_SCHEMA)
    new = copy.deepcopy(previous)
    del service_type(new)["required"]
    check_minor_compatible(previous, new, kind="SERVICE")


def test_renaming_the_input_type_is_allowed() -> None:
    previous = parsed(SERVICE_SCHEMA)
    new = copy.deepcopy(previous)
    new["schema"]["service_input_type"] = "InstanceInputs"
    new["schema"]["types"]["InstanceInputs"] = new["schema"]["types"].pop("ServiceInput")
    check_minor_compatible(previous, new, kind="SERVICE")


def test_removed_property() -> None:
    previous = parsed(SERVICE_SCHEMA)
    new = copy.deepcopy(previous)
    del service_type(new)["properties"]["port"]
    assert incompatible(previous, new, previous_version="1.2") == (
        "Schema is not backward compatible with version 1.2: property 'port' of type 'ServiceInput' "
        "was removed; a change like this needs a new major version"
    )


def test_changed_type() -> None:
    previous = parsed(SERVICE_SCHEMA)
    new = copy.deepcopy(previous)
    service_type(new)["properties"]["port"]["type"] = "string"
    assert incompatible(previous, new, previous_version="2.0") == (
        "Schema is not backward compatible with version 2.0: property 'port' of type 'ServiceInput' "
        "changed type from 'number' to 'string'; a change like this needs a new major version"
    )


def test_type_added_to_an_untyped_property_is_a_change() -> None:
    previous = parsed(SERVICE_SCHEMA)
    del service_type(previous)["properties"]["image"]["type"]
    new = parsed(SERVICE_SCHEMA)
    assert "property 'image' of type 'ServiceInput' changed type from unspecified to 'string'" in (
        incompatible(previous, new)
    )


def test_new_required_property_without_default() -> None:
    previous = parsed(ENV_SCHEMA)
    new = copy.deepcopy(previous)
    env_type = new["schema"]["types"]["EnvironmentInput"]
    env_type["properties"]["domain"] = {"type": "string"}
    env_type["required"].append("domain")
    assert incompatible(previous, new, kind="ENVIRONMENT", previous_version="1.0") == (
        "Schema is not backward compatible with version 1.0: new property 'domain' of type "
        "'EnvironmentInput' is required and has no default; a change like this needs a new major version"
    )


def test_optional_property_made_required_without_default() -> None:
    previous = parsed(SERVICE_SCHEMA)
    del service_type(previous)["properties"]["port"]["default"]
    new = copy.deepcopy(previous)
    service_type(new)["required"].append("port")
    assert "property 'port' of type 'ServiceInput' became required and has no default" in (
        incompatible(previous, new)
    )


def test_required_property_that_loses_its_default() -> None:
    previous = parsed(SERVICE_SCHEMA)
    service_type(previous)["required"].append("port")
    new = copy.deepcopy(previous)
    del service_type(new)["properties"]["port"]["default"]
    assert "property 'port' of type 'ServiceInput' is required and lost its default" in incompatible(
        previous, new
    )


def test_pipeline_input_type_is_compared_and_every_problem_is_listed() -> None:
    previous = parsed(SERVICE_SCHEMA)
    service_type(previous, "PipelineInput")["properties"] = {"branch": {"type": "string"}}
    new = copy.deepcopy(previous)
    del service_type(new)["properties"]["port"]
    service_type(new, "PipelineInput")["properties"]["branch"]["type"] = "array"
    assert incompatible(previous, new) == (
        "Schema is not backward compatible with the previous minor version: property 'port' of type "
        "'ServiceInput' was removed; property 'branch' of type 'PipelineInput' changed type from 'string' "
        "to 'array'; changes like these need a new major version"
    )


def test_environment_check_ignores_service_keys() -> None:
    previous = parsed(ENV_SCHEMA)
    new = copy.deepcopy(previous)
    new["schema"]["service_input_type"] = "Whatever"
    check_minor_compatible(previous, new, kind="ENVIRONMENT")


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        check_minor_compatible(parsed(ENV_SCHEMA), parsed(ENV_SCHEMA), kind="component")
