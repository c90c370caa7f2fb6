"""Input no handler can use is a ValidationException naming the member, on both databases, and changes
nothing: null members, filters without key or value, NUL characters, nesting and numbers beyond reason."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

from baryon.api.dispatch import Dispatcher
from baryon.protocol.sigv4 import Credential
from tests.support import bundles
from tests.support.signed import error, send, sign

NOT_NULL = "failed to satisfy constraint: Member must not be null"
NO_NUL = "failed to satisfy constraint: Member must not contain the NUL character"


def _call(dispatcher: Dispatcher, credential: Credential, operation: str, params: dict[str, Any]) -> Any:
    body = orjson.dumps(params)
    return send(dispatcher, sign(credential, operation, body), body)


def _refused(dispatcher: Dispatcher, credential: Credential, operation: str, params: dict[str, Any]) -> str:
    status, code, message = error(_call(dispatcher, credential, operation, params))
    assert (status, code) == (400, "ValidationException"), message
    return message


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"filters": [{}]},
            f"2 validation errors detected: Value at 'filters.1.member.key' {NOT_NULL}; "
            f"Value at 'filters.1.member.value' {NOT_NULL}",
        ),
        (
            {"filters": [{"key": "name"}]},
            f"1 validation error detected: Value at 'filters.1.member.value' {NOT_NULL}",
        ),
        (
            {"filters": [{"value": "x"}]},
            f"1 validation error detected: Value at 'filters.1.member.key' {NOT_NULL}",
        ),
        ({"sortBy": None}, f"1 validation error detected: Value at 'sortBy' {NOT_NULL}"),
        ({"filters": None}, f"1 validation error detected: Value at 'filters' {NOT_NULL}"),
        ({"filters": [None]}, f"1 validation error detected: Value at 'filters.1.member' {NOT_NULL}"),
        (
            {"filters": [{"key": "name", "value": "a\x00b"}]},
            f"1 validation error detected: Value at 'filters.1.member.value' {NO_NUL}",
        ),
    ],
)
def test_list_service_instances_refuses_unusable_filters(
    dispatcher: Dispatcher, credential: Credential, params: dict[str, Any], message: str
) -> None:
    assert _refused(dispatcher, credential, "ListServiceInstances", params) == message


@pytest.mark.parametrize(
    ("params", "member"),
    [
        ({"name": "t", "description": "a\x00b"}, "description"),
        ({"name": "t", "displayName": "\x00"}, "displayName"),
        ({"name": "t", "tags": [{"key": "k\x00", "value": "v"}]}, "tags.1.member.key"),
        ({"name": "t", "tags": [{"key": "k", "value": "v\x00"}]}, "tags.1.member.value"),
    ],
)
def test_a_nul_character_is_refused_and_nothing_is_created(
    dispatcher: Dispatcher, credential: Credential, params: dict[str, Any], member: str
) -> None:
    assert _refused(dispatcher, credential, "CreateEnvironmentTemplate", params) == (
        f"1 validation error detected: Value at '{member}' {NO_NUL}"
    )
    status, listed = _call(dispatcher, credential, "ListEnvironmentTemplates", {})
    assert (status, listed["templates"]) == (200, [])


def test_a_component_manifest_nested_500_deep_is_refused(
    dispatcher: Dispatcher, credential: Credential
) -> None:
    manifest = "[" * 500 + "]" * 500
    params = {"name": "c", "environmentName": "dev", "manifest": manifest, "templateFile": "Resources: {}"}
    assert _refused(dispatcher, credential, "CreateComponent", params) == (
        "manifest is nested more than 64 levels deep (or a YAML alias refers to itself)"
    )


def _published_environment_template(proton: Any, s3: Any) -> None:
    key = f"{uuid.uuid4().hex}.tar.gz"
    s3.put_object(Bucket="bundles", Key=key, Body=bundles.environment_bundle())
    proton.create_environment_template(name="env")
    proton.create_environment_template_version(
        templateName="env", source={"s3": {"bucket": "bundles", "key": key}}
    )
    proton.get_waiter("environment_template_version_registered").wait(
        templateName="env", majorVersion="1", minorVersion="0", WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    proton.update_environment_template_version(
        templateName="env", majorVersion="1", minorVersion="0", status="PUBLISHED"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "proton: EnvironmentSpec\nspec:\n  vpc_cidr: " + "9" * 5000 + "\n",
            "Spec is not valid YAML: line 3, column 13: integers must fit in 64 bits; "
            "quote the value if it is text",
        ),
        (
            "proton: EnvironmentSpec\nspec:\n  vpc_cidr: " + "[" * 500 + "]" * 500 + "\n",
            "Spec is nested more than 64 levels deep (or a YAML alias refers to itself)",
        ),
        (
            'proton: EnvironmentSpec\nspec:\n  vpc_cidr: "a\\0b"\n',
            "Spec is not valid YAML: line 3, column 13: the NUL character (\\0) is not allowed",
        ),
        (
            "proton: EnvironmentSpec\nspec:\n  vpc_cidr: a\x00b\n",
            f"1 validation error detected: Value at 'spec' {NO_NUL}",
        ),
    ],
)
def test_a_spec_beyond_reason_is_refused(proton: Any, s3: Any, worker: Any, spec: str, message: str) -> None:
    _published_environment_template(proton, s3)
    with pytest.raises(ClientError) as caught:
        proton.create_environment(
            name="dev", templateName="env", templateMajorVersion="1", spec=spec, protonServiceRoleArn=ROLE
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["Error"]["Message"] == message
    assert proton.list_environments()["environments"] == []


ROLE = "arn:aws:iam::111111111111:role/proton"
