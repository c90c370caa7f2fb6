"""The stacks Proton would have left in the local cloud: named `AWSProton-…` and tagged `proton:*` with
Proton ARNs; fixtures giving CloudFormation clients of the accounts, emptied of earlier tests' stacks."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT, OTHER_ACCOUNT
from tests.support import bundles
from tests.support.bundles import cfn_environment, service
from tests.support.clients import as_role
from tests.support.publishing import publish_environment_template, publish_service_template

REGION = "us-east-1"
READER = f"arn:aws:iam::{ACCOUNT}:role/baryon-adopt"
OTHER_READER = f"arn:aws:iam::{OTHER_ACCOUNT}:role/baryon-adopt"
#: A stack body with one resource and one output, as small as moto creates at once.
BODY = json.dumps(
    {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"TopicName": {"Value": {"Fn::GetAtt": ["Topic", "TopicName"]}}},
    }
)


def proton_arn(resource: str, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:proton:{region}:{account}:{resource}"


def cloudformation(moto_endpoint: str, account: str) -> Any:
    return as_role(
        "cloudformation", moto_endpoint, REGION, f"arn:aws:iam::{account}:role/test-proton", "proton"
    )


def proton_stack(cf: Any, name: str, tags: dict[str, str]) -> dict[str, Any]:
    """Create stack `AWSProton-<name>-…` tagged as Proton tagged it; return it as DescribeStacks shows it."""
    stack_name = f"AWSProton-{name}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    cf.create_stack(
        StackName=stack_name,
        TemplateBody=BODY,
        Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
    )
    return dict(cf.describe_stacks(StackName=stack_name)["Stacks"][0])


def _empty(cf: Any) -> None:
    for page in cf.get_paginator("list_stacks").paginate():
        for stack in page["StackSummaries"]:
            if stack["StackStatus"] != "DELETE_COMPLETE":
                with contextlib.suppress(ClientError):
                    cf.delete_stack(StackName=stack["StackId"])


@pytest.fixture
def cfn(moto_endpoint: str) -> Any:
    """CloudFormation of the test account, emptied of the stacks earlier tests left."""
    client = cloudformation(moto_endpoint, ACCOUNT)
    _empty(client)
    return client


@pytest.fixture
def other_cfn(moto_endpoint: str) -> Any:
    """CloudFormation of the second account, emptied likewise."""
    client = cloudformation(moto_endpoint, OTHER_ACCOUNT)
    _empty(client)
    return client


@pytest.fixture
def templates(proton: Any, s3: Any, worker: Any) -> None:
    """Environment template `vpc` (1.0 published) and service template `fargate` (1.0 published)."""
    publish_environment_template(proton, s3, "vpc", bundles.environment_bundle())
    publish_service_template(proton, s3, "fargate", bundles.service_bundle(), compatible="vpc")


def write(folder: Path, files: dict[str, str | bytes]) -> None:
    for relative, content in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def kept_bundles(root: Path) -> Path:
    """`vpc/v1` (an environment template) and `fargate/v1` (a service template compatible with vpc:1)."""
    write(root / "vpc" / "v1", cfn_environment())
    write(
        root / "fargate" / "v1",
        {**service(), ".template-registration.yaml": "compatible_environments:\n  - vpc:1\n"},
    )
    return root
