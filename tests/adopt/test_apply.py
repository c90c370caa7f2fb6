"""Applying an adoption plan to stacks made exactly as Proton named and tagged them: every record,
output, provisioned resource and deployment as the Proton API shows them, the stacks untouched,
applying twice changes nothing, and the next deployments update the same stacks."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from baryon.adopt.apply import ALREADY_ADOPTED, CREATED, apply_plan
from baryon.adopt.plan import Binding, Output, Plan, ProvisionedResource, Resource
from baryon.runtime import Runtime
from tests.conftest import ACCOUNT, OTHER_ACCOUNT
from tests.support import bundles
from tests.support.clients import as_role
from tests.support.errors import error_of
from tests.support.publishing import publish_environment_template, publish_service_template
from tests.support.waiters import FAST

REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/proton-service"
ENV_SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.1.0.0/16\n"
NEW_ENV_SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.2.0.0/16\n"
SERVICE_SPEC = """proton: ServiceSpec
pipeline:
  dockerfile: Dockerfile
instances:
  - name: front
    environment: dev
    spec:
      port: 8080
"""
ENV_BODY = bundles.CFN_ENV.replace("{{ environment.inputs.vpc_cidr }}", "10.1.0.0/16")
INSTANCE_BODY = """Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: 'api-front-8080'
Outputs:
  QueueName:
    Value: !GetAtt Queue.QueueName
"""
PIPELINE_BODY = """Resources:
  Queue1:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: 'pipeline-front-dockerfile'
Outputs:
  Instances:
    Value: 'front'
"""
COMPONENT_BODY = """Resources:
  Extra:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: 'cache-dev'
Outputs:
  ComponentQueue:
    Value: !GetAtt Extra.QueueName
"""
NEW_COMPONENT_BODY = COMPONENT_BODY.replace("cache-dev", "cache-{{ environment.name }}-v2")
COMPONENT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/proton-component"


def _arn(resource: str) -> str:
    return f"arn:aws:proton:{REGION}:{ACCOUNT}:{resource}"


def _proton_stack(cf: Any, name: str, body: str, **tags: str) -> dict[str, Any]:
    """A stack as Proton left it: its name, its `proton:*` tags; returns it as DescribeStacks shows it."""
    tagged = {"proton:account": ACCOUNT, **{f"proton:{k.replace('_', '-')}": v for k, v in tags.items()}}
    cf.create_stack(
        StackName=name, TemplateBody=body, Tags=[{"Key": k, "Value": v} for k, v in tagged.items()]
    )
    stack: dict[str, Any] = cf.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return stack


def _binding(stack: dict[str, Any]) -> Binding:
    return Binding(
        "cloudformation",
        cloud_account_id=ACCOUNT,
        region=REGION,
        stack_name=stack["StackName"],
        stack_id=stack["StackId"],
        stack_updated_at=stack["CreationTime"].timestamp(),
    )


def _read(cf: Any, stack: dict[str, Any]) -> dict[str, Any]:
    """Outputs and provisioned resources of a stack, as a reader puts them in a plan."""
    resources = cf.list_stack_resources(StackName=stack["StackId"])["StackResourceSummaries"]
    return {
        "outputs": tuple(Output(o["OutputKey"], o["OutputValue"]) for o in stack.get("Outputs", [])),
        "provisioned_resources": tuple(
            ProvisionedResource(r["LogicalResourceId"], r["PhysicalResourceId"]) for r in resources
        ),
    }


def _snapshot(cf: Any, stack_id: str) -> tuple[Any, ...]:
    stack = cf.describe_stacks(StackName=stack_id)["Stacks"][0]
    body = cf.get_template(StackName=stack_id)["TemplateBody"]
    return stack["StackId"], stack["StackStatus"], stack.get("LastUpdatedTime"), str(body)


@pytest.fixture
def stacks(proton: Any, s3: Any, worker: Any, cloudformation_of_account: Any) -> dict[str, dict[str, Any]]:
    """Templates registered in Baryon and an environment, an instance and a pipeline left by Proton."""
    publish_environment_template(proton, s3, "vpc-env", bundles.environment_bundle())
    publish_service_template(proton, s3, "queue-svc", bundles.service_bundle())
    cf = cloudformation_of_account
    env_tags = {
        "template": _arn("environment-template/vpc-env"),
        "environment": _arn("environment/dev"),
    }
    return {
        "dev": _proton_stack(cf, "AWSProton-dev-cloudformation-K3J2H1G5", ENV_BODY, **env_tags),
        "front": _proton_stack(
            cf,
            "AWSProton-api-front-cloudformation-Q9W8E7R6",
            INSTANCE_BODY,
            template=_arn("service-template/queue-svc"),
            environment=_arn("environment/dev"),
            service=_arn("service/api"),
            service_instance=_arn("service/api/service-instance/front"),
        ),
        "pipeline": _proton_stack(
            cf,
            "AWSProton-api-cloudformation-pipeline-Z1X2C3V4",
            PIPELINE_BODY,
            template=_arn("service-template/queue-svc"),
            service=_arn("service/api"),
        ),
        "cache": _proton_stack(
            cf,
            "AWSProton-cache-cloudformation-M4N5B6V7",
            COMPONENT_BODY,
            environment=_arn("environment/dev"),
            component=_arn("component/cache"),
        ),
    }


def _plan(cf: Any, stacks: dict[str, dict[str, Any]], *, instance_spec: str | None) -> Plan:
    dev, front, pipeline, cache = stacks["dev"], stacks["front"], stacks["pipeline"], stacks["cache"]
    version = {"template_major": "1", "template_minor": "0"}
    return Plan(
        ACCOUNT,
        REGION,
        [
            Resource(
                "environment",
                "dev",
                "vpc-env",
                **version,
                binding=_binding(dev),
                spec=ENV_SPEC,
                proton_arn=_arn("environment/dev"),
                **_read(cf, dev),
            ),
            Resource("service", "api", "queue-svc", **version, binding=None, spec=SERVICE_SPEC),
            Resource(
                "service-instance",
                "front",
                "queue-svc",
                **version,
                binding=_binding(front),
                service="api",
                environment="dev",
                spec=instance_spec,
                **_read(cf, front),
            ),
            Resource(
                "service-pipeline",
                "pipeline",
                "queue-svc",
                **version,
                binding=_binding(pipeline),
                service="api",
                spec=SERVICE_SPEC,
                **_read(cf, pipeline),
            ),
            Resource(
                "component",
                "cache",
                None,
                None,
                None,
                binding=_binding(cache),
                environment="dev",
                **_read(cf, cache),
            ),
        ],
    )


def _outputs(answer: dict[str, Any]) -> dict[str, str]:
    return {o["key"]: o["valueString"] for o in answer["outputs"]}


def test_adopted_records_are_bound_to_the_untouched_stacks(
    proton: Any, runtime: Runtime, stacks: dict[str, dict[str, Any]], cloudformation_of_account: Any
) -> None:
    cf = cloudformation_of_account
    before = {name: _snapshot(cf, stack["StackId"]) for name, stack in stacks.items()}
    report = apply_plan(runtime, _plan(cf, stacks, instance_spec=SERVICE_SPEC))
    assert [(e.kind, e.name, e.outcome) for e in report.created] == [
        ("environment", "dev", CREATED),
        ("service", "api", CREATED),
        ("service-instance", "api/front", CREATED),
        ("service-pipeline", "api", CREATED),
        ("component", "cache", CREATED),
    ]
    assert report.refused == [] and report.unchanged == []

    env = proton.get_environment(name="dev")["environment"]
    assert env["arn"] == _arn("environment/dev")
    assert (env["templateName"], env["templateMajorVersion"], env["templateMinorVersion"]) == (
        "vpc-env",
        "1",
        "0",
    )
    assert env["deploymentStatus"] == "SUCCEEDED" and env["spec"] == ENV_SPEC
    vpc = stacks["dev"]["Outputs"][0]["OutputValue"]
    assert _outputs(proton.list_environment_outputs(environmentName="dev")) == {"VpcId": vpc}
    resources = proton.list_environment_provisioned_resources(environmentName="dev")["provisionedResources"]
    assert resources == [{"name": "VPC", "identifier": vpc, "provisioningEngine": "CLOUDFORMATION"}]
    deployment = proton.get_deployment(id=env["lastSucceededDeploymentId"])["deployment"]
    assert deployment["deploymentStatus"] == "SUCCEEDED"
    assert deployment["deploymentStatusMessage"] == (
        f"Adopted from CloudFormation stack {stacks['dev']['StackName']} ({stacks['dev']['StackId']}); "
        "nothing was changed."
    )
    assert deployment["targetArn"] == env["arn"] and deployment["targetResourceType"] == "ENVIRONMENT"
    by_deployment = proton.list_environment_outputs(environmentName="dev", deploymentId=deployment["id"])
    assert _outputs(by_deployment) == {"VpcId": vpc}

    service = proton.get_service(name="api")["service"]
    assert service["status"] == "ACTIVE" and service["spec"] == SERVICE_SPEC
    assert service["templateName"] == "queue-svc"
    listed = proton.list_service_instances(serviceName="api")["serviceInstances"]
    assert [(i["name"], i["environmentName"], i["deploymentStatus"]) for i in listed] == [
        ("front", "dev", "SUCCEEDED")
    ]
    instance = proton.get_service_instance(serviceName="api", name="front")["serviceInstance"]
    assert instance["arn"] == _arn("service/api/service-instance/front")
    assert (instance["templateMajorVersion"], instance["templateMinorVersion"]) == ("1", "0")
    assert _outputs(proton.list_service_instance_outputs(serviceName="api", serviceInstanceName="front")) == {
        "QueueName": "api-front-8080"
    }
    assert service["pipeline"]["deploymentStatus"] == "SUCCEEDED"
    assert _outputs(proton.list_service_pipeline_outputs(serviceName="api")) == {"Instances": "front"}
    pipeline_resources = proton.list_service_pipeline_provisioned_resources(serviceName="api")
    assert [r["name"] for r in pipeline_resources["provisionedResources"]] == ["Queue1"]
    listed_deployments = proton.list_deployments()["deployments"]
    assert len(listed_deployments) == 4
    component = proton.get_component(name="cache")["component"]
    assert component["environmentName"] == "dev" and component["deploymentStatus"] == "SUCCEEDED"
    assert _outputs(proton.list_component_outputs(componentName="cache")) == {"ComponentQueue": "cache-dev"}
    assert all(d["deploymentStatus"] == "SUCCEEDED" for d in listed_deployments)

    counts = proton.get_resources_summary()["counts"]
    assert counts["environments"]["total"] == 1 and counts["environments"]["upToDate"] == 1
    assert counts["services"]["total"] == 1
    assert counts["serviceInstances"]["total"] == 1
    assert counts["pipelines"]["total"] == 1
    assert counts["components"] == {"total": 1, "failed": 0}

    assert {name: _snapshot(cf, stack["StackId"]) for name, stack in stacks.items()} == before

    # Applying the same plan again changes nothing.
    again = apply_plan(runtime, _plan(cf, stacks, instance_spec=SERVICE_SPEC))
    assert again.created == [] and again.refused == []
    assert {(e.kind, e.name) for e in again.unchanged} == {
        ("environment", "dev"),
        ("service", "api"),
        ("service-instance", "api/front"),
        ("service-pipeline", "api"),
        ("component", "cache"),
    }
    assert all(e.outcome == ALREADY_ADOPTED for e in again.unchanged)
    assert proton.get_environment(name="dev")["environment"] == env
    assert len(proton.list_deployments()["deployments"]) == 4
    assert {name: _snapshot(cf, stack["StackId"]) for name, stack in stacks.items()} == before


def test_next_deployments_update_the_same_stacks(
    proton: Any,
    runtime: Runtime,
    worker: Any,
    stacks: dict[str, dict[str, Any]],
    cloudformation_of_account: Any,
) -> None:
    cf = cloudformation_of_account
    apply_plan(runtime, _plan(cf, stacks, instance_spec=None))
    before = {name: _snapshot(cf, stack["StackId"]) for name, stack in stacks.items()}

    # Proton's service role is not in the stacks: the environment is given one without deploying.
    proton.update_environment(
        name="dev", deploymentType="NONE", protonServiceRoleArn=ROLE, componentRoleArn=COMPONENT_ROLE
    )

    # The instance was adopted without its spec: an update without one is refused, with one it deploys.
    refused = error_of(
        lambda: proton.update_service_instance(
            serviceName="api", name="front", deploymentType="CURRENT_VERSION"
        )
    )
    assert refused == (
        "ValidationException",
        f"Service instance front was adopted from CloudFormation stack {stacks['front']['StackName']} "
        "without its spec, so it cannot be deployed without one; give its spec: aws proton "
        "update-service-instance --service-name api --name front --spec file://spec.yaml "
        "--deployment-type CURRENT_VERSION",
    )
    proton.update_service_instance(
        serviceName="api", name="front", deploymentType="CURRENT_VERSION", spec=SERVICE_SPEC
    )
    proton.get_waiter("service_instance_deployed").wait(serviceName="api", name="front", WaiterConfig=FAST)
    stack_id, status, _, body = _snapshot(cf, stacks["front"]["StackId"])
    assert stack_id == stacks["front"]["StackId"] and status == "UPDATE_COMPLETE"
    assert body != before["front"][3]
    outputs = _outputs(proton.list_service_instance_outputs(serviceName="api", serviceInstanceName="front"))
    environment_outputs = _outputs(proton.list_environment_outputs(environmentName="dev"))
    assert outputs["EnvironmentVpc"] == environment_outputs["VpcId"]
    # The mark is cleared: an update without a spec now deploys.
    proton.update_service_instance(serviceName="api", name="front", deploymentType="CURRENT_VERSION")
    proton.get_waiter("service_instance_deployed").wait(serviceName="api", name="front", WaiterConfig=FAST)
    names = [s["StackName"] for s in cf.describe_stacks()["Stacks"]]
    assert sorted(names) == sorted(stack["StackName"] for stack in stacks.values())

    proton.update_environment(name="dev", spec=NEW_ENV_SPEC, deploymentType="CURRENT_VERSION")
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    stack_id, status, _, body = _snapshot(cf, stacks["dev"]["StackId"])
    # (the local cloud records no LastUpdatedTime; the status and the template show the update)
    assert stack_id == stacks["dev"]["StackId"] and status == "UPDATE_COMPLETE"
    assert "10.2.0.0/16" in body and body != before["dev"][3]
    assert proton.get_environment(name="dev")["environment"]["spec"] == NEW_ENV_SPEC
    names = [s["StackName"] for s in cf.describe_stacks()["Stacks"]]
    assert sorted(names) == sorted(stack["StackName"] for stack in stacks.values())

    # A component's next deployment updates its stack too (it must give the template file adoption did
    # not know), and deleting it deletes that stack.
    assert error_of(
        lambda: proton.update_component(name="cache", deploymentType="CURRENT_VERSION", description="x")
    ) == (
        "ValidationException",
        f"Component cache was adopted from CloudFormation stack {stacks['cache']['StackName']} without its "
        "template file, so it cannot be deployed without one; give it: aws proton update-component "
        "--name cache --template-file file://cloudformation.yaml --deployment-type CURRENT_VERSION",
    )
    proton.update_component(
        name="cache",
        deploymentType="CURRENT_VERSION",
        templateFile=NEW_COMPONENT_BODY,
    )
    proton.get_waiter("component_deployed").wait(name="cache", WaiterConfig=FAST)
    stack_id, status, _, body = _snapshot(cf, stacks["cache"]["StackId"])
    assert stack_id == stacks["cache"]["StackId"] and status == "UPDATE_COMPLETE"
    assert "cache-dev-v2" in body
    proton.delete_component(name="cache")
    proton.get_waiter("component_deleted").wait(name="cache", WaiterConfig=FAST)
    assert _snapshot(cf, stacks["cache"]["StackId"])[1] == "DELETE_COMPLETE"
    names = [s["StackName"] for s in cf.describe_stacks()["Stacks"]]
    assert sorted(names) == sorted(stacks[name]["StackName"] for name in ("dev", "front", "pipeline"))


def test_refusals_leave_nothing_behind(
    proton: Any, runtime: Runtime, stacks: dict[str, dict[str, Any]], cloudformation_of_account: Any
) -> None:
    cf = cloudformation_of_account
    apply_plan(runtime, _plan(cf, stacks, instance_spec=SERVICE_SPEC))
    other = _proton_stack(
        cf, "AWSProton-dev-cloudformation-A1B2C3D4", ENV_BODY, environment=_arn("environment/dev")
    )
    missing = _proton_stack(
        cf, "AWSProton-qa-cloudformation-E5F6G7H8", ENV_BODY, environment=_arn("environment/qa")
    )
    plan = Plan(
        ACCOUNT,
        REGION,
        [
            Resource("environment", "dev", "vpc-env", "1", "0", _binding(other), spec=ENV_SPEC),
            Resource("environment", "qa", "vpc-env", "3", "0", _binding(missing), spec=ENV_SPEC),
            Resource("service", "web", "queue-svc", "1", "0", None, spec=SERVICE_SPEC),
            Resource(
                "service-instance",
                "one",
                "queue-svc",
                "1",
                "0",
                _binding(stacks["front"]),
                service="web",
                environment="qa",
            ),
        ],
    )
    report = apply_plan(runtime, plan)
    assert report.created == [] and report.unchanged == []
    reasons = {(e.kind, e.name): e.reason for e in report.refused}
    assert reasons[("environment", "dev")] == (
        f"Environment dev already exists (bound to stack {stacks['dev']['StackName']}); it was left as it is."
    )
    assert reasons[("environment", "qa")] == (
        f"version 3.0 of environment template vpc-env is not registered and published in account {ACCOUNT} "
        f"region {REGION}; register it first."
    )
    assert (
        reasons[("service", "web")]
        == reasons[("service-instance", "web/one")]
        == (
            "service instance web/one: its environment qa does not exist in Baryon; adopt it first. "
            "Nothing of service web was adopted."
        )
    )
    assert [e["name"] for e in proton.list_environments()["environments"]] == ["dev"]
    assert [s["name"] for s in proton.list_services()["services"]] == ["api"]


def test_an_environment_in_another_account_is_adopted_with_its_connection(
    proton: Any, other_account_proton: Any, runtime: Runtime, worker: Any, s3: Any, moto_endpoint: str
) -> None:
    publish_environment_template(proton, s3, "vpc-env", bundles.environment_bundle())
    env_cf = as_role(
        "cloudformation", moto_endpoint, REGION, f"arn:aws:iam::{OTHER_ACCOUNT}:role/test", "test"
    )
    for page in env_cf.get_paginator("list_stacks").paginate():
        for summary in page["StackSummaries"]:
            if summary["StackStatus"] != "DELETE_COMPLETE":
                env_cf.delete_stack(StackName=summary["StackId"])
    connection_id = other_account_proton.create_environment_account_connection(
        managementAccountId=ACCOUNT,
        environmentName="prod",
        roleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/proton-environment",
    )["environmentAccountConnection"]["id"]
    proton.accept_environment_account_connection(id=connection_id)
    stack = _proton_stack(
        env_cf,
        "AWSProton-prod-cloudformation-P0O9I8U7",
        ENV_BODY,
        template=_arn("environment-template/vpc-env"),
        environment=_arn("environment/prod"),
    )
    binding = _binding(stack)
    resource = Resource(
        "environment",
        "prod",
        "vpc-env",
        "1",
        "0",
        Binding(
            "cloudformation",
            cloud_account_id=OTHER_ACCOUNT,
            region=REGION,
            stack_name=binding.stack_name,
            stack_id=binding.stack_id,
        ),
        spec=ENV_SPEC,
        environment_account_connection_id=connection_id,
        **_read(env_cf, stack),
    )
    elsewhere = Binding("cloudformation", cloud_account_id="333333333333", region=REGION, stack_name="X")
    wrong = apply_plan(runtime, Plan(ACCOUNT, REGION, [dataclasses.replace(resource, binding=elsewhere)]))
    assert [e.reason for e in wrong.refused] == [
        f"its stack is in account 333333333333, but environment account connection {connection_id} "
        f"deploys into account {OTHER_ACCOUNT}."
    ]
    assert proton.list_environments()["environments"] == []

    report = apply_plan(runtime, Plan(ACCOUNT, REGION, [resource]))
    assert [(e.name, e.outcome) for e in report.created] == [("prod", CREATED)]
    env = proton.get_environment(name="prod")["environment"]
    assert env["environmentAccountConnectionId"] == connection_id
    assert env["environmentAccountId"] == OTHER_ACCOUNT
    assert _outputs(proton.list_environment_outputs(environmentName="prod")) == {
        "VpcId": stack["Outputs"][0]["OutputValue"]
    }

    proton.update_environment(name="prod", spec=NEW_ENV_SPEC, deploymentType="CURRENT_VERSION")
    proton.get_waiter("environment_deployed").wait(name="prod", WaiterConfig=FAST)
    stack_id, status, _, body = _snapshot(env_cf, stack["StackId"])
    assert stack_id == stack["StackId"] and status == "UPDATE_COMPLETE" and "10.2.0.0/16" in body
    assert [s["StackName"] for s in env_cf.describe_stacks()["Stacks"]] == [stack["StackName"]]


def test_an_environment_adopted_without_its_spec_deploys_once_given_one(
    proton: Any, runtime: Runtime, stacks: dict[str, dict[str, Any]], cloudformation_of_account: Any
) -> None:
    cf = cloudformation_of_account
    dev = stacks["dev"]
    resource = Resource("environment", "dev", "vpc-env", "1", "0", _binding(dev), **_read(cf, dev))
    apply_plan(runtime, Plan(ACCOUNT, REGION, [resource]))
    assert "spec" not in proton.get_environment(name="dev")["environment"]
    update = {"name": "dev", "deploymentType": "CURRENT_VERSION", "protonServiceRoleArn": ROLE}
    assert error_of(lambda: proton.update_environment(**update)) == (
        "ValidationException",
        f"Environment dev was adopted from CloudFormation stack {dev['StackName']} without its spec, so it "
        "cannot be deployed without one; give its spec: aws proton update-environment --name dev "
        "--spec file://spec.yaml --deployment-type CURRENT_VERSION",
    )
    assert proton.get_environment(name="dev")["environment"]["deploymentStatus"] == "SUCCEEDED"
    proton.update_environment(**update, spec=NEW_ENV_SPEC)
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    stack_id, status, _, body = _snapshot(cf, dev["StackId"])
    assert stack_id == dev["StackId"] and status == "UPDATE_COMPLETE" and "10.2.0.0/16" in body
    assert proton.get_environment(name="dev")["environment"]["spec"] == NEW_ENV_SPEC
    # The mark is gone: an update without a spec deploys the spec it has.
    proton.update_environment(name="dev", deploymentType="CURRENT_VERSION")
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)


def test_a_service_with_25_instances_over_two_environments(
    proton: Any, runtime: Runtime, s3: Any, worker: Any, cloudformation_of_account: Any
) -> None:
    publish_environment_template(proton, s3, "vpc-env", bundles.environment_bundle())
    publish_service_template(proton, s3, "queue-svc", bundles.service_bundle())
    cf = cloudformation_of_account
    resources: list[Resource] = []
    for env in ("dev", "prod"):
        stack = _proton_stack(
            cf,
            f"AWSProton-{env}-cloudformation-ENV0{env.upper()}",
            ENV_BODY,
            template=_arn("environment-template/vpc-env"),
            environment=_arn(f"environment/{env}"),
        )
        resources.append(
            Resource(
                "environment", env, "vpc-env", "1", "0", _binding(stack), spec=ENV_SPEC, **_read(cf, stack)
            )
        )
    names = [f"i{n:02d}" for n in range(25)]
    spec = "proton: ServiceSpec\npipeline: {}\ninstances:\n" + "".join(
        f"  - name: {name}\n    environment: {'dev' if n % 2 else 'prod'}\n" for n, name in enumerate(names)
    )
    instances = []
    for n, name in enumerate(names):
        body = INSTANCE_BODY.replace("api-front-8080", f"many-{name}")
        stack = _proton_stack(
            cf,
            f"AWSProton-many-{name}-cloudformation-{n:08d}",
            body,
            template=_arn("service-template/queue-svc"),
            environment=_arn(f"environment/{'dev' if n % 2 else 'prod'}"),
            service=_arn("service/many"),
            service_instance=_arn(f"service/many/service-instance/{name}"),
        )
        instances.append(
            Resource(
                "service-instance",
                name,
                "queue-svc",
                "1",
                "0",
                _binding(stack),
                service="many",
                environment="dev" if n % 2 else "prod",
                spec=spec,
                **_read(cf, stack),
            )
        )
    service = Resource("service", "many", "queue-svc", "1", "0", None, spec=spec)
    first = apply_plan(runtime, Plan(ACCOUNT, REGION, [*resources, service, *instances[:20]]))
    assert len(first.created) == 23 and first.refused == []

    # Stacks found later join the adopted service; the rest is left as it is.
    second = apply_plan(runtime, Plan(ACCOUNT, REGION, [*resources, service, *instances]))
    assert [e.name for e in second.created] == [f"many/{name}" for name in names[20:]]
    assert len(second.unchanged) == 23 and second.refused == []
    listed = proton.list_service_instances(serviceName="many", maxResults=10)
    seen = [i["name"] for i in listed["serviceInstances"]]
    while "nextToken" in listed:
        listed = proton.list_service_instances(
            serviceName="many", maxResults=10, nextToken=listed["nextToken"]
        )
        seen += [i["name"] for i in listed["serviceInstances"]]
    assert seen == names
    prod = proton.list_service_instances(
        filters=[{"key": "environmentName", "value": "prod"}], serviceName="many"
    )["serviceInstances"]
    assert len(prod) == 13
    counts = proton.get_resources_summary()["counts"]
    assert counts["serviceInstances"]["total"] == 25 and counts["environments"]["total"] == 2
    outputs = proton.list_service_instance_outputs(serviceName="many", serviceInstanceName="i07")
    assert _outputs(outputs) == {"QueueName": "many-i07"}
