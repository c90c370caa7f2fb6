"""Environments deployed in the local cloud through the API: each rewrite and stand-in kind of the
local-cloud layer, outputs, the deployment's message, failures of the local cloud itself, clean-up on
delete — and a CloudFormation that is not the local cloud getting the template exactly as rendered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from baryon.engine.provisioners.stack_names import stack_name
from baryon.runtime import Runtime
from baryon.store import run_logs
from tests.conftest import ACCOUNT
from tests.engine.localcloud.conftest import REGION, ROLE
from tests.support import bundles
from tests.support.publishing import publish_environment_template
from tests.support.waiting import poll

SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.20.0.0/16\n"

VPC_TEMPLATE = """AWSTemplateFormatVersion: 2010-09-09
Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: '{{ environment.inputs.vpc_cidr }}'
  InternetGateway:
    Type: AWS::EC2::InternetGateway
  GatewayAttachment:
    Type: AWS::EC2::VPCGatewayAttachment
    Properties:
      VpcId: !Ref VPC
      InternetGatewayId: !Ref InternetGateway
  PublicSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref VPC
      AvailabilityZone: !Select [0, !GetAZs {Ref: 'AWS::Region'}]
      CidrBlock: !Select [0, !Cidr [!GetAtt VPC.CidrBlock, 4, 8]]
  PrivateSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref VPC
      AvailabilityZone: !Select [1, !GetAZs '']
      CidrBlock: !Select [1, !Cidr [!GetAtt VPC.CidrBlock, 4, 8]]
  PublicRouteTable:
    Type: AWS::EC2::RouteTable
    Properties:
      VpcId: !Ref VPC
  PublicRoute:
    Type: AWS::EC2::Route
    DependsOn: GatewayAttachment
    Properties:
      RouteTableId: !Ref PublicRouteTable
      DestinationCidrBlock: 0.0.0.0/0
      GatewayId: !Ref InternetGateway
  PublicSubnetRoutes:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties:
      SubnetId: !Ref PublicSubnet
      RouteTableId: !Ref PublicRouteTable
  NatAddress:
    Type: AWS::EC2::EIP
    DependsOn: GatewayAttachment
    Properties:
      Domain: vpc
  NatGateway:
    Type: AWS::EC2::NatGateway
    Properties:
      AllocationId: !GetAtt
        - NatAddress
        - AllocationId
      SubnetId: !Ref PublicSubnet
  PrivateRouteTable:
    Type: AWS::EC2::RouteTable
    Properties:
      VpcId: !Ref VPC
  PrivateRoute:
    Type: AWS::EC2::Route
    Properties:
      RouteTableId: !Ref PrivateRouteTable
      DestinationCidrBlock: 0.0.0.0/0
      NatGatewayId: !Ref NatGateway
  PrivateSubnetRoutes:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties:
      SubnetId: !Ref PrivateSubnet
      RouteTableId: !Ref PrivateRouteTable
  HostSecurityGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: hosts of the environment
      VpcId: !Ref VPC
      SecurityGroupIngress:
        - IpProtocol: -1
          CidrIp: 10.0.0.0/8
  Namespace:
    Type: AWS::ServiceDiscovery::PrivateDnsNamespace
    Properties:
      Name: '{{ environment.name }}.local'
      Vpc: !Ref VPC
Outputs:
  VpcId:
    Value: !Ref VPC
  PublicSubnet:
    Value: !Ref PublicSubnet
  PrivateSubnet:
    Value: !Ref PrivateSubnet
  SecurityGroup:
    Value: !GetAtt [HostSecurityGroup, GroupId]
  NatGateway:
    Value: !Ref NatGateway
  PrivateNamespace:
    Value: !GetAtt Namespace.Id
  NamespaceZone:
    Value: !GetAtt Namespace.HostedZoneId
  Nothing:
    Value: !Join ['', []]
"""

APPLICATION_TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.30.0.0/16
  Images:
    Type: AWS::ECR::Repository
  Targets:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      Name: '{{ environment.name }}--web'
      Port: '8080'
      Protocol: HTTP
      TargetType: ip
      VpcId: !Ref VPC
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: '45'
  Function:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: "def handler(event, context):\\n    return event\\n"
      Events:
        Hello:
          Type: HttpApi
          Properties:
            Path: /hello
            Method: get
  Build:
    Type: AWS::CodeBuild::Project
    Properties:
      ServiceRole: !GetAtt FunctionRole.Arn
      Artifacts: {Type: CODEPIPELINE}
      Environment: {Type: LINUX_CONTAINER, ComputeType: BUILD_GENERAL1_SMALL, Image: build}
      Source: {Type: CODEPIPELINE}
  Artifacts:
    Type: AWS::S3::Bucket
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: '{{ environment.name }}-delivery'
      RoleArn: !GetAtt FunctionRole.Arn
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
  RepositoryName:
    Value: !Ref Images
  TargetGroupName:
    Value: !GetAtt Targets.TargetGroupName
  QueueUrl:
    Value: !Ref Queue
  FunctionArn:
    Value: !GetAtt Function.Arn
  ApiUrl:
    Value: !Sub 'https://${ServerlessHttpApi}.execute-api.${AWS::Region}.amazonaws.com/hello'
  BuildArn:
    Value: !GetAtt Build.Arn
  PipelineName:
    Value: !Ref Pipeline
  PipelineUrl:
    Value: !Sub 'https://console.aws.amazon.com/codesuite/codepipeline/pipelines/${Pipeline}/view'
"""


def _bundle(template: str) -> bytes:
    return bundles.tar_gz(
        {
            "schema/schema.yaml": bundles.ENV_SCHEMA,
            "infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
            "infrastructure/cloudformation.yaml": template,
        },
        "environment/",
    )


def _deploy(proton: Any, s3: Any, name: str, template: str) -> dict[str, Any]:
    """Publish `template` as environment template `name`-tpl, create environment `name` from it, and
    return the environment once its deployment has settled."""
    publish_environment_template(proton, s3, f"{name}-tpl", _bundle(template))
    proton.create_environment(
        name=name, templateName=f"{name}-tpl", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    return poll(
        lambda: proton.get_environment(name=name)["environment"],
        lambda env: env["deploymentStatus"] not in ("IN_PROGRESS", "DELETE_IN_PROGRESS"),
        timeout=60,
        what=f"environment {name} to settle",
    )


def _outputs(proton: Any, name: str) -> dict[str, str]:
    found = proton.list_environment_outputs(environmentName=name)["outputs"]
    return {o["key"]: o["valueString"] for o in found}


def _message(proton: Any, env: dict[str, Any]) -> str:
    deployment_id = env.get("lastSucceededDeploymentId") or env["lastAttemptedDeploymentId"]
    return str(proton.get_deployment(id=deployment_id)["deployment"].get("deploymentStatusMessage", ""))


def _stack(name: str) -> str:
    return stack_name("environment", name, account_id=ACCOUNT, region=REGION)


def _delete(proton: Any, name: str) -> None:
    proton.delete_environment(name=name)

    def present() -> bool:
        try:
            proton.get_environment(name=name)
        except ClientError:
            return False
        return True

    poll(present, lambda found: not found, timeout=60, what=f"environment {name} to be deleted")


def _gone(call: Callable[..., Any], **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return "NotFound" in error.response["Error"]["Code"]
    return False


@pytest.mark.usefixtures("local_cloud")
def test_a_vpc_environment_deploys_with_stand_ins_and_deletes_cleanly(
    proton: Any, s3: Any, worker: Any, account_client: Callable[[str], Any]
) -> None:
    env = _deploy(proton, s3, "net", VPC_TEMPLATE)

    assert env["deploymentStatus"] == "SUCCEEDED", env.get("deploymentStatusMessage")
    assert _message(proton, env) == (
        "Stood in for in the local cloud: Namespace (AWS::ServiceDiscovery::PrivateDnsNamespace); "
        "outputs left empty: Nothing."
    )
    outputs = _outputs(proton, "net")
    assert set(outputs) == {
        "VpcId",
        "PublicSubnet",
        "PrivateSubnet",
        "SecurityGroup",
        "NatGateway",
        "PrivateNamespace",
        "NamespaceZone",
    }
    assert outputs["PrivateNamespace"].startswith("ns-")
    assert outputs["NamespaceZone"].startswith("Z")
    resources = proton.list_environment_provisioned_resources(environmentName="net")["provisionedResources"]
    assert {
        "name": "Namespace",
        "identifier": outputs["PrivateNamespace"],
        "provisioningEngine": "CLOUDFORMATION",
    } in resources
    ec2 = account_client("ec2")
    subnets = ec2.describe_subnets(SubnetIds=[outputs["PublicSubnet"], outputs["PrivateSubnet"]])["Subnets"]
    assert sorted((s["CidrBlock"], s["AvailabilityZone"]) for s in subnets) == [
        ("10.20.0.0/24", f"{REGION}a"),
        ("10.20.1.0/24", f"{REGION}b"),
    ]
    group = ec2.describe_security_groups(GroupIds=[outputs["SecurityGroup"]])["SecurityGroups"][0]
    assert [(r["IpProtocol"], r["IpRanges"]) for r in group["IpPermissions"]] == [
        ("-1", [{"CidrIp": "10.0.0.0/8"}])
    ]
    stack = account_client("cloudformation").describe_stacks(StackName=_stack("net"))["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    vpc = outputs["VpcId"]
    gateways = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])
    [gateway] = [g["InternetGatewayId"] for g in gateways["InternetGateways"]]
    tables = [
        t["RouteTableId"]
        for t in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    ]
    [nat] = ec2.describe_nat_gateways(NatGatewayIds=[outputs["NatGateway"]])["NatGateways"]
    [allocation] = [a["AllocationId"] for a in nat["NatGatewayAddresses"]]

    _delete(proton, "net")

    assert _gone(ec2.describe_vpcs, VpcIds=[vpc])
    assert _gone(ec2.describe_internet_gateways, InternetGatewayIds=[gateway])
    assert all(_gone(ec2.describe_route_tables, RouteTableIds=[table]) for table in tables)
    assert _gone(ec2.describe_addresses, AllocationIds=[allocation])
    states = [
        n["State"] for n in ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"]
    ]
    assert states in ([], ["deleted"])
    live = [
        s["StackName"]
        for s in account_client("cloudformation").list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert _stack("net") not in live


@pytest.mark.usefixtures("local_cloud")
def test_sam_pipelines_and_names_deploy_with_outputs_from_stand_ins(
    proton: Any, s3: Any, worker: Any, runtime: Runtime, account_client: Callable[[str], Any]
) -> None:
    env = _deploy(proton, s3, "apps", APPLICATION_TEMPLATE)

    assert env["deploymentStatus"] == "SUCCEEDED", env.get("deploymentStatusMessage")
    message = _message(proton, env)
    assert message.startswith("Stood in for in the local cloud: ")
    for stood_in in (
        "ServerlessHttpApi (AWS::ApiGatewayV2::Api)",
        "Build (AWS::CodeBuild::Project)",
        "Pipeline (AWS::CodePipeline::Pipeline)",
    ):
        assert stood_in in message
    assert "outputs left empty" not in message
    outputs = _outputs(proton, "apps")
    repository = outputs["RepositoryName"]
    assert repository == repository.lower() and repository.endswith("-images")
    [found] = account_client("ecr").describe_repositories(repositoryNames=[repository])["repositories"]
    assert found["repositoryName"] == repository
    assert outputs["TargetGroupName"] == "apps-web"
    sqs = account_client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=outputs["QueueUrl"], AttributeNames=["VisibilityTimeout"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "45"
    assert outputs["FunctionArn"].startswith(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:")
    function_name = outputs["FunctionArn"].rsplit(":", 1)[-1]
    assert (
        account_client("lambda").get_function(FunctionName=function_name)["Configuration"]["Runtime"]
        == "python3.12"
    )
    assert outputs["ApiUrl"].startswith("https://") and outputs["ApiUrl"].endswith(
        f".execute-api.{REGION}.amazonaws.com/hello"
    )
    assert "${" not in outputs["ApiUrl"]
    assert outputs["BuildArn"].startswith(f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/")
    assert outputs["PipelineName"] == "apps-delivery"
    assert outputs["PipelineUrl"].endswith("/pipelines/apps-delivery/view")
    with runtime.database.read() as connection:
        story = "".join(c.text for c in run_logs.read(connection, env["lastSucceededDeploymentId"]))
    assert "Adapted for the local cloud: SAM transform expanded; " in story
    assert "Targets: target group name apps-web (without --)" in story
    assert "; stood in for: " in story and "ServerlessHttpApi (AWS::ApiGatewayV2::Api)" in story
    sent = account_client("cloudformation").get_template(StackName=_stack("apps"))["TemplateBody"]
    assert isinstance(sent, dict)  # JSON: moto never reads the YAML
    assert "Pipeline" not in sent["Resources"] and "Transform" not in sent

    _delete(proton, "apps")

    assert _gone(account_client("ecr").describe_repositories, repositoryNames=[repository])
    assert _gone(account_client("elbv2").describe_target_groups, Names=["apps-web"])


UNSUPPORTED_FUNCTION = """Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: !ImportValue shared-network-cidr
  Subnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref VPC
      CidrBlock: !Select [0, !Cidr [!ImportValue shared-network-cidr, 2, 8]]
"""


@pytest.mark.usefixtures("local_cloud")
def test_a_function_the_local_cloud_cannot_evaluate_fails_at_once_naming_the_resource(
    proton: Any, s3: Any, worker: Any, account_client: Callable[[str], Any]
) -> None:
    env = _deploy(proton, s3, "cidr", UNSUPPORTED_FUNCTION)

    assert env["deploymentStatus"] == "FAILED"
    assert _message(proton, env) == (
        f"The local cloud cannot deploy stack {_stack('cidr')}: resource Subnet uses Fn::Cidr, which the "
        "local cloud does not evaluate (with arguments it cannot work out before sending)."
    )
    with pytest.raises(ClientError, match="does not exist"):
        account_client("cloudformation").describe_stacks(StackName=_stack("cidr"))


INTERNAL_ERROR = """Parameters:
  Shards:
    Type: String
    Default: many
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: '{{ environment.name }}-leftover'
  Stream:
    Type: AWS::Kinesis::Stream
    Properties:
      ShardCount: !Ref Shards
"""


@pytest.mark.usefixtures("local_cloud")
def test_an_internal_error_of_the_local_cloud_fails_at_once_and_removes_what_was_created(
    proton: Any, s3: Any, worker: Any, account_client: Callable[[str], Any]
) -> None:
    env = _deploy(proton, s3, "crash", INTERNAL_ERROR)

    assert env["deploymentStatus"] == "FAILED"
    # The first line is the failure; cfn-lint's warning about the text given as a number follows.
    message, warning = _message(proton, env).split("\n")
    assert message == (
        f"The local cloud failed on CreateStack {_stack('crash')} with an internal error (HTTP 500): "
        "something in the template is not supported by its CloudFormation; the stack and what it had "
        "created were deleted."
    )
    assert warning.startswith("cfn-lint W1030 in infrastructure/cloudformation.yaml line 13: ")
    assert "XML" not in message and "<" not in message
    with pytest.raises(ClientError, match="does not exist"):
        account_client("cloudformation").describe_stacks(StackName=_stack("crash"))
    assert account_client("sqs").list_queues(QueueNamePrefix="crash-leftover").get("QueueUrls", []) == []


REFUSED = """Parameters:
  Repository:
    Type: String
    Default: Capitals-Refused
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: '{{ environment.name }}-leftover'
  Images:
    Type: AWS::ECR::Repository
    Properties:
      RepositoryName: !Ref Repository
"""


@pytest.mark.usefixtures("local_cloud")
def test_a_refused_creation_is_cleaned_up_since_the_local_cloud_does_not_roll_back(
    proton: Any, s3: Any, worker: Any, account_client: Callable[[str], Any]
) -> None:
    env = _deploy(proton, s3, "refused", REFUSED)

    assert env["deploymentStatus"] == "FAILED"
    message, warning = _message(proton, env).split("\n")
    assert warning.startswith("cfn-lint W1030 in infrastructure/cloudformation.yaml line 4: ")
    assert message.startswith(f"CreateStack {_stack('refused')} failed: InvalidParameterException: ")
    assert message.endswith(
        "(the local cloud does not roll back: the stack and what it had created were deleted)"
    )
    with pytest.raises(ClientError, match="does not exist"):
        account_client("cloudformation").describe_stacks(StackName=_stack("refused"))
    assert account_client("sqs").list_queues(QueueNamePrefix="refused-leftover").get("QueueUrls", []) == []


PLAIN = """AWSTemplateFormatVersion: 2010-09-09
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
Outputs:
  QueueArn:
    Value: !GetAtt Queue.Arn
"""


def test_a_cloudformation_that_is_not_the_local_cloud_gets_the_template_as_rendered(
    proton: Any, s3: Any, worker: Any, account_client: Callable[[str], Any]
) -> None:
    env = _deploy(proton, s3, "aws", PLAIN)

    assert env["deploymentStatus"] == "SUCCEEDED"
    assert (
        "deploymentStatusMessage"
        not in proton.get_deployment(id=env["lastSucceededDeploymentId"])["deployment"]
    )
    sent = account_client("cloudformation").get_template(StackName=_stack("aws"))["TemplateBody"]
    assert sent == PLAIN


@pytest.mark.usefixtures("local_cloud")
def test_the_local_cloud_gets_json(
    proton: Any, s3: Any, worker: Any, account_client: Callable[[str], Any]
) -> None:
    env = _deploy(proton, s3, "json", PLAIN)

    assert env["deploymentStatus"] == "SUCCEEDED"
    assert (
        "deploymentStatusMessage"
        not in proton.get_deployment(id=env["lastSucceededDeploymentId"])["deployment"]
    )
    sent = account_client("cloudformation").get_template(StackName=_stack("json"))["TemplateBody"]
    assert sent == {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}}},
        "Outputs": {"QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}}},
    }


UPDATED = """Resources:
  Logs:
    Type: AWS::Logs::LogGroup
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: '{{ 30 if environment.inputs.vpc_cidr == "10.20.0.0/16" else 60 }}'
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: '{{ environment.name }}-depth'
      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions: [{Name: QueueName, Value: !GetAtt Queue.QueueName}]
      Statistic: Average
      Period: 60
      EvaluationPeriods: 1
      Threshold: 10
      ComparisonOperator: GreaterThanThreshold
Outputs:
  QueueUrl:
    Value: !Ref Queue
  AlarmName:
    Value: !Ref Alarm
"""


@pytest.mark.usefixtures("local_cloud")
def test_an_update_in_the_local_cloud_changes_the_stack_and_keeps_naming_stand_ins(
    proton: Any, s3: Any, worker: Any, account_client: Callable[[str], Any]
) -> None:
    env = _deploy(proton, s3, "upd", UPDATED)
    assert env["deploymentStatus"] == "SUCCEEDED"
    url = _outputs(proton, "upd")["QueueUrl"]

    proton.update_environment(
        name="upd", deploymentType="CURRENT_VERSION", spec=SPEC.replace("10.20.", "10.21.")
    )
    updated = poll(
        lambda: proton.get_environment(name="upd")["environment"],
        lambda found: found["deploymentStatus"] != "IN_PROGRESS",
        timeout=60,
        what="the update of environment upd",
    )

    assert updated["deploymentStatus"] == "SUCCEEDED"
    assert updated["lastSucceededDeploymentId"] != env["lastSucceededDeploymentId"]
    stood_in = "Stood in for in the local cloud: Alarm (AWS::CloudWatch::Alarm)."
    assert _message(proton, updated) == stood_in
    assert updated["deploymentStatusMessage"] == stood_in
    assert _outputs(proton, "upd") == {"QueueUrl": url, "AlarmName": "upd-depth"}
    attributes = account_client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["VisibilityTimeout"]
    )
    assert attributes["Attributes"]["VisibilityTimeout"] == "60"
    stack = account_client("cloudformation").describe_stacks(StackName=_stack("upd"))["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"


RETIRED_RUNTIME = """Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
  Handler:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.6
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: "def handler(event, context):\\n    return event\\n"
Outputs:
  FunctionName:
    Value: !Ref Handler
"""


def test_a_runtime_aws_retired_fails_on_aws_and_is_a_warning_in_the_local_cloud(
    proton: Any, s3: Any, worker: Any, runtime: Runtime, moto_endpoint: str
) -> None:
    refused = _deploy(proton, s3, "aws-runtime", RETIRED_RUNTIME)
    assert refused["deploymentStatus"] == "FAILED"
    assert refused["deploymentStatusMessage"].startswith(
        "cfn-lint E2533 in infrastructure/cloudformation.yaml line 14: "
    )

    runtime.settings.local_cloud_url = moto_endpoint
    local = _deploy(proton, s3, "local-runtime", RETIRED_RUNTIME)
    assert local["deploymentStatus"] == "SUCCEEDED"
    assert (
        "cfn-lint E2533 in infrastructure/cloudformation.yaml line 14: this fails on AWS (the local cloud "
        "deploys it anyway): " in _message(proton, local)
    )
    assert _outputs(proton, "local-runtime")["FunctionName"]


GATEWAY_VPC = """Mappings:
  Network:
    VPC:
      CIDR: '{{ environment.inputs.vpc_cidr }}'
Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: !FindInMap [Network, VPC, CIDR]
  Gateway:
    Type: AWS::EC2::InternetGateway
  Attachment:
    Type: AWS::EC2::VPCGatewayAttachment
    Properties:
      VpcId: !Ref VPC
      InternetGatewayId: !Ref Gateway
  Subnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref VPC
      CidrBlock: '{{ environment.inputs.vpc_cidr | replace("/16", "/24") }}'
  Routes:
    Type: AWS::EC2::RouteTable
    Properties:
      VpcId: !Ref VPC
  DefaultRoute:
    Type: AWS::EC2::Route
    DependsOn: Attachment
    Properties:
      RouteTableId: !Ref Routes
      DestinationCidrBlock: 0.0.0.0/0
      GatewayId: !Ref Gateway
  SubnetRoutes:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties:
      SubnetId: !Ref Subnet
      RouteTableId: !Ref Routes
  NatAddress:
    Type: AWS::EC2::EIP
    DependsOn: Attachment
    Properties:
      Domain: vpc
  Nat:
    Type: AWS::EC2::NatGateway
    Properties:
      AllocationId: !GetAtt NatAddress.AllocationId
      SubnetId: !Ref Subnet
Outputs:
  VpcId:
    Value: !Ref VPC
  NatGateway:
    Value: !Ref Nat
"""


def _owned(ec2: Any, vpcs: set[str], gateways: set[str]) -> dict[str, list[str]]:
    """What is left in the account of the given VPCs and internet gateways, by kind."""
    described = ec2.describe_internet_gateways()["InternetGateways"]
    return {
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["VpcId"] in vpcs],
        "gateways": [
            g["InternetGatewayId"]
            for g in described
            if g["InternetGatewayId"] in gateways or {a["VpcId"] for a in g["Attachments"]} & vpcs
        ],
        "route tables": [
            t["RouteTableId"] for t in ec2.describe_route_tables()["RouteTables"] if t.get("VpcId") in vpcs
        ],
        "subnets": [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if s["VpcId"] in vpcs],
    }


@pytest.mark.usefixtures("local_cloud")
def test_a_vpc_whose_cidr_changed_is_replaced_and_deletes_without_leaving_its_gateway(
    proton: Any, s3: Any, worker: Any, account_client: Callable[[str], Any]
) -> None:
    ec2 = account_client("ec2")
    before = {g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]}
    env = _deploy(proton, s3, "cidr", GATEWAY_VPC)
    assert env["deploymentStatus"] == "SUCCEEDED", env.get("deploymentStatusMessage")
    first = _outputs(proton, "cidr")["VpcId"]

    proton.update_environment(
        name="cidr", deploymentType="CURRENT_VERSION", spec=SPEC.replace("10.20.", "10.21.")
    )
    updated = poll(
        lambda: proton.get_environment(name="cidr")["environment"],
        lambda found: found["deploymentStatus"] != "IN_PROGRESS",
        timeout=60,
        what="the update of environment cidr",
    )

    assert updated["deploymentStatus"] == "SUCCEEDED", updated.get("deploymentStatusMessage")
    second = _outputs(proton, "cidr")["VpcId"]
    assert second != first
    [vpc] = ec2.describe_vpcs(VpcIds=[second])["Vpcs"]
    assert vpc["CidrBlock"] == "10.21.0.0/16"
    assert _gone(ec2.describe_vpcs, VpcIds=[first])
    created = {g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]} - before
    stack = account_client("cloudformation").list_stack_resources(StackName=_stack("cidr"))
    named = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in stack["StackResourceSummaries"]}
    assert named["VPC"] == second
    assert created == {named["Gateway"]}
    [gateway] = ec2.describe_internet_gateways(InternetGatewayIds=[named["Gateway"]])["InternetGateways"]
    assert [a["VpcId"] for a in gateway["Attachments"]] == [second]
    [subnet] = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [second]}])["Subnets"]
    assert subnet["CidrBlock"] == "10.21.0.0/24"
    nat = _outputs(proton, "cidr")["NatGateway"]
    [described] = ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"]
    assert (described["SubnetId"], described["State"]) == (subnet["SubnetId"], "available")
    [allocation] = [a["AllocationId"] for a in described["NatGatewayAddresses"]]

    _delete(proton, "cidr")

    assert _owned(ec2, {first, second}, created) == {
        "vpcs": [],
        "gateways": [],
        "route tables": [],
        "subnets": [],
    }
    assert _gone(ec2.describe_addresses, AllocationIds=[allocation])
