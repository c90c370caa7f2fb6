"""Fixtures for provisioner tests: this process's CloudFormation, STS, IAM, SQS and S3 calls go to the
session's moto server for the duration of one test, through fresh client caches."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from baryon.engine import aws
from baryon.engine.provisioners import targets
from baryon.engine.provisioners.targets import Target

REGION = "eu-west-1"
MOTO_ACCOUNT = "123456789012"  # the account moto gives the default (unknown) access key
SERVICES = ("CLOUDFORMATION", "STS", "IAM", "SQS", "S3")


@pytest.fixture
def moto_aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for service in SERVICES:
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # clients cached before this test may point elsewhere; the originals come back after it
    monkeypatch.setattr(aws, "_local", threading.local())
    monkeypatch.setattr(targets, "_local", threading.local())
    yield moto_endpoint


@pytest.fixture
def target(moto_aws: str) -> Target:
    return Target(region=REGION, account_id=MOTO_ACCOUNT, role_arn=None)


@pytest.fixture
def admin(moto_aws: str) -> Any:
    """A plain boto3 CloudFormation client on moto, for looking behind the provisioner's back."""
    return boto3.client(
        "cloudformation",
        endpoint_url=moto_aws,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]
