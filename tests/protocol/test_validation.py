"""Input validation against the model, with AWS-style messages."""

from __future__ import annotations

import re

import pytest

from baryon.protocol.errors import ValidationException
from baryon.protocol.validation import validate_input
from tests.support.shapes import MODEL


def _all_patterns() -> set[str]:
    found: set[str] = set()
    for name in MODEL.shape_names:
        pattern = MODEL.shape_for(name).metadata.get("pattern")
        if pattern:
            found.add(pattern)
    return found


def test_every_model_pattern_compiles() -> None:
    patterns = _all_patterns()
    assert len(patterns) > 10
    for pattern in patterns:
        re.compile(pattern)


def _message(operation: str, params: dict[str, object]) -> str:
    with pytest.raises(ValidationException) as caught:
        validate_input(operation, params)
    return caught.value.message


def test_pattern_violation_message() -> None:
    pattern = MODEL.shape_for("ResourceName").metadata["pattern"]
    assert _message("CreateEnvironmentTemplate", {"name": "bad name!"}) == (
        "1 validation error detected: Value at 'name' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}"
    )


def test_required_member_message() -> None:
    assert _message("GetEnvironmentTemplate", {}) == (
        "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must not be null"
    )


def test_lengths_enums_ranges_and_several_errors() -> None:
    message = _message(
        "ListEnvironmentTemplates",
        {"maxResults": 0},
    )
    assert message == (
        "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    message = _message(
        "CreateEnvironmentTemplate",
        {"name": "x" * 101, "provisioning": "SELF", "description": "d" * 501},
    )
    assert message.startswith("3 validation errors detected: ")
    prefix = "failed to satisfy constraint: Member must"
    assert f"Value at 'name' {prefix} have length less than or equal to 100" in message
    assert f"Value at 'provisioning' {prefix} satisfy enum value set: [CUSTOMER_MANAGED]" in message
    assert f"Value at 'description' {prefix} have length less than or equal to 500" in message


def test_nested_list_paths_and_types() -> None:
    message = _message(
        "CreateEnvironmentTemplate",
        {"name": "ok", "tags": [{"key": "k", "value": "v"}, {"key": "", "value": 3}]},
    )
    prefix = "failed to satisfy constraint: Member must"
    assert f"Value at 'tags.2.member.key' {prefix} have length greater than or equal to 1" in message
    assert f"Value at 'tags.2.member.value' {prefix} be of type string" in message


def test_union_needs_exactly_one_member() -> None:
    message = _message("CreateEnvironmentTemplateVersion", {"templateName": "t", "source": {}})
    assert message == (
        "1 validation error detected: Value at 'source' failed to satisfy constraint: "
        "Member must have exactly one member set"
    )


def test_valid_input_passes() -> None:
    validate_input(
        "CreateEnvironmentTemplateVersion",
        {"templateName": "t", "majorVersion": "1", "source": {"s3": {"bucket": "abc", "key": "k"}}},
    )
