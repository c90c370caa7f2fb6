"""API tests start with no live stacks in the local cloud.

Stack names derive from the Baryon account, region and resource names, which these tests reuse (`dev`,
`api`, `front`); a stack left by an earlier test would otherwise be adopted and updated in place, and
moto does not replace resources on update as CloudFormation does.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT
from tests.support.clients import as_role

REGION = "us-east-1"


@pytest.fixture(scope="session")
def cloudformation_of_account(moto_endpoint: str) -> Any:
    """A CloudFormation client of the test account in the local cloud, made once per session."""
    return as_role(
        "cloudformation", moto_endpoint, REGION, f"arn:aws:iam::{ACCOUNT}:role/test-cleanup", "cleanup"
    )


@pytest.fixture(autouse=True)
def empty_cloud(cloudformation_of_account: Any) -> None:
    cf = cloudformation_of_account
    for page in cf.get_paginator("list_stacks").paginate():
        for stack in page["StackSummaries"]:
            if stack["StackStatus"] != "DELETE_COMPLETE":
                # A stack moto cannot delete (a test made it undeletable on purpose) stays.
                with contextlib.suppress(ClientError):
                    cf.delete_stack(StackName=stack["StackId"])
