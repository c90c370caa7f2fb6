"""Whole CloudFormation templates in the style of the Proton sample bundles (written for these tests),
rendered with the namespace builders and loaded back as YAML."""

from __future__ import annotations

import json
from typing import Any

import pytest

from baryon.render import (
    RenderError,
    environment_context,
    pipeline_context,
    render_template,
    service_instance_context,
)
from tests.render.cfnyaml import load_cfn

ENVIRONMENT_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Description: Network and cluster for the {{ environment.name }} environment
Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: '{{ environment.inputs.vpc_cidr }}'
      EnableDnsHostnames: {{ environment.inputs.dns_hostnames }}
{% for cidr in environment.inputs.subnet_cidrs %}
  Subnet{{ loop.index }}:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref VPC
      CidrBlock: '{{ cidr }}'
      AvailabilityZone: !Select [{{ loop.index0 }}, !GetAZs '']
{% endfor %}
  Cluster:
    Type: AWS::ECS::Cluster
    Properties:
      ClusterName: '{{ environment.name | proton_cfn_sanitize }}-cluster'
{% if environment.inputs.insights == 'enabled' %}
      ClusterSettings:
        - Name: containerInsights
          Value: enabled
{% endif %}
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      # a CloudFormation dynamic reference must be kept away from Jinja
      DisplayName: '{% raw %}{{resolve:ssm:/team/display-name}}{% endraw %}'
Outputs:
  VpcId:
    Value: !Ref VPC
  ClusterName:
    Value: !Ref Cluster
  SubnetIds:
    Value: !Join
      - ','
      - [{% for cidr in environment.inputs.subnet_cidrs %}!Ref Subnet{{ loop.index }}, {% endfor %}]
  DesiredTasks:
    Value: '{{ environment.inputs.desired_tasks }}'
"""

INSTANCE_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Description: {{ service.name }} / {{ service_instance.name }} on {{ environment.name }}
Mappings:
  TaskSize:
    small: {cpu: 256, memory: 512}
    large: {cpu: 1024, memory: 2048}
Resources:
  TaskRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal:
              Service: ecs-tasks.amazonaws.com
            Action: 'sts:AssumeRole'
      Policies:
        - PolicyName: publish
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Action: 'sns:Publish'
                Resource: '{{ environment.outputs.TopicArn }}'
      ManagedPolicyArns:
        - !Ref BasePolicy
        {{ service_instance.components.default.outputs
            | proton_cfn_iam_policy_arns }}
  BasePolicy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Action: ['logs:PutLogEvents']
            Resource: '*'
  TaskDefinition:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: '{{ service.name }}_{{ service_instance.name }}'
      Cpu: !FindInMap [TaskSize, {{ service_instance.inputs.task_size }}, cpu]
      Memory: !FindInMap [TaskSize, {{ service_instance.inputs.task_size }}, memory]
      TaskRoleArn: !GetAtt TaskRole.Arn
      ExecutionRoleArn: '{{ service_instance.environment.outputs.ExecutionRoleArn }}'
      ContainerDefinitions:
        - Name: '{{ service_instance.name | proton_cfn_sanitize }}'
{% if service_instance.inputs.image is defined %}
          Image: '{{ service_instance.inputs.image }}'
{% else %}
          Image: public.ecr.aws/nginx/nginx:stable
{% endif %}
          PortMappings:
            - ContainerPort: {{ service_instance.inputs.port }}
          Environment:
            - Name: TOPIC_ARN
              Value: '{{ environment.outputs.TopicArn }}'
            - Name: VERBOSE
              Value: '{{ service_instance.inputs.verbose }}'
            {% if service_instance.components.default.outputs | length > 0 %}
            {{ service_instance.components.default.outputs |
                proton_cfn_ecs_task_definition_formatted_env_vars }}
            {% endif %}
  Service:
    Type: AWS::ECS::Service
    Properties:
      Cluster: '{{ environment.outputs.ClusterName }}'
      TaskDefinition: !Ref TaskDefinition
      DesiredCount: {{ service_instance.inputs.desired_count | default(1) }}
      NetworkConfiguration:
        AwsvpcConfiguration:
          AssignPublicIp: {{ 'ENABLED' if service_instance.inputs.public else 'DISABLED' }}
          Subnets: {{ service_instance.inputs.subnets }}
  Notifier:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt TaskRole.Arn
      Code:
        ZipFile: |
          def handler(event, context):
              return {"service": "{{ service.name }}"}
      Environment:
        Variables:
          SERVICE: '{{ service.name }}'
          {{ environment.outputs | proton_cfn_lambda_function_formatted_env_vars }}
Outputs:
  ServiceName:
    Value: !GetAtt Service.Name
{% if service.repository_id is defined %}
  Repository:
    Value: '{{ service.repository_id }}'
{% endif %}
"""

PIPELINE_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Description: Delivery pipeline of {{ service.name }}
Resources:
  Repository:
    Type: AWS::ECR::Repository
    Properties:
      RepositoryPolicyText:
        Version: '2012-10-17'
        Statement:
          - Sid: PullFromEnvironmentAccounts
            Effect: Allow
            Principal:
              AWS:
                {% for service_instance in service_instances %}
                - 'arn:aws:iam::{{ service_instance.environment.account_id }}:root'
                {% endfor %}
            Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer']
  BuildProject:
    Type: AWS::CodeBuild::Project
    Properties:
      Artifacts: {Type: CODEPIPELINE}
      ServiceRole: !GetAtt PipelineRole.Arn
      Source:
        Type: CODEPIPELINE
        BuildSpec: |
          version: 0.2
          phases:
            build:
              commands:
                - docker build -f {{ pipeline.inputs.dockerfile }} -t $REPO:$CODEBUILD_SOURCE_VERSION .
                - {{ pipeline.inputs.unit_test_command }}
      Environment:
        Type: LINUX_CONTAINER
        ComputeType: BUILD_GENERAL1_SMALL
        Image: aws/codebuild/standard:7.0
        PrivilegedMode: {{ pipeline.inputs.privileged }}
{% for service_instance in service_instances %}
  Deploy{{ loop.index }}Project:
    Type: AWS::CodeBuild::Project
    Properties:
      Artifacts: {Type: CODEPIPELINE}
      ServiceRole: !GetAtt PipelineRole.Arn
      Source: {Type: CODEPIPELINE}
      Environment:
        Type: LINUX_CONTAINER
        ComputeType: BUILD_GENERAL1_SMALL
        Image: aws/codebuild/standard:7.0
        EnvironmentVariables:
          - Name: service_name
            Value: '{{ service.name }}'
          - Name: service_instance_name
            Value: '{{ service_instance.name }}'
          - Name: environment_name
            Value: '{{ service_instance.environment.name }}'
{% endfor %}
  PipelineRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: [codebuild.amazonaws.com, codepipeline.amazonaws.com]}
            Action: 'sts:AssumeRole'
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      RoleArn: !GetAtt PipelineRole.Arn
      Stages:
        - Name: Source
          Actions:
            - Name: Checkout
              ActionTypeId: {Category: Source, Owner: AWS, Provider: CodeStarSourceConnection, Version: '1'}
              Configuration:
                ConnectionArn: '{{ service.repository_connection_arn }}'
                FullRepositoryId: '{{ service.repository_id }}'
                BranchName: '{{ service.branch_name }}'
              OutputArtifacts: [{Name: Source}]
        - Name: Build
          Actions:
            - Name: Build
              ActionTypeId: {Category: Build, Owner: AWS, Provider: CodeBuild, Version: '1'}
              Configuration: {ProjectName: !Ref BuildProject}
              InputArtifacts: [{Name: Source}]
              OutputArtifacts: [{Name: BuildOutput}]
{%- for service_instance in service_instances %}
        - Name: 'Deploy-{{ service_instance.name }}'
          Actions:
            - Name: Deploy
              ActionTypeId: {Category: Build, Owner: AWS, Provider: CodeBuild, Version: '1'}
              Configuration: {ProjectName: !Ref Deploy{{ loop.index }}Project}
              InputArtifacts: [{Name: BuildOutput}]
              RunOrder: {{ loop.index }}
{%- endfor %}
Outputs:
  PipelineEndpoint:
    Value: !Sub 'https://${AWS::Region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/${Pipeline}/view'
{% for service_instance in service_instances %}
  {{ service_instance.name | replace('-', '') }}Url:
    Value: '{{ service_instance.outputs.ServiceUrl }}'
{% endfor %}
"""

ENV: dict[str, Any] = {
    "name": "staging",
    "account_id": "111122223333",
    "outputs": {
        "TopicArn": "arn:aws:sns:eu-west-1:111122223333:events",
        "ClusterName": "staging-cluster",
        "ExecutionRoleArn": "arn:aws:iam::111122223333:role/exec",
    },
}
SERVICE = {
    "name": "checkout",
    "branch_name": "main",
    "repository_connection_arn": "arn:aws:codestar-connections:eu-west-1:444455556666:connection/abc",
    "repository_id": "shop/checkout",
}
INSTANCE: dict[str, Any] = {
    "name": "checkout-staging",
    "inputs": {
        "task_size": "small",
        "port": 8080,
        "verbose": False,
        "public": True,
        "subnets": ["subnet-a", "subnet-b"],
    },
}
COMPONENT = {
    "name": "cache-bucket",
    "outputs": {
        "BucketArn": "arn:aws:s3:::checkout-cache",
        "BucketPolicyArn": "arn:aws:iam::111122223333:policy/checkout-cache-rw",
    },
}


def line_of(template: str, needle: str) -> int:
    """The 1-based line of the only line of ``template`` that contains ``needle``."""
    (line,) = [number for number, text in enumerate(template.splitlines(), 1) if needle in text]
    return line


def resources(document: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = document["Resources"]
    return result


def test_environment_template() -> None:
    inputs = {
        "vpc_cidr": "10.0.0.0/16",
        "dns_hostnames": True,
        "subnet_cidrs": ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"],
        "insights": "enabled",
        "desired_tasks": 2,
    }
    ctx = environment_context(name="staging", account_id="111122223333", inputs=inputs)
    document = load_cfn(
        render_template(ENVIRONMENT_TEMPLATE, ctx, file_name="infrastructure/cloudformation.yaml")
    )
    res = resources(document)
    assert res["VPC"]["Properties"] == {"CidrBlock": "10.0.0.0/16", "EnableDnsHostnames": True}
    assert [res[f"Subnet{i}"]["Properties"]["CidrBlock"] for i in (1, 2, 3)] == inputs["subnet_cidrs"]
    assert res["Subnet3"]["Properties"]["AvailabilityZone"] == {"!Select": [2, {"!GetAZs": ""}]}
    assert res["Cluster"]["Properties"] == {
        "ClusterName": "staging-cluster",
        "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}],
    }
    assert res["Topic"]["Properties"]["DisplayName"] == "{{resolve:ssm:/team/display-name}}"
    assert document["Outputs"]["SubnetIds"]["Value"] == {
        "!Join": [",", [{"!Ref": "Subnet1"}, {"!Ref": "Subnet2"}, {"!Ref": "Subnet3"}]]
    }
    assert document["Outputs"]["DesiredTasks"]["Value"] == "2"


def test_environment_template_with_an_unsafe_name_fails_on_sanitize() -> None:
    ctx = environment_context(
        name="staging env",
        account_id="111122223333",
        inputs={
            "vpc_cidr": "10.0.0.0/16",
            "dns_hostnames": False,
            "subnet_cidrs": [],
            "insights": "off",
            "desired_tasks": 1,
        },
    )
    with pytest.raises(RenderError) as caught:
        render_template(ENVIRONMENT_TEMPLATE, ctx, file_name="infrastructure/cloudformation.yaml")
    assert str(caught.value) == (
        f"infrastructure/cloudformation.yaml, line {line_of(ENVIRONMENT_TEMPLATE, 'proton_cfn_sanitize')}: "
        'Illegal character(s) detected in "staging env". '
        "Must match regex ^[a-zA-Z0-9_-]*$ or be a valid ARN"
    )


def test_instance_template_with_a_component() -> None:
    ctx = service_instance_context(environment=ENV, service=SERVICE, instance=INSTANCE, component=COMPONENT)
    text = render_template(INSTANCE_TEMPLATE, ctx, file_name="instance_infrastructure/cloudformation.yaml")
    res = resources(load_cfn(text))
    assert res["TaskRole"]["Properties"]["ManagedPolicyArns"] == [
        {"!Ref": "BasePolicy"},
        "arn:aws:iam::111122223333:policy/checkout-cache-rw",
    ]
    assert res["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"] == (
        "arn:aws:sns:eu-west-1:111122223333:events"
    )
    task = res["TaskDefinition"]["Properties"]
    assert task["Family"] == "checkout_checkout-staging"
    assert task["Cpu"] == {"!FindInMap": ["TaskSize", "small", "cpu"]}
    assert task["ExecutionRoleArn"] == "arn:aws:iam::111122223333:role/exec"
    container = task["ContainerDefinitions"][0]
    assert container["Name"] == "checkout-staging"
    assert container["Image"] == "public.ecr.aws/nginx/nginx:stable"
    assert container["PortMappings"] == [{"ContainerPort": 8080}]
    assert container["Environment"] == [
        {"Name": "TOPIC_ARN", "Value": "arn:aws:sns:eu-west-1:111122223333:events"},
        {"Name": "VERBOSE", "Value": "false"},
        {"Name": "BucketArn", "Value": "arn:aws:s3:::checkout-cache"},
        {"Name": "BucketPolicyArn", "Value": "arn:aws:iam::111122223333:policy/checkout-cache-rw"},
    ]
    service = res["Service"]["Properties"]
    assert service["DesiredCount"] == 1
    assert service["NetworkConfiguration"]["AwsvpcConfiguration"] == {
        "AssignPublicIp": "ENABLED",
        "Subnets": ["subnet-a", "subnet-b"],
    }
    notifier = res["Notifier"]["Properties"]
    assert notifier["Code"]["ZipFile"] == 'def handler(event, context):\n    return {"service": "checkout"}\n'
    assert notifier["Environment"]["Variables"] == {"SERVICE": "checkout", **ENV["outputs"]}
    assert load_cfn(text)["Outputs"]["Repository"] == {"Value": "shop/checkout"}


def test_instance_template_without_a_component_or_repository() -> None:
    instance = {
        "name": "checkout-dev",
        "inputs": {**INSTANCE["inputs"], "image": "repo/checkout:1.2", "desired_count": 3},
    }
    ctx = service_instance_context(environment=ENV, service={"name": "checkout"}, instance=instance)
    document = load_cfn(
        render_template(INSTANCE_TEMPLATE, ctx, file_name="instance_infrastructure/cloudformation.yaml")
    )
    res = resources(document)
    assert res["TaskRole"]["Properties"]["ManagedPolicyArns"] == [{"!Ref": "BasePolicy"}]
    container = res["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert container["Image"] == "repo/checkout:1.2"
    assert [item["Name"] for item in container["Environment"]] == ["TOPIC_ARN", "VERBOSE"]
    assert res["Service"]["Properties"]["DesiredCount"] == 3
    assert "Repository" not in document["Outputs"]


def test_instance_template_missing_environment_output() -> None:
    env = {**ENV, "outputs": {k: v for k, v in ENV["outputs"].items() if k != "ClusterName"}}
    ctx = service_instance_context(environment=env, service=SERVICE, instance=INSTANCE)
    with pytest.raises(RenderError) as caught:
        render_template(INSTANCE_TEMPLATE, ctx, file_name="instance_infrastructure/cloudformation.yaml")
    assert str(caught.value) == (
        f"instance_infrastructure/cloudformation.yaml, line {line_of(INSTANCE_TEMPLATE, '.ClusterName')}: "
        "environment.outputs.ClusterName is not defined"
    )


def pipeline_ctx() -> dict[str, Any]:
    prod = {"name": "prod", "account_id": "777788889999", "outputs": {}}
    instances = [
        {
            "name": "checkout-staging",
            "inputs": {},
            "outputs": {"ServiceUrl": "https://staging.example"},
            "environment": ENV,
        },
        {
            "name": "checkout-prod",
            "inputs": {},
            "outputs": {"ServiceUrl": "https://shop.example"},
            "environment": prod,
        },
    ]
    inputs = {"dockerfile": "Dockerfile", "unit_test_command": "make test", "privileged": True}
    return pipeline_context(service=SERVICE, pipeline_inputs=inputs, instances=instances)


def test_pipeline_template() -> None:
    text = render_template(
        PIPELINE_TEMPLATE, pipeline_ctx(), file_name="pipeline_infrastructure/cloudformation.yaml"
    )
    document = load_cfn(text)
    res = resources(document)
    principal = res["Repository"]["Properties"]["RepositoryPolicyText"]["Statement"][0]["Principal"]
    assert principal == {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::777788889999:root"]}
    build = res["BuildProject"]["Properties"]
    assert build["Environment"]["PrivilegedMode"] is True
    assert "docker build -f Dockerfile" in build["Source"]["BuildSpec"]
    assert "- make test" in build["Source"]["BuildSpec"]
    for index, (name, env_name) in enumerate([("checkout-staging", "staging"), ("checkout-prod", "prod")], 1):
        variables = res[f"Deploy{index}Project"]["Properties"]["Environment"]["EnvironmentVariables"]
        assert variables == [
            {"Name": "service_name", "Value": "checkout"},
            {"Name": "service_instance_name", "Value": name},
            {"Name": "environment_name", "Value": env_name},
        ]
    stages = res["Pipeline"]["Properties"]["Stages"]
    assert [stage["Name"] for stage in stages] == [
        "Source",
        "Build",
        "Deploy-checkout-staging",
        "Deploy-checkout-prod",
    ]
    assert stages[0]["Actions"][0]["Configuration"] == {
        "ConnectionArn": SERVICE["repository_connection_arn"],
        "FullRepositoryId": "shop/checkout",
        "BranchName": "main",
    }
    assert stages[3]["Actions"][0]["Configuration"] == {"ProjectName": {"!Ref": "Deploy2Project"}}
    assert stages[3]["Actions"][0]["RunOrder"] == 2
    assert document["Outputs"]["checkoutprodUrl"] == {"Value": "https://shop.example"}
    assert document["Outputs"]["PipelineEndpoint"]["Value"]["!Sub"].startswith("https://${AWS::Region}.")


def test_pipeline_template_with_an_instance_missing_an_output() -> None:
    ctx = pipeline_ctx()
    ctx["service_instances"][1]["outputs"] = {}
    with pytest.raises(RenderError) as caught:
        render_template(PIPELINE_TEMPLATE, ctx, file_name="pipeline_infrastructure/cloudformation.yaml")
    assert str(caught.value) == (
        f"pipeline_infrastructure/cloudformation.yaml, line {line_of(PIPELINE_TEMPLATE, '.ServiceUrl')}: "
        "service_instances[1].outputs.ServiceUrl is not defined"
    )


RUNTIME_BUILDSPEC_TEMPLATE = """\
Resources:
  BuildProject:
    Type: AWS::CodeBuild::Project
    Properties:
      Source:
        Type: CODEPIPELINE
        BuildSpec: >-
                {
                  "version": "0.2",
                  "phases": {
                    "install": {
                      "runtime-versions": {{
                          {"ruby2.7": {"ruby": "2.7"},
                            "nodejs12.x": {"nodejs": "12.x"}
                          }[service_instances[0].outputs.LambdaRuntime] | tojson | safe }},
                      "commands": ["{{ pipeline.inputs.unit_test_command }}"]
                    }
                  }
                }
"""


def runtime_ctx(outputs: dict[str, str]) -> dict[str, Any]:
    instance = {"name": "api-prod", "inputs": {}, "outputs": outputs, "environment": ENV}
    return pipeline_context(
        service=SERVICE, pipeline_inputs={"unit_test_command": "make test"}, instances=[instance]
    )


def test_pipeline_buildspec_picks_a_runtime_from_an_instance_output_with_tojson() -> None:
    text = render_template(
        RUNTIME_BUILDSPEC_TEMPLATE,
        runtime_ctx({"LambdaRuntime": "nodejs12.x"}),
        file_name="pipeline_infrastructure/cloudformation.yaml",
    )
    buildspec = resources(load_cfn(text))["BuildProject"]["Properties"]["Source"]["BuildSpec"]
    assert json.loads(buildspec)["phases"]["install"] == {
        "runtime-versions": {"nodejs": "12.x"},
        "commands": ["make test"],
    }


def test_pipeline_buildspec_without_the_instance_output_names_it() -> None:
    with pytest.raises(RenderError) as caught:
        render_template(
            RUNTIME_BUILDSPEC_TEMPLATE,
            runtime_ctx({}),
            file_name="pipeline_infrastructure/cloudformation.yaml",
        )
    assert str(caught.value) == (
        "pipeline_infrastructure/cloudformation.yaml, "
        f"line {line_of(RUNTIME_BUILDSPEC_TEMPLATE, '[service_instances[0]')}: "
        "service_instances[0].outputs.LambdaRuntime is not defined"
    )
