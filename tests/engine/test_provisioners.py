"""The provisioner registry: one provisioner per method every manifest can name, and what notify and
cancel learn from it for a customer-managed environment (real boto3 client, the engine driven step by
step)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from baryon.bundles.manifest import ENGINES
from baryon.engine.provisioners import registry
from baryon.runtime import Runtime
from tests.conftest import ACCOUNT
from tests.support import bundles
from tests.support.stepping import Engine

ARN = f"arn:aws:proton:us-east-1:{ACCOUNT}:environment/legacy"


def test_every_method_has_one_provisioner() -> None:
    assert sorted(registry.PROVISIONERS) == sorted([*ENGINES, "customer-managed"])
    assert all(key == p.traits.method for key, p in registry.PROVISIONERS.items())
    labels = {key: p.traits.label for key, p in registry.PROVISIONERS.items()}
    assert labels == {
        "jinja": "CloudFormation",
        "hcl": "Terraform through git",
        "codebuild": "the command runner",
        "customer-managed": "customer-managed provisioning",
    }


@pytest.fixture
def engine(runtime: Runtime, moto_endpoint: str) -> Engine:
    return Engine(runtime)


def _customer_managed_environment(proton: Any, s3: Any, engine: Engine) -> None:
    proton.create_environment_template(name="imported", provisioning="CUSTOMER_MANAGED")
    key = f"{uuid.uuid4().hex}.tar.gz"
    s3.put_object(Bucket="bundles", Key=key, Body=bundles.customer_managed_bundle())
    proton.create_environment_template_version(
        templateName="imported", source={"s3": {"bucket": "bundles", "key": key}}
    )
    engine.run_due()
    proton.update_environment_template_version(
        templateName="imported", majorVersion="1", minorVersion="0", status="PUBLISHED"
    )
    proton.create_environment(
        name="legacy",
        templateName="imported",
        templateMajorVersion="1",
        spec="proton: EnvironmentSpec\nspec:\n  vpc_id: vpc-123\n",
    )


def test_a_customer_managed_deployment_takes_no_notification(proton: Any, s3: Any, engine: Engine) -> None:
    _customer_managed_environment(proton, s3, engine)
    with pytest.raises(ClientError) as caught:
        proton.notify_resource_deployment_status_change(resourceArn=ARN, status="SUCCEEDED")
    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": f"{ARN} is provisioned through customer-managed provisioning; its deployment status comes "
        "from its spec, not from notifications.",
    }
    engine.run_due()
    env = proton.get_environment(name="legacy")["environment"]
    assert env["deploymentStatus"] == "SUCCEEDED"
    assert proton.list_environment_outputs(environmentName="legacy")["outputs"] == [
        {"key": "vpc_id", "valueString": "vpc-123"}
    ]


def test_a_customer_managed_deployment_cancelled_before_its_step(
    proton: Any, s3: Any, engine: Engine
) -> None:
    _customer_managed_environment(proton, s3, engine)
    cancelling = proton.cancel_environment_deployment(environmentName="legacy")["environment"]
    assert cancelling["deploymentStatus"] == "CANCELLING"
    engine.run_due()
    env = proton.get_environment(name="legacy")["environment"]
    assert (env["deploymentStatus"], env["deploymentStatusMessage"]) == (
        "CANCELLED",
        "User initiated cancellation.",
    )
    assert proton.list_environment_outputs(environmentName="legacy")["outputs"] == []
