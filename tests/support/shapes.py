"""Generated values for any botocore shape of the Proton model, valid against its constraints.

`example(shape, variant)` builds the value a boto3 caller would pass (timestamps as aware datetimes); the
variants differ in what they exercise: variant 0 sets every member with lists of two items, variant 1 only
the required members with the fewest items a list allows, variants 2 and 3 other union members, enum
values, integer bounds and booleans. Strings carry non-ASCII characters, quotes, backslashes and control
characters unless a pattern forbids it; patterned strings come from one sample per shape that matches it.
`wire(value)` is the same value in AWS JSON 1.0 terms (timestamps as epoch seconds).

Invariant: every value generated satisfies the model (required members, types, enums, patterns, lengths,
ranges, exactly one member per union), so that both botocore's client-side validation and Baryon's
accept it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import botocore.session

from baryon.protocol.validation import REQUIRED_BY_MEANING

MODEL = botocore.session.get_session().get_service_model("proton")
VARIANTS = (0, 1, 2, 3)

_TEXT = 'Ünïcödé ✓ "quoted" \\ back\tslash\nline 🚀 '
_TIMESTAMPS = (
    dt.datetime(2026, 11, 26, 12, 0, 0, 250000, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 26, 12, 0, 1, tzinfo=dt.UTC),
    dt.datetime(1999, 12, 31, 23, 59, 59, 500000, tzinfo=dt.UTC),
    dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=dt.UTC),
)
# One value per patterned string shape, each matching its pattern (checked by `_string`).
_SAMPLES = {
    "Arn": "arn:aws:proton:us-east-1:111111111111:environment/env-1",
    "RoleArn": "arn:aws:iam::111111111111:role/path/role-1",
    "RoleArnOrEmptyString": "arn:aws:iam::111111111111:role/role_2",
    "DeploymentId": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    "EnvironmentAccountConnectionId": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    "AwsAccountId": "111111111111",
    "ClientToken": "token-!~{}",
    "RepositoryName": "owner/repo.name",
    "ResourceName": "Name_1-x",
    "ResourceNameOrEmpty": "name2",
    "S3Bucket": "bundle-bucket.1",
    "TemplateVersionPart": "10",
    "FullTemplateVersionNumber": "1.20",
    "NextToken": "abc+/=",
}


def example(shape: Any, variant: int = 0, depth: int = 0) -> Any:
    """A value of `shape` for `variant` (see the module docstring)."""
    if depth > 8:
        raise AssertionError(f"{shape.name} nests deeper than the generator expects")
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, variant, depth)
    if kind == "list":
        return [example(shape.member, variant + i, depth + 1) for i in range(_count(shape, variant))]
    if kind == "map":
        keys = [f"key{i}" for i in range(_count(shape, variant))]
        return {example(shape.key, variant) + k: example(shape.value, variant, depth + 1) for k in keys}
    if kind == "string":
        return _string(shape, variant)
    if kind in ("integer", "long"):
        return _integer(shape, variant)
    if kind in ("float", "double"):
        return (1.5, -0.25, 1e20, 0.0)[variant % 4]
    if kind == "boolean":
        return variant % 2 == 0
    if kind == "timestamp":
        return _TIMESTAMPS[variant % len(_TIMESTAMPS)]
    if kind == "blob":
        return bytes(range(variant, variant + 8))
    raise AssertionError(f"no generator for {kind} ({shape.name})")


def wire(value: Any) -> Any:
    """`value` as it travels in AWS JSON 1.0: timestamps as epoch seconds, everything else as is."""
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return value


def _structure(shape: Any, variant: int, depth: int) -> dict[str, Any]:
    members = list(shape.members.items())
    if shape.is_tagged_union:
        members = [members[variant % len(members)]]
    elif variant % 4 == 1:
        required = {*shape.required_members, *REQUIRED_BY_MEANING.get(shape.name, ())}
        members = [(name, member) for name, member in members if name in required]
    return {name: example(member, variant, depth + 1) for name, member in members}


def _count(shape: Any, variant: int) -> int:
    low, high = shape.metadata.get("min", 0), shape.metadata.get("max", 3)
    wanted = (2, low, 1, 3)[variant % 4]
    return max(low, min(high, wanted))


def _integer(shape: Any, variant: int) -> int:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    bound = 2**31 - 1 if shape.type_name == "integer" else 2**53
    choices = (
        low if low is not None else 0,
        high if high is not None else bound,
        7,
        -3 if low is None else low,
    )
    return int(choices[variant % 4])


def _string(shape: Any, variant: int) -> str:
    if shape.enum:
        return str(shape.enum[variant % len(shape.enum)])
    pattern = shape.metadata.get("pattern")
    if pattern is not None:
        value = _SAMPLES.get(shape.name)
        if value is None or not re.fullmatch(pattern, value):
            raise AssertionError(f"no sample of {shape.name} matching {pattern}")
        return value
    low, high = int(shape.metadata.get("min", 0)), shape.metadata.get("max")
    text = (_TEXT, "plain", "", _TEXT * 3)[variant % 4]
    text = text.ljust(low, "x")
    return text if high is None else text[:high]
