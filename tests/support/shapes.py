"""Example values for any botocore shape, valid against its constraints (for round-trip tests)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import botocore.session

MODEL = botocore.session.get_session().get_service_model("proton")


def example(shape: Any, depth: int = 0) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = list(shape.members.items())
        if shape.is_tagged_union:
            members = members[:1]
        return {name: example(member, depth + 1) for name, member in members if depth < 6}
    if kind == "list":
        return [example(shape.member, depth + 1)]
    if kind == "map":
        return {"k": example(shape.value, depth + 1)}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        return _string(shape)
    if kind in ("integer", "long"):
        return int(shape.metadata.get("min", 1))
    if kind in ("float", "double"):
        return 1.5
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return dt.datetime(2026, 11, 26, 12, 0, 0, 250000, tzinfo=dt.UTC)
    if kind == "blob":
        return b"blob"
    raise AssertionError(kind)


_SAMPLES = {
    "Arn": "arn:aws:proton:us-east-1:111111111111:environment/env",
    "RoleArn": "arn:aws:iam::111111111111:role/role",
    "RoleArnOrEmptyString": "arn:aws:iam::111111111111:role/role",
    "DeploymentId": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    "EnvironmentAccountConnectionId": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    "AwsAccountId": "111111111111",
    "RepositoryName": "owner/repo",
    "TemplateVersionPart": "1",
    "FullTemplateVersionNumber": "1.0",
    "NextToken": "abc",
    "EmptyNextToken": "",
}


def _string(shape: Any) -> str:
    if shape.name in _SAMPLES:
        return _SAMPLES[shape.name]
    low = int(shape.metadata.get("min", 1))
    value = "a" * max(low, 1)
    high = shape.metadata.get("max")
    if high is not None and len(value) > high:
        value = value[:high]
    return value
