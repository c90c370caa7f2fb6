"""A service in the local cloud: outputs of stood-in resources flow from the environment to the instance
and on to the pipeline, whose CodeBuild and CodePipeline are stood in for and whose image repository gets
a name the local cloud accepts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ACCOUNT
from tests.engine.localcloud.conftest import REGION, ROLE
from tests.support import bundles
from tests.support.publishing import publish_environment_template, publish_service_template
from tests.support.waiters import FAST

ENVIRONMENT = """Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: '{{ environment.inputs.vpc_cidr }}'
  PrivateNamespace:
    Type: AWS::ServiceDiscovery::PrivateDnsNamespace
    Properties:
      Name: '{{ environment.name }}.internal'
      Vpc: !Ref VPC
Outputs:
  VpcId:
    Value: !Ref VPC
  PrivateNamespace:
    Value: !GetAtt PrivateNamespace.Id
"""

INSTANCE = """Resources:
  Discovery:
    Type: AWS::ServiceDiscovery::Service
    Properties:
      Name: '{{ service_instance.name }}'
      NamespaceId: '{{ environment.outputs.PrivateNamespace }}'
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: '{{ service.name }}-{{ service_instance.name }}'
      Tags:
        - Key: namespace
          Value: '{{ environment.outputs.PrivateNamespace }}'
Outputs:
  QueueName:
    Value: !GetAtt Queue.QueueName
  DiscoveryArn:
    Value: !GetAtt [Discovery, Arn]
"""

PIPELINE = """Resources:
  Images:
    Type: AWS::ECR::Repository
  Artifacts:
    Type: AWS::S3::Bucket
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: [codebuild.amazonaws.com, codepipeline.amazonaws.com]}
            Action: sts:AssumeRole
  Build:
    Type: AWS::CodeBuild::Project
    Properties:
      Name: '{{ service.name }}-build'
      ServiceRole: !GetAtt Role.Arn
      Artifacts: {Type: CODEPIPELINE}
      Source: {Type: CODEPIPELINE}
      Environment:
        Type: LINUX_CONTAINER
        ComputeType: BUILD_GENERAL1_SMALL
        Image: aws/codebuild/standard:7.0
        EnvironmentVariables:
{% for instance in service_instances %}
          - Name: 'DISCOVERY_{{ loop.index }}'
            Value: '{{ instance.outputs.DiscoveryArn }}'
{% endfor %}
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      RoleArn: !GetAtt Role.Arn
      ArtifactStore: {Type: S3, Location: !Ref Artifacts}
      Stages:
        - Name: Source
          Actions:
            - Name: Checkout
              ActionTypeId: {Category: Source, Owner: AWS, Provider: S3, Version: '1'}
              Configuration: {S3Bucket: !Ref Artifacts, S3ObjectKey: source.zip}
              OutputArtifacts: [{Name: Source}]
        - Name: Build
          Actions:
            - Name: Build
              ActionTypeId: {Category: Build, Owner: AWS, Provider: CodeBuild, Version: '1'}
              Configuration: {ProjectName: !Ref Build}
              InputArtifacts: [{Name: Source}]
Outputs:
  PipelineEndpoint:
    Value: !Sub 'https://console.aws.amazon.com/codesuite/codepipeline/pipelines/${Pipeline}/view'
  Images:
    Value: !GetAtt Images.RepositoryUri
  Discovered:
    Value: '{{ service_instances[0].outputs.DiscoveryArn }}'
"""

SPEC = """proton: ServiceSpec
pipeline:
  dockerfile: Dockerfile
instances:
  - name: front
    environment: net
    spec:
      port: 8080
"""


@pytest.mark.usefixtures("local_cloud")
def test_outputs_of_stand_ins_flow_from_environment_to_instance_to_pipeline(
    proton: Any, s3: Any, worker: Any, account_client: Callable[[str], Any]
) -> None:
    environment = bundles.tar_gz(
        {
            "schema/schema.yaml": bundles.ENV_SCHEMA,
            "infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
            "infrastructure/cloudformation.yaml": ENVIRONMENT,
        },
        "environment/",
    )
    service = bundles.tar_gz(
        bundles.cfn_service_files(bundles.SERVICE_SCHEMA, INSTANCE, PIPELINE), "service/"
    )
    publish_environment_template(proton, s3, "net-env", environment)
    publish_service_template(proton, s3, "svc", service, compatible="net-env")
    proton.create_environment(
        name="net",
        templateName="net-env",
        templateMajorVersion="1",
        spec="proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.40.0.0/16\n",
        protonServiceRoleArn=ROLE,
    )
    proton.get_waiter("environment_deployed").wait(name="net", WaiterConfig=FAST)
    proton.update_account_settings(pipelineServiceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline")
    proton.create_service(
        name="shop",
        templateName="svc",
        templateMajorVersion="1",
        spec=SPEC,
        repositoryConnectionArn=f"arn:aws:codestar-connections:{REGION}:{ACCOUNT}:connection/x",
        repositoryId="org/shop",
        branchName="main",
    )
    proton.get_waiter("service_created").wait(name="shop", WaiterConfig=FAST)

    namespace = {
        o["key"]: o["valueString"] for o in proton.list_environment_outputs(environmentName="net")["outputs"]
    }["PrivateNamespace"]
    instance = proton.get_service_instance(serviceName="shop", name="front")["serviceInstance"]
    assert instance["deploymentStatus"] == "SUCCEEDED"
    assert instance["deploymentStatusMessage"] == (
        "Stood in for in the local cloud: Discovery (AWS::ServiceDiscovery::Service)."
    )
    outputs = proton.list_service_instance_outputs(serviceName="shop", serviceInstanceName="front")["outputs"]
    found = {o["key"]: o["valueString"] for o in outputs}
    assert found["QueueName"] == "shop-front"
    assert found["DiscoveryArn"].startswith(f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:service/srv-")
    sqs = account_client("sqs")
    url = sqs.get_queue_url(QueueName="shop-front")["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"namespace": namespace}

    pipeline = proton.get_service(name="shop")["service"]["pipeline"]
    assert pipeline["deploymentStatus"] == "SUCCEEDED"
    assert pipeline["deploymentStatusMessage"] == (
        "Stood in for in the local cloud: Build (AWS::CodeBuild::Project), "
        "Pipeline (AWS::CodePipeline::Pipeline)."
    )
    piped = proton.list_service_pipeline_outputs(serviceName="shop")["outputs"]
    piped_values = {o["key"]: o["valueString"] for o in piped}
    assert piped_values["Discovered"] == found["DiscoveryArn"]
    assert piped_values["PipelineEndpoint"].startswith("https://console.aws.amazon.com/codesuite/")
    assert "${" not in piped_values["PipelineEndpoint"]
    repository = piped_values["Images"].rsplit("/", 1)[-1]
    assert repository == repository.lower() and repository.endswith("-images")

    proton.delete_service(name="shop")
    proton.get_waiter("service_deleted").wait(name="shop", WaiterConfig=FAST)
    assert account_client("sqs").list_queues(QueueNamePrefix="shop-front").get("QueueUrls", []) == []
