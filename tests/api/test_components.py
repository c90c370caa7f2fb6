"""Directly defined components, deployed through CloudFormation in a real moto server: detached and
attached, outputs reaching the service instance, the update and delete rules, cancel, list filters."""

from __future__ import annotations

import dataclasses
from typing import Any

import boto3
import pytest

from baryon.engine.provisioners.cloudformation import stack_name
from baryon.engine.worker import Worker
from baryon.runtime import Runtime
from tests.api.test_environments import FAST, ROLE, SPEC, _published_env_template
from tests.conftest import ACCOUNT
from tests.support import bundles
from tests.support.databases import sqlite_only
from tests.support.errors import error_of as _error
from tests.support.publishing import publish_service_template

COMPONENT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/proton-component"
REGION = "us-east-1"

MANIFEST = """infrastructure:
  templates:
    - file: "cloudformation.yaml"
      rendering_engine: jinja
      template_language: cloudformation
"""

TERRAFORM_MANIFEST = """infrastructure:
  templates:
    - file: "main.tf"
      rendering_engine: hcl
      template_language: terraform
"""

TEMPLATE = """Resources:
  Extra:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: '{{ component.name }}-{{ environment.name }}'
Outputs:
  ComponentQueue:
    Value: !GetAtt Extra.QueueName
  Attachment:
{% if service_instance is defined %}
    Value: '{{ service.name }}-{{ service_instance.name }}-{{ service_instance.inputs.port }}'
{% else %}
    Value: detached
{% endif %}
  EnvironmentVpc:
    Value: '{{ environment.outputs.VpcId }}'
"""

INSTANCE_TEMPLATE = """Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: '{{ service.name }}-{{ service_instance.name }}-{{ service_instance.inputs.port }}'
Outputs:
  QueueName:
    Value: !GetAtt Queue.QueueName
  ComponentName:
    Value: '{{ service_instance.components.default.name | default("none") }}'
  ComponentAttachment:
    Value: '{{ service_instance.components.default.outputs.Attachment | default("none") }}'
"""

SERVICE_SPEC = """proton: ServiceSpec
instances:
  - name: front
    environment: dev
    spec:
      port: 8080
  - name: back
    environment: dev
"""

COMPONENT_SPEC = """proton: ServiceSpec
instances:
  - name: front
    environment: dev
    spec:
      port: 7070
"""

DETACH_FIRST = "detach it first (UpdateComponent with empty serviceName and serviceInstanceName)"


def _outputs(answer: dict[str, Any]) -> dict[str, str]:
    return {o["key"]: o["valueString"] for o in answer["outputs"]}


def _cloudformation() -> Any:
    keys = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=COMPONENT_ROLE, RoleSessionName="test"
    )["Credentials"]
    return boto3.client(
        "cloudformation",
        region_name=REGION,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )


def _stack(name: str) -> dict[str, Any]:
    stacks = _cloudformation().describe_stacks(
        StackName=stack_name("component", name, account_id=ACCOUNT, region=REGION)
    )["Stacks"]
    return dict(stacks[0])


def _environment(proton: Any, s3: Any, **roles: str) -> None:
    _published_env_template(proton, s3)
    proton.create_environment(
        name="dev",
        templateName="vpc-env",
        templateMajorVersion="1",
        spec=SPEC,
        protonServiceRoleArn=ROLE,
        **roles,
    )
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)


def _service(proton: Any, s3: Any) -> None:
    """Service `api` (no pipeline) with instances front (port 8080) and back (port 80) in `dev`, on a
    template version that supports directly defined components."""
    bundle = bundles.tar_gz(
        {
            "schema/schema.yaml": bundles.SERVICE_SCHEMA_NO_PIPELINE,
            "instance_infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
            "instance_infrastructure/cloudformation.yaml": INSTANCE_TEMPLATE,
        },
        "service/",
    )
    publish_service_template(
        proton,
        s3,
        "api-svc",
        bundle,
        pipeline=False,
        version={"supportedComponentSources": ["DIRECTLY_DEFINED"]},
    )
    proton.create_service(name="api", templateName="api-svc", templateMajorVersion="1", spec=SERVICE_SPEC)
    proton.get_waiter("service_created").wait(name="api", WaiterConfig=FAST)


def _settle(runtime: Runtime) -> None:
    """Run the jobs that are due with a worker of this test (the fixture's worker is stopped)."""
    worker = Worker(runtime, poll_interval=0.05)
    while worker.run_once():
        pass


def test_detached_component_lifecycle(proton: Any, s3: Any, worker: Any) -> None:
    _environment(proton, s3)
    code, message = _error(
        proton.create_component, name="cache", environmentName="dev", manifest=MANIFEST, templateFile=TEMPLATE
    )
    assert (code, message) == (
        "ValidationException",
        "Environment dev has no componentRoleArn; a CloudFormation component needs the environment's "
        "component role to be provisioned with (set it with UpdateEnvironment).",
    )
    assert proton.list_components()["components"] == []

    # A Terraform component goes to the environment's provisioningRepository, which this one has not.
    code, message = _error(
        proton.create_component,
        name="tf",
        environmentName="dev",
        manifest=TERRAFORM_MANIFEST,
        templateFile='resource "x" "y" {}\n',
    )
    assert (code, message) == (
        "ValidationException",
        "The component's manifest names a Terraform file (rendering_engine hcl); environment dev is not "
        "provisioned through a repository (self-managed provisioning), so component tf cannot be deployed "
        "in it.",
    )
    assert proton.list_components()["components"] == []

    proton.update_environment(name="dev", deploymentType="NONE", componentRoleArn=COMPONENT_ROLE)
    created = proton.create_component(
        name="cache",
        environmentName="dev",
        manifest=MANIFEST,
        templateFile=TEMPLATE,
        description="a queue",
        tags=[{"key": "team", "value": "core"}],
    )["component"]
    arn = f"arn:aws:proton:{REGION}:{ACCOUNT}:component/cache"
    assert created["arn"] == arn
    assert created["deploymentStatus"] == "IN_PROGRESS"
    assert created["environmentName"] == "dev" and "serviceName" not in created
    assert created["description"] == "a queue"
    assert created["lastClientRequestToken"]
    assert created["lastDeploymentAttemptedAt"] == created["createdAt"] == created["lastModifiedAt"]
    proton.get_waiter("component_deployed").wait(name="cache", WaiterConfig=FAST)
    component = proton.get_component(name="cache")["component"]
    assert component["deploymentStatus"] == "SUCCEEDED"
    assert component["lastSucceededDeploymentId"] == created["lastAttemptedDeploymentId"]
    env_vpc = _outputs(proton.list_environment_outputs(environmentName="dev"))["VpcId"]
    outputs = _outputs(proton.list_component_outputs(componentName="cache"))
    assert outputs == {"ComponentQueue": "cache-dev", "Attachment": "detached", "EnvironmentVpc": env_vpc}
    resources = proton.list_component_provisioned_resources(componentName="cache")["provisionedResources"]
    assert [(r["name"], r["provisioningEngine"]) for r in resources] == [("Extra", "CLOUDFORMATION")]
    assert resources[0]["identifier"].endswith("/cache-dev")

    stack = _stack("cache")
    assert stack["StackName"].startswith("AWSProton-cache-component-")
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == {
        "proton:account": ACCOUNT,
        "proton:environment": f"arn:aws:proton:{REGION}:{ACCOUNT}:environment/dev",
        "proton:component": arn,
    }
    assert proton.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "core"}]

    deployment = proton.get_deployment(id=component["lastSucceededDeploymentId"], componentName="cache")[
        "deployment"
    ]
    assert deployment["targetResourceType"] == "COMPONENT"
    assert (deployment["targetArn"], deployment["componentName"], deployment["environmentName"]) == (
        arn,
        "cache",
        "dev",
    )
    assert deployment["targetState"] == {"component": {"templateFile": TEMPLATE}}
    assert "initialState" not in deployment
    code, _ = _error(proton.get_deployment, id=deployment["id"], componentName="other")
    assert code == "ResourceNotFoundException"
    listed = proton.list_deployments(componentName="cache")["deployments"]
    assert [d["id"] for d in listed] == [deployment["id"]]
    counts = proton.get_resources_summary()["counts"]
    assert counts["components"] == {"total": 1, "failed": 0}

    # A render failure ends the deployment FAILED and keeps the outputs of the last success.
    broken = TEMPLATE.replace("{{ environment.outputs.VpcId }}", "{{ environment.outputs.Missing }}")
    proton.update_component(name="cache", deploymentType="CURRENT_VERSION", templateFile=broken)
    with pytest.raises(Exception, match="FAILED"):
        proton.get_waiter("component_deployed").wait(name="cache", WaiterConfig=FAST)
    component = proton.get_component(name="cache")["component"]
    assert component["deploymentStatusMessage"] == (
        "cloudformation.yaml, line 16: environment.outputs.Missing is not defined"
    )
    assert _outputs(proton.list_component_outputs(componentName="cache")) == outputs
    assert proton.get_resources_summary()["counts"]["components"] == {"total": 1, "failed": 1}
    first = deployment["id"]
    assert _outputs(proton.list_component_outputs(componentName="cache", deploymentId=first)) == outputs
    assert (
        proton.list_component_outputs(
            componentName="cache", deploymentId=component["lastAttemptedDeploymentId"]
        )["outputs"]
        == []
    )
    code, message = _error(proton.delete_deployment, id=first)
    assert (code, message) == (
        "ValidationException",
        f"Deployment {first} is the last successful deployment of component cache; it cannot be deleted.",
    )

    code, message = _error(proton.delete_environment, name="dev")
    assert (code, message) == (
        "ConflictException",
        "Environment dev has components (component cache); delete them first.",
    )
    deleting = proton.delete_component(name="cache")["component"]
    assert deleting["deploymentStatus"] == "DELETE_IN_PROGRESS"
    proton.get_waiter("component_deleted").wait(name="cache", WaiterConfig=FAST)
    code, message = _error(proton.get_component, name="cache")
    assert (code, message) == ("ResourceNotFoundException", f"The requested component does not exist: {arn}")
    gone = _cloudformation().describe_stacks(StackName=stack["StackId"])["Stacks"][0]
    assert gone["StackStatus"] == "DELETE_COMPLETE"
    operations = [
        d["deploymentStatus"] for d in proton.list_deployments(componentName="cache")["deployments"]
    ]
    assert operations == ["DELETE_COMPLETE", "FAILED", "SUCCEEDED"]
    code, _ = _error(proton.list_tags_for_resource, resourceArn=arn)
    assert code == "ResourceNotFoundException"


@sqlite_only
def test_attached_component_feeds_its_service_instance(proton: Any, s3: Any, worker: Any) -> None:
    _environment(proton, s3, componentRoleArn=COMPONENT_ROLE)
    _service(proton, s3)
    assert _outputs(proton.list_service_instance_outputs(serviceName="api", serviceInstanceName="front")) == {
        "QueueName": "api-front-8080",
        "ComponentName": "none",
        "ComponentAttachment": "none",
    }
    created = proton.create_component(
        name="comp",
        serviceName="api",
        serviceInstanceName="front",
        serviceSpec=COMPONENT_SPEC,
        manifest=MANIFEST,
        templateFile=TEMPLATE,
    )["component"]
    assert (created["environmentName"], created["serviceName"], created["serviceInstanceName"]) == (
        "dev",
        "api",
        "front",
    )
    assert created["serviceSpec"] == COMPONENT_SPEC
    code, message = _error(
        proton.create_component,
        name="other",
        serviceName="api",
        serviceInstanceName="front",
        manifest=MANIFEST,
        templateFile=TEMPLATE,
    )
    assert (code, message) == (
        "ConflictException",
        "Service instance front of service api already has component comp attached; a service instance "
        "can have one component.",
    )
    proton.get_waiter("component_deployed").wait(name="comp", WaiterConfig=FAST)
    assert _outputs(proton.list_component_outputs(componentName="comp")) == {
        "ComponentQueue": "comp-dev",
        "Attachment": "api-front-7070",
        "EnvironmentVpc": _outputs(proton.list_environment_outputs(environmentName="dev"))["VpcId"],
    }
    tags = {t["Key"]: t["Value"] for t in _stack("comp")["Tags"]}
    assert tags["proton:service"] == f"arn:aws:proton:{REGION}:{ACCOUNT}:service/api"
    assert tags["proton:service-instance"] == (
        f"arn:aws:proton:{REGION}:{ACCOUNT}:service/api/service-instance/front"
    )

    # The instance sees the component's outputs at its next deployment.
    proton.update_service_instance(serviceName="api", name="front", deploymentType="CURRENT_VERSION")
    proton.get_waiter("service_instance_deployed").wait(serviceName="api", name="front", WaiterConfig=FAST)
    assert _outputs(proton.list_service_instance_outputs(serviceName="api", serviceInstanceName="front")) == {
        "QueueName": "api-front-8080",
        "ComponentName": "comp",
        "ComponentAttachment": "api-front-7070",
    }

    def names(**filters: str) -> list[str]:
        return [c["name"] for c in proton.list_components(**filters)["components"]]

    assert names(environmentName="dev") == ["comp"]
    assert names(serviceName="api") == ["comp"]
    assert names(serviceName="api", serviceInstanceName="front") == ["comp"]
    assert names(serviceName="api", serviceInstanceName="back") == []
    assert names(environmentName="elsewhere") == []
    code, message = _error(proton.list_components, serviceInstanceName="front")
    assert (code, message) == ("ValidationException", "serviceInstanceName needs serviceName.")
    summary = proton.list_components()["components"][0]
    assert "serviceSpec" not in summary and "description" not in summary

    # Delete guards; nothing changes on a refusal.
    before = proton.get_component(name="comp")["component"]
    code, message = _error(proton.delete_component, name="comp")
    assert (code, message) == (
        "ConflictException",
        "Component comp is attached to service instance front of service api; detach it (UpdateComponent "
        "with empty serviceName and serviceInstanceName) before deleting it.",
    )
    code, message = _error(proton.delete_service, name="api")
    assert (code, message) == (
        "ConflictException",
        "Service api cannot be deleted: component comp is attached to service instance front; "
        f"{DETACH_FIRST}.",
    )
    only_back = "proton: ServiceSpec\ninstances:\n  - name: back\n    environment: dev\n"
    code, message = _error(proton.update_service, name="api", spec=only_back)
    assert (code, message) == (
        "ConflictException",
        "Service api cannot remove service instance front: component comp is attached to it; "
        f"{DETACH_FIRST}.",
    )
    assert proton.get_service(name="api")["service"]["status"] == "ACTIVE"
    assert [i["name"] for i in proton.list_service_instances(serviceName="api")["serviceInstances"]] == [
        "back",
        "front",
    ]

    # Update rules.
    code, message = _error(
        proton.update_component,
        name="comp",
        deploymentType="CURRENT_VERSION",
        serviceName="api",
        serviceInstanceName="back",
    )
    assert (code, message) == (
        "ConflictException",
        "Component comp is attached to service instance front of service api; detach it first (empty "
        "serviceName and serviceInstanceName) before attaching it to another service instance.",
    )
    code, message = _error(proton.update_component, name="comp", deploymentType="NONE", serviceName="")
    assert (code, message) == (
        "ValidationException",
        "deploymentType NONE can only change the description of a component; serviceName need "
        "deploymentType CURRENT_VERSION.",
    )
    code, message = _error(
        proton.update_component, name="comp", deploymentType="CURRENT_VERSION", serviceName=""
    )
    assert (code, message) == (
        "ValidationException",
        "Specify non-empty serviceName and serviceInstanceName to attach the component, empty strings for "
        "both to detach it, or neither to keep its attachment.",
    )
    assert proton.get_component(name="comp")["component"] == before
    described = proton.update_component(name="comp", deploymentType="NONE", description="extra queue")[
        "component"
    ]
    assert described["description"] == "extra queue"
    assert described["lastAttemptedDeploymentId"] == before["lastAttemptedDeploymentId"]
    assert described["deploymentStatus"] == "SUCCEEDED"

    # Detach: the component renders without the instance; the instance keeps rendering until redeployed.
    detached = proton.update_component(
        name="comp", deploymentType="CURRENT_VERSION", serviceName="", serviceInstanceName=""
    )["component"]
    assert detached["deploymentStatus"] == "IN_PROGRESS"
    assert "serviceName" not in detached and "serviceSpec" not in detached
    proton.get_waiter("component_deployed").wait(name="comp", WaiterConfig=FAST)
    assert _outputs(proton.list_component_outputs(componentName="comp"))["Attachment"] == "detached"
    code, message = _error(
        proton.update_component, name="comp", deploymentType="CURRENT_VERSION", serviceSpec=COMPONENT_SPEC
    )
    assert (code, message) == (
        "ValidationException",
        "serviceSpec can only be given when the component is attached to a service instance.",
    )

    # Attach to another instance without a serviceSpec: the component reads that instance's inputs.
    attached = proton.update_component(
        name="comp", deploymentType="CURRENT_VERSION", serviceName="api", serviceInstanceName="back"
    )["component"]
    proton.get_waiter("component_deployed").wait(name="comp", WaiterConfig=FAST)
    assert _outputs(proton.list_component_outputs(componentName="comp"))["Attachment"] == "api-back-80"
    record = proton.get_deployment(id=attached["lastAttemptedDeploymentId"])["deployment"]
    assert (record["serviceName"], record["serviceInstanceName"], record["componentName"]) == (
        "api",
        "back",
        "comp",
    )
    assert record["targetState"] == {
        "component": {"serviceName": "api", "serviceInstanceName": "back", "templateFile": TEMPLATE}
    }
    assert record["initialState"] == {"component": {"templateFile": TEMPLATE}}
    proton.update_service_instance(serviceName="api", name="front", deploymentType="CURRENT_VERSION")
    proton.get_waiter("service_instance_deployed").wait(serviceName="api", name="front", WaiterConfig=FAST)
    assert (
        _outputs(proton.list_service_instance_outputs(serviceName="api", serviceInstanceName="front"))[
            "ComponentAttachment"
        ]
        == "none"
    )


@sqlite_only
def test_component_requests_refused_and_cancel(proton: Any, s3: Any, worker: Any, runtime: Runtime) -> None:
    _environment(proton, s3, componentRoleArn=COMPONENT_ROLE)
    _service(proton, s3)
    worker.stop()
    base = {"manifest": MANIFEST, "templateFile": TEMPLATE}
    refusals = [
        (
            {"name": "c", "serviceName": "api", **base},
            "ValidationException",
            "Specify both serviceName and serviceInstanceName to attach the component, or neither.",
        ),
        (
            {"name": "c", **base},
            "ValidationException",
            "Specify environmentName for a detached component, or serviceName and serviceInstanceName to "
            "attach it to a service instance.",
        ),
        (
            {"name": "c", "environmentName": "dev", "serviceSpec": COMPONENT_SPEC, **base},
            "ValidationException",
            "serviceSpec can only be given when the component is attached to a service instance.",
        ),
        (
            {"name": "c", "environmentName": "nowhere", **base},
            "ResourceNotFoundException",
            "The requested environment does not exist: "
            f"arn:aws:proton:{REGION}:{ACCOUNT}:environment/nowhere",
        ),
        (
            {"name": "c", "serviceName": "api", "serviceInstanceName": "gone", **base},
            "ResourceNotFoundException",
            f"The requested service instance does not exist: "
            f"arn:aws:proton:{REGION}:{ACCOUNT}:service/api/service-instance/gone",
        ),
        (
            {
                "name": "c",
                "serviceName": "api",
                "serviceInstanceName": "front",
                "environmentName": "qa",
                **base,
            },
            "ValidationException",
            "Service instance front of service api runs in environment dev, not qa.",
        ),
        (
            {
                "name": "c",
                "serviceName": "api",
                "serviceInstanceName": "front",
                "serviceSpec": "port: eighty\n",
                **base,
            },
            "ValidationException",
            "Invalid spec for component c: input 'port' must be of type number",
        ),
        (
            {
                "name": "c",
                "environmentName": "dev",
                "manifest": "infrastructure:\n  templates:\n    - rendering_engine: codebuild\n"
                "      settings:\n        provision: [make]\n",
                "templateFile": TEMPLATE,
            },
            "ValidationException",
            "manifest: components cannot use rendering_engine codebuild; use jinja (CloudFormation) or hcl "
            "(Terraform)",
        ),
        (
            {
                "name": "c",
                "environmentName": "dev",
                "manifest": MANIFEST.replace("      template_language: cloudformation\n", ""),
                "templateFile": TEMPLATE,
            },
            "ValidationException",
            "manifest: rendering_engine jinja needs template_language: cloudformation (it is missing)",
        ),
    ]
    for request, expected_code, expected_message in refusals:
        assert _error(proton.create_component, **request) == (expected_code, expected_message), request
    proton.update_service_template_version(
        templateName="api-svc", majorVersion="1", minorVersion="0", supportedComponentSources=[]
    )
    code, message = _error(
        proton.create_component, name="c", serviceName="api", serviceInstanceName="front", **base
    )
    assert (code, message) == (
        "ValidationException",
        "Service instance front of service api runs version 1.0 of service template api-svc, whose "
        "supportedComponentSources does not include DIRECTLY_DEFINED.",
    )
    proton.update_service_template_version(
        templateName="api-svc",
        majorVersion="1",
        minorVersion="0",
        supportedComponentSources=["DIRECTLY_DEFINED"],
    )
    runtime.quotas = dataclasses.replace(runtime.quotas, components=0)
    code, message = _error(proton.create_component, name="c", environmentName="dev", **base)
    assert (code, message) == (
        "ServiceQuotaExceededException",
        "You have reached the quota of 0 components in this account and region.",
    )
    runtime.quotas = dataclasses.replace(runtime.quotas, components=100)
    assert proton.list_components()["components"] == []
    assert proton.list_deployments(componentName="c")["deployments"] == []

    # While the component deploys, neither it nor its instance can be updated.
    created = proton.create_component(
        name="c", serviceName="api", serviceInstanceName="front", clientToken="token-1", **base
    )["component"]
    assert created["lastClientRequestToken"] == "token-1"
    again = proton.create_component(
        name="c", serviceName="api", serviceInstanceName="front", clientToken="token-1", **base
    )["component"]
    assert again == created
    code, message = _error(proton.create_component, name="c", environmentName="dev", **base)
    assert (code, message) == ("ConflictException", "A component named c already exists.")
    code, message = _error(proton.update_component, name="c", deploymentType="CURRENT_VERSION")
    assert (code, message) == (
        "ConflictException",
        "Component c has a deployment in progress (IN_PROGRESS); wait for it to finish or cancel it.",
    )
    arn = f"arn:aws:proton:{REGION}:{ACCOUNT}:component/c"
    code, message = _error(
        proton.notify_resource_deployment_status_change, resourceArn=arn, status="SUCCEEDED"
    )
    assert (code, message) == (
        "ValidationException",
        f"{arn} is provisioned through CloudFormation; its deployment status comes from its stack, not from "
        "notifications.",
    )
    code, message = _error(
        proton.update_service_instance, serviceName="api", name="front", deploymentType="CURRENT_VERSION"
    )
    assert (code, message) == (
        "ConflictException",
        "Component c, attached to service instance front, has a deployment in progress (IN_PROGRESS); "
        "wait for it to finish.",
    )
    cancelling = proton.cancel_component_deployment(componentName="c")["component"]
    assert cancelling["deploymentStatus"] == "CANCELLING"
    code, message = _error(proton.cancel_component_deployment, componentName="c")
    assert (code, message) == (
        "ConflictException",
        "Component c has no deployment in progress to cancel (CANCELLING).",
    )
    _settle(runtime)
    component = proton.get_component(name="c")["component"]
    assert (component["deploymentStatus"], component["deploymentStatusMessage"]) == (
        "CANCELLED",
        "User initiated cancellation.",
    )
    record = proton.get_deployment(id=component["lastAttemptedDeploymentId"])["deployment"]
    assert record["deploymentStatus"] == "CANCELLED"

    # While the attached instance deploys, the component cannot be updated.
    proton.update_service_instance(serviceName="api", name="front", deploymentType="CURRENT_VERSION")
    code, message = _error(proton.update_component, name="c", deploymentType="NONE", description="x")
    assert (code, message) == (
        "ConflictException",
        "Service instance front of service api, which component c is attached to, has a deployment in "
        "progress (IN_PROGRESS); wait for it to finish.",
    )
    proton.cancel_service_instance_deployment(serviceName="api", serviceInstanceName="front")
    _settle(runtime)
    assert proton.get_component(name="c")["component"]["deploymentStatus"] == "CANCELLED"

    # A cancelled component deploys again with CURRENT_VERSION.
    engine = Worker(runtime, concurrency=2, poll_interval=0.05)
    engine.start()
    try:
        proton.update_component(name="c", deploymentType="CURRENT_VERSION")
        proton.get_waiter("component_deployed").wait(name="c", WaiterConfig=FAST)
    finally:
        engine.stop()
    assert _outputs(proton.list_component_outputs(componentName="c"))["Attachment"] == "api-front-8080"
