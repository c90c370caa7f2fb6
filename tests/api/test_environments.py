"""Environments deployed through CloudFormation in a real moto server, through a real boto3 client."""

from __future__ import annotations

import dataclasses
from typing import Any

from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT
from tests.support import bundles
from tests.support.errors import error_of as _error
from tests.support.publishing import publish_environment_template
from tests.support.waiters import FAST
from tests.support.waiting import poll

ROLE = f"arn:aws:iam::{ACCOUNT}:role/proton-service"
SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.1.0.0/16\n"


def _published_env_template(
    proton: Any, s3: Any, name: str = "vpc-env", data: bytes | None = None, **kw: Any
) -> None:
    publish_environment_template(proton, s3, name, data or bundles.environment_bundle(), **kw)


def _found(call: Any, **kwargs: Any) -> bool | tuple[str, str]:
    """True while `call` finds its resource, else the error it answers."""
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["Error"]["Message"]
    return True


def test_create_environment_deploys_a_stack(proton: Any, s3: Any, worker: Any) -> None:
    _published_env_template(proton, s3)
    created = proton.create_environment(
        name="dev",
        templateName="vpc-env",
        templateMajorVersion="1",
        spec=SPEC,
        protonServiceRoleArn=ROLE,
        tags=[{"key": "team", "value": "core"}],
    )["environment"]
    assert created["deploymentStatus"] == "IN_PROGRESS"
    assert created["templateMinorVersion"] == "0"
    assert created["arn"] == f"arn:aws:proton:us-east-1:{ACCOUNT}:environment/dev"
    assert created["lastDeploymentSucceededAt"] == created["createdAt"]
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    env = proton.get_environment(name="dev")["environment"]
    assert env["deploymentStatus"] == "SUCCEEDED"
    assert env["spec"] == SPEC
    outputs = proton.list_environment_outputs(environmentName="dev")["outputs"]
    assert [o["key"] for o in outputs] == ["VpcId"]
    assert outputs[0]["valueString"].startswith("vpc-")
    resources = proton.list_environment_provisioned_resources(environmentName="dev")["provisionedResources"]
    assert resources == [
        {"name": "VPC", "identifier": outputs[0]["valueString"], "provisioningEngine": "CLOUDFORMATION"}
    ]
    deployment = proton.get_deployment(id=env["lastSucceededDeploymentId"])["deployment"]
    assert deployment["deploymentStatus"] == "SUCCEEDED"
    assert deployment["targetResourceType"] == "ENVIRONMENT"
    assert deployment["targetState"] == {
        "environment": {
            "templateName": "vpc-env",
            "templateMajorVersion": "1",
            "templateMinorVersion": "0",
            "spec": SPEC,
        }
    }
    by_deployment = proton.list_environment_outputs(environmentName="dev", deploymentId=deployment["id"])
    assert by_deployment["outputs"] == outputs
    assert [d["id"] for d in proton.list_deployments(environmentName="dev")["deployments"]] == [
        deployment["id"]
    ]
    assert proton.list_environments()["environments"][0]["name"] == "dev"
    assert proton.list_tags_for_resource(resourceArn=env["arn"])["tags"] == [{"key": "team", "value": "core"}]


def test_bad_spec_is_a_validation_error_and_creates_nothing(proton: Any, s3: Any, worker: Any) -> None:
    _published_env_template(proton, s3)
    code, message = _error(
        proton.create_environment,
        name="dev",
        templateName="vpc-env",
        templateMajorVersion="1",
        spec="proton: EnvironmentSpec\nspec:\n  vpc_cidr: 5\n",
        protonServiceRoleArn=ROLE,
    )
    assert code == "ValidationException"
    assert message == "Invalid spec for environment dev: input 'vpc_cidr' must be of type string"
    code, message = _error(
        proton.create_environment, name="dev", templateName="vpc-env", templateMajorVersion="1", spec=SPEC
    )
    assert message == "protonServiceRoleArn is required to provision a CloudFormation environment."
    code, message = _error(
        proton.create_environment,
        name="dev",
        templateName="vpc-env",
        templateMajorVersion="2",
        spec=SPEC,
        protonServiceRoleArn=ROLE,
    )
    assert message == "Major version 2 of environment template vpc-env has no published minor version."
    assert proton.list_environments()["environments"] == []
    assert proton.list_deployments()["deployments"] == []


def test_update_delete_and_version_in_use(proton: Any, s3: Any, worker: Any) -> None:
    _published_env_template(proton, s3)
    proton.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    code, message = _error(
        proton.delete_environment_template_version, templateName="vpc-env", majorVersion="1", minorVersion="0"
    )
    assert (code, message) == (
        "ConflictException",
        "Version 1.0 of environment template vpc-env is in use by environment dev; it cannot be deleted.",
    )
    updated = proton.update_environment(
        name="dev",
        deploymentType="CURRENT_VERSION",
        spec="proton: EnvironmentSpec\nspec:\n  vpc_cidr: ${Proton::CURRENT_VAL}\n",
    )["environment"]
    assert updated["deploymentStatus"] == "IN_PROGRESS"
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    env = proton.get_environment(name="dev")["environment"]
    assert env["lastSucceededDeploymentId"] == updated["lastAttemptedDeploymentId"]
    none = proton.update_environment(name="dev", deploymentType="NONE", description="described")[
        "environment"
    ]
    assert (
        none["description"] == "described"
        and none["lastAttemptedDeploymentId"] == env["lastAttemptedDeploymentId"]
    )
    code, message = _error(
        proton.update_environment, name="dev", deploymentType="MINOR_VERSION", templateMajorVersion="2"
    )
    assert (code, message) == (
        "ValidationException",
        "A MINOR_VERSION update stays in major version 1; use MAJOR_VERSION to move to major version 2.",
    )
    deleted = proton.delete_environment(name="dev")["environment"]
    assert deleted["deploymentStatus"] == "DELETE_IN_PROGRESS"
    gone = poll(
        lambda: _found(proton.get_environment, name="dev"),
        lambda found: found is not True,
        what="environment dev to be deleted",
    )
    assert gone == (
        "ResourceNotFoundException",
        f"The requested environment does not exist: arn:aws:proton:us-east-1:{ACCOUNT}:environment/dev",
    )
    records = proton.list_deployments(environmentName="dev")["deployments"]
    assert records[0]["deploymentStatus"] == "DELETE_COMPLETE"
    proton.delete_environment_template_version(templateName="vpc-env", majorVersion="1", minorVersion="0")


def test_customer_managed_environment_outputs_come_from_the_spec(proton: Any, s3: Any, worker: Any) -> None:
    _published_env_template(
        proton, s3, name="imported", data=bundles.customer_managed_bundle(), provisioning="CUSTOMER_MANAGED"
    )
    proton.create_environment(
        name="legacy",
        templateName="imported",
        templateMajorVersion="1",
        spec="proton: EnvironmentSpec\nspec:\n  vpc_id: vpc-123\n",
    )
    proton.get_waiter("environment_deployed").wait(name="legacy", WaiterConfig=FAST)
    assert proton.list_environment_outputs(environmentName="legacy")["outputs"] == [
        {"key": "vpc_id", "valueString": "vpc-123"}
    ]
    env = proton.get_environment(name="legacy")["environment"]
    assert env["provisioning"] == "CUSTOMER_MANAGED"


def test_render_failure_is_a_failed_deployment(proton: Any, s3: Any, worker: Any) -> None:
    broken = bundles.tar_gz(
        {
            "schema/schema.yaml": bundles.ENV_SCHEMA,
            "infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
            "infrastructure/cloudformation.yaml": (
                "Resources:\n  X:\n    Type: '{{ environment.outputs.Missing }}'\n"
            ),
        }
    )
    _published_env_template(proton, s3, name="broken", data=broken)
    proton.create_environment(
        name="bad", templateName="broken", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    env = poll(
        lambda: proton.get_environment(name="bad")["environment"],
        lambda env: env["deploymentStatus"] != "IN_PROGRESS",
        what="the deployment of environment bad to end",
    )
    assert env["deploymentStatus"] == "FAILED"
    assert env["deploymentStatusMessage"] == (
        "infrastructure/cloudformation.yaml, line 3: environment.outputs is not defined"
    )


def test_conflicts_and_cancel_while_in_progress(proton: Any, s3: Any, worker: Any, runtime: Any) -> None:
    from baryon.engine.worker import Worker

    _published_env_template(proton, s3)
    worker.stop()
    proton.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    code, message = _error(proton.update_environment, name="dev", deploymentType="CURRENT_VERSION")
    assert (code, message) == (
        "ConflictException",
        "Environment dev has a deployment in progress (IN_PROGRESS); wait for it to finish or cancel it.",
    )
    code, _ = _error(proton.delete_environment, name="dev")
    assert code == "ConflictException"
    cancelling = proton.cancel_environment_deployment(environmentName="dev")["environment"]
    assert cancelling["deploymentStatus"] == "CANCELLING"
    code, message = _error(proton.cancel_environment_deployment, environmentName="dev")
    assert code == "ConflictException"
    again = Worker(runtime, poll_interval=0.05)
    while again.run_once():
        pass
    env = proton.get_environment(name="dev")["environment"]
    assert (env["deploymentStatus"], env["deploymentStatusMessage"]) == (
        "CANCELLED",
        "User initiated cancellation.",
    )
    deployment = proton.get_deployment(id=env["lastAttemptedDeploymentId"], environmentName="dev")[
        "deployment"
    ]
    assert deployment["deploymentStatus"] == "CANCELLED"
    code, _ = _error(proton.get_deployment, id=env["lastAttemptedDeploymentId"], environmentName="other")
    assert code == "ResourceNotFoundException"
    proton.delete_deployment(id=deployment["id"])
    assert proton.list_deployments()["deployments"] == []


def test_environment_quota_refuses_and_creates_nothing(
    proton: Any, s3: Any, worker: Any, runtime: Any
) -> None:
    _published_env_template(proton, s3)
    runtime.quotas = dataclasses.replace(runtime.quotas, environments=0)
    code, message = _error(
        proton.create_environment,
        name="dev",
        templateName="vpc-env",
        templateMajorVersion="1",
        spec=SPEC,
        protonServiceRoleArn=ROLE,
    )
    assert (code, message) == (
        "ServiceQuotaExceededException",
        "You have reached the quota of 0 environments in this account and region.",
    )
    assert proton.list_environments()["environments"] == []
