"""Services with instances and a pipeline, deployed through CloudFormation in a real moto server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_environments import FAST, ROLE, SPEC, _published_env_template
from tests.conftest import ACCOUNT
from tests.support import bundles
from tests.support.databases import sqlite_only
from tests.support.errors import error_of as _error
from tests.support.publishing import publish_service_template
from tests.support.waiting import poll

SERVICE_SPEC = bundles.SERVICE_SPEC


def _published_service_template(proton: Any, s3: Any, name: str = "api-svc", pipeline: bool = True) -> None:
    publish_service_template(proton, s3, name, bundles.service_bundle(pipeline=pipeline), pipeline=pipeline)


@pytest.fixture
def environment(proton: Any, s3: Any, worker: Any) -> str:
    _published_env_template(proton, s3)
    proton.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    return "dev"


def test_service_with_two_instances_and_a_pipeline(
    proton: Any, s3: Any, worker: Any, environment: str
) -> None:
    _published_service_template(proton, s3)
    code, message = _error(
        proton.create_service, name="api", templateName="api-svc", templateMajorVersion="1", spec=SERVICE_SPEC
    )
    assert code == "ValidationException" and "pipelineServiceRoleArn" in message
    proton.update_account_settings(pipelineServiceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline")
    created = proton.create_service(
        name="api",
        templateName="api-svc",
        templateMajorVersion="1",
        spec=SERVICE_SPEC,
        repositoryConnectionArn=f"arn:aws:codestar-connections:us-east-1:{ACCOUNT}:connection/x",
        repositoryId="org/api",
        branchName="main",
    )["service"]
    assert created["status"] == "CREATE_IN_PROGRESS"
    assert created["pipeline"]["deploymentStatus"] == "IN_PROGRESS"
    proton.get_waiter("service_created").wait(name="api", WaiterConfig=FAST)
    service = proton.get_service(name="api")["service"]
    assert service["status"] == "ACTIVE"
    assert service["pipeline"]["deploymentStatus"] == "SUCCEEDED"
    instances = proton.list_service_instances(serviceName="api")["serviceInstances"]
    assert [(i["name"], i["deploymentStatus"]) for i in instances] == [
        ("back", "SUCCEEDED"),
        ("front", "SUCCEEDED"),
    ]
    env_outputs = {
        o["key"]: o["valueString"] for o in proton.list_environment_outputs(environmentName="dev")["outputs"]
    }
    outputs = {
        o["key"]: o["valueString"]
        for o in proton.list_service_instance_outputs(serviceName="api", serviceInstanceName="front")[
            "outputs"
        ]
    }
    assert outputs == {"QueueName": "api-front-8080", "EnvironmentVpc": env_outputs["VpcId"]}
    back = proton.list_service_instance_outputs(serviceName="api", serviceInstanceName="back")["outputs"]
    assert {o["key"]: o["valueString"] for o in back}["QueueName"] == "api-back-80", "schema default applied"
    pipeline_outputs = {
        o["key"]: o["valueString"] for o in proton.list_service_pipeline_outputs(serviceName="api")["outputs"]
    }
    assert pipeline_outputs == {"Instances": "back,front", "FirstQueue": "api-back-80"}
    instance = proton.get_service_instance(serviceName="api", name="front")["serviceInstance"]
    assert instance["spec"] == SERVICE_SPEC
    assert instance["arn"] == f"arn:aws:proton:us-east-1:{ACCOUNT}:service/api/service-instance/front"
    assert _error(
        proton.delete_service_template_version, templateName="api-svc", majorVersion="1", minorVersion="0"
    ) == (
        "ConflictException",
        "Version 1.0 of service template api-svc is in use by service instance back of service api; "
        "it cannot be deleted.",
    )

    updated = proton.update_service_instance(
        serviceName="api",
        name="front",
        deploymentType="CURRENT_VERSION",
        spec=(
            "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: dev\n"
            "    spec:\n      port: 9090\n"
        ),
    )["serviceInstance"]
    assert updated["deploymentStatus"] == "IN_PROGRESS"
    proton.get_waiter("service_instance_deployed").wait(serviceName="api", name="front", WaiterConfig=FAST)
    front = proton.get_service_instance(serviceName="api", name="front")["serviceInstance"]
    assert front["lastSucceededDeploymentId"] == updated["lastAttemptedDeploymentId"]
    assert "port: 9090" in front["spec"]
    import boto3

    assumed = boto3.client("sts", region_name="us-east-1").assume_role(RoleArn=ROLE, RoleSessionName="test")
    keys = assumed["Credentials"]
    cloudformation = boto3.client(
        "cloudformation",
        region_name="us-east-1",
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )
    stacks = [
        s
        for s in cloudformation.describe_stacks()["Stacks"]
        if s["StackName"].startswith("AWSProton-api-front")
    ]
    body = cloudformation.get_template(StackName=stacks[0]["StackId"])["TemplateBody"]
    assert "api-front-9090" in str(body)
    proton.update_service_pipeline(
        serviceName="api",
        deploymentType="CURRENT_VERSION",
        spec="proton: ServiceSpec\npipeline:\n  dockerfile: Other\n",
    )
    proton.get_waiter("service_pipeline_deployed").wait(
        name="api", WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    code, _ = _error(proton.delete_environment, name="dev")
    assert code == "ConflictException"
    proton.delete_service(name="api")
    proton.get_waiter("service_deleted").wait(name="api", WaiterConfig=FAST)
    assert proton.list_service_instances()["serviceInstances"] == []


@sqlite_only
def test_service_spec_errors_create_nothing(proton: Any, s3: Any, worker: Any, environment: str) -> None:
    _published_service_template(proton, s3, pipeline=False)
    bad = (
        "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: dev\n"
        "    spec:\n      port: eighty\n"
    )
    code, message = _error(
        proton.create_service, name="api", templateName="api-svc", templateMajorVersion="1", spec=bad
    )
    assert (code, message) == (
        "ValidationException",
        "Invalid spec for service instance front: input 'port' must be of type number",
    )
    missing = "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: nowhere\n"
    code, message = _error(
        proton.create_service, name="api", templateName="api-svc", templateMajorVersion="1", spec=missing
    )
    assert message == "Invalid spec for service instance front: environment nowhere does not exist."
    with_pipeline = "proton: ServiceSpec\npipeline: {}\ninstances:\n  - name: front\n    environment: dev\n"
    code, message = _error(
        proton.create_service,
        name="api",
        templateName="api-svc",
        templateMajorVersion="1",
        spec=with_pipeline,
    )
    assert message == "Invalid spec: service template api-svc has no pipeline; remove the 'pipeline' section."
    assert proton.list_services()["services"] == []
    ok = "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: dev\n"
    proton.create_service(name="api", templateName="api-svc", templateMajorVersion="1", spec=ok)
    proton.get_waiter("service_created").wait(name="api", WaiterConfig=FAST)
    assert "pipeline" not in proton.get_service(name="api")["service"]
    poll(
        lambda: proton.list_service_instances(
            filters=[{"key": "deployedTemplateVersionStatus", "value": "UP_TO_DATE"}]
        )["serviceInstances"],
        what="an UP_TO_DATE service instance",
    )
    listed = proton.list_service_instances(
        filters=[{"key": "environmentName", "value": "dev"}], sortBy="name", sortOrder="DESCENDING"
    )["serviceInstances"]
    assert [i["name"] for i in listed] == ["front"]


def test_resources_summary(proton: Any, s3: Any, worker: Any, environment: str) -> None:
    _published_service_template(proton, s3, pipeline=False)
    ok = "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: dev\n"
    proton.create_service(name="api", templateName="api-svc", templateMajorVersion="1", spec=ok)
    proton.get_waiter("service_created").wait(name="api", WaiterConfig=FAST)
    counts = proton.get_resources_summary()["counts"]
    assert counts["environmentTemplates"] == {"total": 1}
    assert counts["serviceTemplates"] == {"total": 1}
    assert counts["environments"] == {
        "total": 1,
        "upToDate": 1,
        "behindMinor": 0,
        "behindMajor": 0,
        "failed": 0,
    }
    assert counts["serviceInstances"]["total"] == 1 and counts["serviceInstances"]["upToDate"] == 1
    assert counts["services"] == {"total": 1, "failed": 0}
    assert counts["pipelines"]["total"] == 0


@sqlite_only
def test_update_service_adds_and_removes_instances(
    proton: Any, s3: Any, worker: Any, environment: str
) -> None:
    _published_service_template(proton, s3)
    proton.update_account_settings(pipelineServiceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline")
    proton.create_service(name="api", templateName="api-svc", templateMajorVersion="1", spec=SERVICE_SPEC)
    proton.get_waiter("service_created").wait(name="api", WaiterConfig=FAST)
    edited = SERVICE_SPEC.replace(
        "  - name: back\n    environment: dev\n", "  - name: extra\n    environment: dev\n"
    )
    changed = SERVICE_SPEC.replace("port: 8080", "port: 1")
    code, message = _error(proton.update_service, name="api", spec=changed)
    assert (code, message) == (
        "ValidationException",
        "UpdateService cannot change the inputs of service instance front; use UpdateServiceInstance.",
    )
    updated = proton.update_service(name="api", spec=edited)["service"]
    assert updated["status"] == "UPDATE_IN_PROGRESS"
    proton.get_waiter("service_updated").wait(name="api", WaiterConfig=FAST)
    names = [i["name"] for i in proton.list_service_instances(serviceName="api")["serviceInstances"]]
    assert names == ["extra", "front"]
    pipeline = {
        o["key"]: o["valueString"] for o in proton.list_service_pipeline_outputs(serviceName="api")["outputs"]
    }
    assert pipeline["Instances"] == "extra,front"
    added = proton.create_service_instance(
        serviceName="api",
        name="more",
        spec=edited + "  - name: more\n    environment: dev\n    spec:\n      port: 7\n",
    )["serviceInstance"]
    assert added["deploymentStatus"] == "IN_PROGRESS"
    proton.get_waiter("service_instance_deployed").wait(serviceName="api", name="more", WaiterConfig=FAST)
    code, _ = _error(
        proton.create_service_instance,
        serviceName="api",
        name="more",
        spec=edited + "  - name: more\n    environment: dev\n",
    )
    assert code == "ConflictException"
