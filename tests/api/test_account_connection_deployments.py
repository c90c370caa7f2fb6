"""Environments provisioned in another account through an environment account connection, with two Baryon
accounts (management 111111111111, environment 222222222222) and the matching accounts of the local
cloud: the environment's stack, its service instances' and its components' land in the account of the
connection's roles (moto gives assumed-role credentials the role's account), the same-account environment's
stays in the management account, templates see the environment account's id, and the environment account
sees none of the management account's Proton resources. A role changed on the connection applies to the
next deployment; a deleted connection stops further deployments until a new one is given."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from baryon.engine.provisioners.cloudformation import stack_name
from baryon.runtime import Runtime
from tests.api.test_components import MANIFEST as COMPONENT_MANIFEST
from tests.api.test_environments import _found
from tests.conftest import ACCOUNT, OTHER_ACCOUNT
from tests.support import bundles
from tests.support.clients import as_role, in_process_client
from tests.support.errors import error_of
from tests.support.publishing import publish_environment_template, publish_service_template, upload
from tests.support.stepping import Engine
from tests.support.waiters import FAST
from tests.support.waiting import poll

MANAGEMENT = ACCOUNT
ENVIRONMENT = OTHER_ACCOUNT
THIRD = "333333333333"
REGION = "us-east-1"
SAME_ACCOUNT_ROLE = f"arn:aws:iam::{MANAGEMENT}:role/proton-service"
ROLE = f"arn:aws:iam::{ENVIRONMENT}:role/proton-environment"
COMPONENT_ROLE = f"arn:aws:iam::{ENVIRONMENT}:role/proton-component"
SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.1.0.0/16\n"

ENV_TEMPLATE = """Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: '{{ environment.inputs.vpc_cidr }}'
Outputs:
  VpcId:
    Value: !Ref VPC
  AccountId:
    Value: '{{ environment.account_id }}'
"""

INSTANCE_TEMPLATE = """Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: '{{ service.name }}-{{ service_instance.name }}'
Outputs:
  EnvironmentAccount:
    Value: '{{ environment.account_id }}'
"""

COMPONENT_TEMPLATE = """Resources:
  Extra:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: '{{ component.name }}-{{ environment.name }}'
Outputs:
  EnvironmentAccount:
    Value: '{{ environment.account_id }}'
"""

PIPELINE_TEMPLATE = """Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: 'pipeline-{{ service.name }}'
Outputs:
  Accounts:
    Value: '{% for i in service_instances %}{{ i.name }}={{ i.environment.account_id }};{% endfor %}'
"""

SERVICE_SPEC = """proton: ServiceSpec
pipeline: {}
instances:
  - name: front
    environment: prod
  - name: back
    environment: dev
"""


def _env_bundle() -> bytes:
    return bundles.tar_gz(
        {
            "schema/schema.yaml": bundles.ENV_SCHEMA,
            "infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
            "infrastructure/cloudformation.yaml": ENV_TEMPLATE,
        },
        "environment/",
    )


def _service_bundle() -> bytes:
    return bundles.tar_gz(
        {
            "schema/schema.yaml": bundles.SERVICE_SCHEMA,
            "instance_infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
            "instance_infrastructure/cloudformation.yaml": INSTANCE_TEMPLATE,
            "pipeline_infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
            "pipeline_infrastructure/cloudformation.yaml": PIPELINE_TEMPLATE,
        },
        "service/",
    )


def _cloudformation(moto_endpoint: str, account: str) -> Any:
    """CloudFormation of one account of the local cloud."""
    return as_role("cloudformation", moto_endpoint, REGION, f"arn:aws:iam::{account}:role/test", "test")


def _stack_names(moto_endpoint: str, account: str) -> set[str]:
    cf = _cloudformation(moto_endpoint, account)
    return {
        stack["StackName"]
        for page in cf.get_paginator("list_stacks").paginate()
        for stack in page["StackSummaries"]
        if stack["StackStatus"] != "DELETE_COMPLETE"
    }


@pytest.fixture(autouse=True)
def empty_other_accounts(moto_endpoint: str) -> None:
    """No stacks left in the environment accounts of the local cloud by an earlier test."""
    for account in (ENVIRONMENT, THIRD):
        cf = _cloudformation(moto_endpoint, account)
        for name in _stack_names(moto_endpoint, account):
            with contextlib.suppress(ClientError):
                cf.delete_stack(StackName=name)


def _outputs(answer: dict[str, Any]) -> dict[str, str]:
    return {o["key"]: o["valueString"] for o in answer["outputs"]}


def _connect(proton: Any, env_proton: Any, name: str = "prod", **roles: str) -> str:
    """Request a connection from the environment account and accept it in the management account."""
    roles.setdefault("roleArn", ROLE)
    connection_id = env_proton.create_environment_account_connection(
        managementAccountId=MANAGEMENT, environmentName=name, **roles
    )["environmentAccountConnection"]["id"]
    proton.accept_environment_account_connection(id=connection_id)
    return str(connection_id)


def _deployed(proton: Any, name: str) -> dict[str, Any]:
    proton.get_waiter("environment_deployed").wait(name=name, WaiterConfig=FAST)
    return dict(proton.get_environment(name=name)["environment"])


def test_each_stack_lands_in_its_account(
    proton: Any, other_account_proton: Any, s3: Any, worker: Any, moto_endpoint: str
) -> None:
    publish_environment_template(proton, s3, "vpc-env", _env_bundle())
    connection_id = _connect(proton, other_account_proton, componentRoleArn=COMPONENT_ROLE)
    template = {"templateName": "vpc-env", "templateMajorVersion": "1", "spec": SPEC}
    proton.create_environment(name="dev", protonServiceRoleArn=SAME_ACCOUNT_ROLE, **template)
    proton.create_environment(name="prod", environmentAccountConnectionId=connection_id, **template)
    dev, prod = _deployed(proton, "dev"), _deployed(proton, "prod")
    assert prod["environmentAccountConnectionId"] == connection_id
    assert prod["environmentAccountId"] == ENVIRONMENT
    assert "environmentAccountConnectionId" not in dev and "environmentAccountId" not in dev
    summaries = {e["name"]: e for e in proton.list_environments()["environments"]}
    assert summaries["prod"]["environmentAccountId"] == ENVIRONMENT

    dev_stack = stack_name("environment", "dev", account_id=MANAGEMENT, region=REGION)
    prod_stack = stack_name("environment", "prod", account_id=MANAGEMENT, region=REGION)
    assert dev_stack in _stack_names(moto_endpoint, MANAGEMENT)
    assert prod_stack not in _stack_names(moto_endpoint, MANAGEMENT)
    assert prod_stack in _stack_names(moto_endpoint, ENVIRONMENT)
    assert dev_stack not in _stack_names(moto_endpoint, ENVIRONMENT)
    assert _outputs(proton.list_environment_outputs(environmentName="prod"))["AccountId"] == ENVIRONMENT
    assert _outputs(proton.list_environment_outputs(environmentName="dev"))["AccountId"] == MANAGEMENT

    # Service instances go where their environment is; a component uses the connection's component role.
    proton.update_account_settings(pipelineServiceRoleArn=SAME_ACCOUNT_ROLE)
    publish_service_template(proton, s3, "api-svc", _service_bundle())
    proton.create_service(name="api", templateName="api-svc", templateMajorVersion="1", spec=SERVICE_SPEC)
    proton.get_waiter("service_created").wait(name="api", WaiterConfig=FAST)
    front = stack_name("service-instance", "api", "front", account_id=MANAGEMENT, region=REGION)
    back = stack_name("service-instance", "api", "back", account_id=MANAGEMENT, region=REGION)
    assert front in _stack_names(moto_endpoint, ENVIRONMENT)
    assert back in _stack_names(moto_endpoint, MANAGEMENT)
    assert front not in _stack_names(moto_endpoint, MANAGEMENT)
    assert back not in _stack_names(moto_endpoint, ENVIRONMENT)
    for instance, account in (("front", ENVIRONMENT), ("back", MANAGEMENT)):
        outputs = proton.list_service_instance_outputs(serviceName="api", serviceInstanceName=instance)
        assert _outputs(outputs)["EnvironmentAccount"] == account
    # The pipeline stays in the management account; it sees each instance's environment account.
    proton.get_waiter("service_pipeline_deployed").wait(name="api", WaiterConfig=FAST)
    pipeline = stack_name("service-pipeline", "api", account_id=MANAGEMENT, region=REGION)
    assert pipeline in _stack_names(moto_endpoint, MANAGEMENT)
    assert pipeline not in _stack_names(moto_endpoint, ENVIRONMENT)
    pipeline_outputs = _outputs(proton.list_service_pipeline_outputs(serviceName="api"))
    assert pipeline_outputs["Accounts"] == f"back={MANAGEMENT};front={ENVIRONMENT};"

    proton.create_component(
        name="extra", environmentName="prod", manifest=COMPONENT_MANIFEST, templateFile=COMPONENT_TEMPLATE
    )
    proton.get_waiter("component_deployed").wait(name="extra", WaiterConfig=FAST)
    component_stack = stack_name("component", "extra", account_id=MANAGEMENT, region=REGION)
    assert component_stack in _stack_names(moto_endpoint, ENVIRONMENT)
    assert component_stack not in _stack_names(moto_endpoint, MANAGEMENT)
    assert _outputs(proton.list_component_outputs(componentName="extra"))["EnvironmentAccount"] == ENVIRONMENT
    # Without a componentRoleArn on the connection, no CloudFormation component can go to the environment.
    other_account_proton.update_environment_account_connection(id=connection_id, roleArn=ROLE)

    # The environment account sees none of it through the Proton API.
    env_side = other_account_proton
    assert env_side.list_environments()["environments"] == []
    assert env_side.list_services()["services"] == []
    assert env_side.list_service_instances()["serviceInstances"] == []
    assert env_side.list_components()["components"] == []
    assert env_side.list_environment_templates()["templates"] == []
    assert env_side.list_deployments()["deployments"] == []
    prod_arn = f"arn:aws:proton:{REGION}:{MANAGEMENT}:environment/prod"
    assert error_of(env_side.get_environment, name="prod") == (
        "ResourceNotFoundException",
        f"The requested environment does not exist: arn:aws:proton:{REGION}:{ENVIRONMENT}:environment/prod",
    )
    assert error_of(env_side.list_tags_for_resource, resourceArn=prod_arn) == (
        "ResourceNotFoundException",
        f"The requested resource does not exist: {prod_arn}",
    )
    # Nor does the management account see the environment account's own resources.
    env_side.create_environment_template(name="their-template")
    assert [t["name"] for t in proton.list_environment_templates()["templates"]] == ["vpc-env"]
    assert error_of(proton.get_environment_template, name="their-template")[0] == "ResourceNotFoundException"


def test_connection_changes_reach_the_next_deployment(
    proton: Any, other_account_proton: Any, dispatcher: Any, runtime: Runtime, s3: Any, worker: Any,
    moto_endpoint: str,
) -> None:  # fmt: skip
    publish_environment_template(proton, s3, "vpc-env", _env_bundle())
    template = {"templateName": "vpc-env", "templateMajorVersion": "1", "spec": SPEC}
    first = _connect(proton, other_account_proton)
    proton.create_environment(name="prod", environmentAccountConnectionId=first, **template)
    proton.create_environment(name="dev", protonServiceRoleArn=SAME_ACCOUNT_ROLE, **template)
    _deployed(proton, "prod")
    _deployed(proton, "dev")
    prod_stack = stack_name("environment", "prod", account_id=MANAGEMENT, region=REGION)
    assert prod_stack not in _stack_names(moto_endpoint, THIRD)

    # A role changed on the connection is the one the next deployment assumes.
    other_account_proton.update_environment_account_connection(
        id=first, roleArn=f"arn:aws:iam::{THIRD}:role/proton-environment"
    )
    proton.update_environment(name="prod", deploymentType="CURRENT_VERSION")
    _deployed(proton, "prod")
    assert prod_stack in _stack_names(moto_endpoint, THIRD)
    other_account_proton.update_environment_account_connection(id=first, roleArn=ROLE)

    # Proton's rules for UpdateEnvironment and connections.
    assert error_of(
        proton.update_environment, name="dev", deploymentType="NONE", environmentAccountConnectionId=first
    ) == (
        "ValidationException",
        "Environment dev is not associated with an environment account connection, so it cannot be "
        "connected to one (give environmentAccountConnectionId only to an environment created with one).",
    )
    assert error_of(
        proton.update_environment, name="prod", deploymentType="NONE", protonServiceRoleArn=SAME_ACCOUNT_ROLE
    ) == (
        "ValidationException",
        f"Do not give protonServiceRoleArn with environment prod, which uses environment account connection "
        f"{first}: the environment's infrastructure is provisioned in the environment account with the "
        "roles of its environment account connection.",
    )
    stranger = runtime.credentials.create(THIRD, "third", runtime.clock.now())
    third_proton = in_process_client(dispatcher, stranger)
    foreign = third_proton.create_environment_account_connection(
        managementAccountId=MANAGEMENT, environmentName="prod", roleArn=f"arn:aws:iam::{THIRD}:role/r"
    )["environmentAccountConnection"]["id"]
    proton.accept_environment_account_connection(id=foreign)
    assert error_of(
        proton.update_environment, name="prod", deploymentType="NONE", environmentAccountConnectionId=foreign
    ) == (
        "ValidationException",
        f"Environment account connection {foreign} is of environment account {THIRD}; environment prod is "
        f"in environment account {ENVIRONMENT}, and a new connection must come from the same environment "
        "account.",
    )

    # A deleted connection: the environment cannot be deployed or deleted, nor can anything be deployed in it.
    other_account_proton.delete_environment_account_connection(id=first)
    problem = (
        f"The environment account connection {first} of environment prod no longer exists; Baryon cannot "
        f"manage the environment's infrastructure in account {ENVIRONMENT} until a new connection for that "
        "account and environment is accepted and given to UpdateEnvironment (environmentAccountConnectionId)."
    )
    assert error_of(proton.update_environment, name="prod", deploymentType="CURRENT_VERSION") == (
        "ValidationException",
        problem,
    )
    assert error_of(proton.delete_environment, name="prod") == ("ValidationException", problem)
    assert error_of(
        proton.create_component,
        name="extra",
        environmentName="prod",
        manifest=COMPONENT_MANIFEST,
        templateFile=COMPONENT_TEMPLATE,
    ) == ("ValidationException", problem)
    assert proton.get_environment(name="prod")["environment"]["environmentAccountConnectionId"] == first

    # A new accepted connection of the same environment account and name makes it manageable again.
    second = _connect(proton, other_account_proton)
    updated = proton.update_environment(
        name="prod", deploymentType="NONE", environmentAccountConnectionId=second
    )["environment"]
    assert updated["environmentAccountConnectionId"] == second
    assert updated["environmentAccountId"] == ENVIRONMENT
    proton.update_environment(name="prod", deploymentType="CURRENT_VERSION")
    assert _deployed(proton, "prod")["deploymentStatus"] == "SUCCEEDED"
    proton.delete_environment(name="prod")
    gone = poll(
        lambda: _found(proton.get_environment, name="prod"),
        lambda found: found is not True,
        what="environment prod to be deleted",
    )
    assert gone[0] == "ResourceNotFoundException"
    assert prod_stack not in _stack_names(moto_endpoint, ENVIRONMENT)
    other_account_proton.delete_environment_account_connection(id=second)


def test_a_deployment_whose_connection_is_deleted_fails(
    proton: Any, other_account_proton: Any, s3: Any, runtime: Runtime, moto_endpoint: str
) -> None:
    engine = Engine(runtime)
    proton.create_environment_template(name="vpc-env")
    proton.create_environment_template_version(templateName="vpc-env", source=upload(s3, _env_bundle()))
    engine.run_due()
    proton.update_environment_template_version(
        templateName="vpc-env", majorVersion="1", minorVersion="0", status="PUBLISHED"
    )
    connection_id = _connect(proton, other_account_proton)
    proton.create_environment(
        name="prod",
        templateName="vpc-env",
        templateMajorVersion="1",
        spec=SPEC,
        environmentAccountConnectionId=connection_id,
    )
    other_account_proton.delete_environment_account_connection(id=connection_id)
    engine.run_due()
    environment = proton.get_environment(name="prod")["environment"]
    assert environment["deploymentStatus"] == "FAILED"
    assert environment["deploymentStatusMessage"] == (
        f"The environment account connection {connection_id} of environment prod no longer exists; Baryon "
        f"cannot manage the environment's infrastructure in account {ENVIRONMENT} until a new connection for "
        "that account and environment is accepted and given to UpdateEnvironment "
        "(environmentAccountConnectionId)."
    )
    stack = stack_name("environment", "prod", account_id=MANAGEMENT, region=REGION)
    assert stack not in _stack_names(moto_endpoint, ENVIRONMENT)
    assert stack not in _stack_names(moto_endpoint, MANAGEMENT)
