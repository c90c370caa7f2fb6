"""`adapt` on its own: each rewrite, each stand-in kind, and what it refuses, on small templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from baryon.engine.provisioners.localcloud import models as model_cache
from baryon.engine.provisioners.localcloud.adapt import NotSupported, adapt
from baryon.engine.provisioners.localcloud.models import models
from baryon.engine.provisioners.localcloud.standins import modelled_types

REGION = "eu-west-1"
ACCOUNT = "123456789012"
STACK = "AWSProton-dev-cloudformation-abcd1234"


def adapted(text: str) -> tuple[dict[str, Any], Any]:
    result = adapt(text, region=REGION, account_id=ACCOUNT, stack_name=STACK)
    return json.loads(result.template_json), result


def test_yaml_short_forms_become_json_and_dates_stay_text() -> None:
    template, result = adapted(
        """AWSTemplateFormatVersion: 2010-09-09
Resources:
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  Dotted: {Value: !GetAtt Queue.Arn}
  Listed:
    Value: !GetAtt
      - Queue
      - QueueName
  Joined: {Value: !Join ['-', [!Ref Queue, !Sub '${AWS::Region}']]}
"""
    )
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Outputs"] == {
        "Dotted": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}},
        "Listed": {"Value": {"Fn::GetAtt": ["Queue", "QueueName"]}},
        "Joined": {"Value": {"Fn::Join": ["-", [{"Ref": "Queue"}, {"Fn::Sub": "${AWS::Region}"}]]}},
    }
    assert result.stand_ins == [] and result.notes == []
    assert result.outputs == ["Dotted", "Listed", "Joined"]


def test_get_azs_of_the_region_and_cidr_are_written_in() -> None:
    template, result = adapted(
        """Parameters:
  Block: {Type: String, Default: 10.1.0.0/16}
Resources:
  VPC: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}
  A:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref VPC
      AvailabilityZone: !Select [0, !GetAZs {Ref: 'AWS::Region'}]
      CidrBlock: !Select [2, !Cidr [!GetAtt VPC.CidrBlock, 3, 8]]
  B:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref VPC
      AvailabilityZone: !Select [1, !GetAZs '']
      CidrBlock: !Select [0, !Cidr [!Ref Block, 1, 12]]
"""
    )
    a, b = template["Resources"]["A"]["Properties"], template["Resources"]["B"]["Properties"]
    assert a["AvailabilityZone"] == {"Fn::Select": [0, {"Fn::GetAZs": REGION}]}
    assert b["AvailabilityZone"] == {"Fn::Select": [1, {"Fn::GetAZs": REGION}]}
    assert a["CidrBlock"] == {"Fn::Select": [2, ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]]}
    assert b["CidrBlock"] == {"Fn::Select": [0, ["10.1.0.0/20"]]}
    assert result.notes == [
        f"Fn::GetAZs: the stack's region {REGION} written in (2 times)",
        "Fn::Cidr evaluated (2 times)",
    ]


def test_names_numbers_and_ports() -> None:
    template, _ = adapted(
        """Resources:
  Images: {Type: AWS::ECR::Repository}
  Named: {Type: AWS::ECR::Repository, Properties: {RepositoryName: kept}}
  Targets: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Name: svc--inst, Port: '80'}}
  Queue: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: '30', QueueName: '123'}}
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Cpu: '256'
      Memory: '512'
      ContainerDefinitions:
        - {Name: web, Cpu: '128', Memory: '256', PortMappings: [{ContainerPort: '8080'}]}
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: g
      SecurityGroupIngress:
        - {IpProtocol: -1, CidrIp: 10.0.0.0/8}
        - {IpProtocol: tcp, FromPort: 80, ToPort: 80}
  Ingress: {Type: AWS::EC2::SecurityGroupIngress, Properties: {GroupId: sg-1, IpProtocol: '-1'}}
  Api: {Type: AWS::ApiGateway::RestApi, Properties: {Body: {openapi: 3.0.1, info: {title: orders}}}}
"""
    )
    resources = template["Resources"]
    assert resources["Images"]["Properties"] == {
        "RepositoryName": "awsproton-dev-cloudformation-abcd1234-images"
    }
    assert resources["Named"]["Properties"] == {"RepositoryName": "kept"}
    assert resources["Targets"]["Properties"] == {"Name": "svc-inst", "Port": 80}
    assert resources["Queue"]["Properties"] == {"VisibilityTimeout": 30, "QueueName": "123"}
    task = resources["Task"]["Properties"]
    assert (task["Cpu"], task["Memory"]) == ("256", "512")
    assert task["ContainerDefinitions"] == [
        {"Name": "web", "Cpu": 128, "Memory": 256, "PortMappings": [{"ContainerPort": 8080}]}
    ]
    assert resources["Group"]["Properties"]["SecurityGroupIngress"] == [
        {"IpProtocol": -1, "CidrIp": "10.0.0.0/8", "FromPort": -1, "ToPort": -1},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80},
    ]
    assert resources["Ingress"]["Properties"] == {
        "GroupId": "sg-1",
        "IpProtocol": "-1",
        "FromPort": -1,
        "ToPort": -1,
    }
    assert resources["Api"]["Properties"]["Name"] == "orders"


def test_sam_is_expanded_offline() -> None:
    template, result = adapted(
        """Transform: AWS::Serverless-2016-10-31
Resources:
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: 'def handler(e, c): return e'
      Policies: [AWSLambdaBasicExecutionRole]
"""
    )
    assert "Transform" not in template
    assert {name: body["Type"] for name, body in template["Resources"].items()} == {
        "Handler": "AWS::Lambda::Function",
        "HandlerRole": "AWS::IAM::Role",
    }
    role = template["Resources"]["HandlerRole"]["Properties"]
    assert "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" in role["ManagedPolicyArns"]
    assert result.notes == ["SAM transform expanded"]


def test_a_bad_sam_resource_is_not_supported_with_the_translator_reason() -> None:
    with pytest.raises(NotSupported, match=r"the SAM transform failed: Resource with id \[Bad\] is invalid"):
        adapted(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n  Bad:\n    Type: AWS::Serverless::Function\n"
        )


STAND_INS = """Resources:
  Namespace: {Type: AWS::ServiceDiscovery::PrivateDnsNamespace, Properties: {Name: corp.local, Vpc: vpc-1}}
  Build: {Type: AWS::CodeBuild::Project, Properties: {Name: builder}}
  Subscription: {Type: AWS::SNS::Subscription}
  Custom: {Type: Custom::Thing, Properties: {ServiceToken: arn:aws:lambda:x}}
  Queue:
    Type: AWS::SQS::Queue
    DependsOn: [Build, Namespace]
    Properties:
      QueueName: !Sub '${Build}-${Namespace.Id}-${!Literal}'
  Topic:
    Type: AWS::SNS::Topic
    DependsOn: Subscription
    Properties:
      TopicName: !Sub ['${Build}-${Mine}', {Mine: !Ref Custom, Build: own}]
Outputs:
  NamespaceId: {Value: !GetAtt [Namespace, Id]}
  Zone: {Value: !GetAtt Namespace.HostedZoneId}
  BuildArn: {Value: !GetAtt Build.Arn}
  BuildName: {Value: !Ref Build}
  SubscriptionArn: {Value: !Ref Subscription}
  Reply: {Value: !GetAtt Custom.Reply}
"""


def test_stand_ins_keep_references_working_with_stable_values() -> None:
    template, result = adapted(STAND_INS)
    again, _ = adapted(STAND_INS)

    assert again == template
    assert [(s.logical_id, s.type) for s in result.stand_ins] == [
        ("Namespace", "AWS::ServiceDiscovery::PrivateDnsNamespace"),
        ("Build", "AWS::CodeBuild::Project"),
        ("Subscription", "AWS::SNS::Subscription"),
        ("Custom", "Custom::Thing"),
    ]
    assert set(template["Resources"]) == {"Queue", "Topic"}
    namespace = result.stand_ins[0].physical_id
    assert namespace.startswith("ns-") and len(namespace) == 19
    queue = template["Resources"]["Queue"]
    assert "DependsOn" not in queue and "DependsOn" not in template["Resources"]["Topic"]
    assert queue["Properties"]["QueueName"] == {"Fn::Sub": f"builder-{namespace}-${{!Literal}}"}
    custom = result.stand_ins[3].physical_id
    assert custom.startswith(f"{STACK}-Custom-")
    assert template["Resources"]["Topic"]["Properties"]["TopicName"] == {
        "Fn::Sub": ["${Build}-${Mine}", {"Mine": custom, "Build": "own"}]
    }
    outputs = {key: body["Value"] for key, body in template["Outputs"].items()}
    assert outputs["NamespaceId"] == namespace
    assert outputs["Zone"].startswith("Z") and len(outputs["Zone"]) == 14
    assert outputs["BuildArn"] == f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/builder"
    assert outputs["BuildName"] == "builder"
    assert outputs["SubscriptionArn"].startswith(f"arn:aws:sns:{REGION}:{ACCOUNT}:subscription/")
    assert outputs["Reply"] == f"{custom}.Reply"


def test_the_modelled_types_come_from_moto() -> None:
    types = modelled_types()
    assert {"AWS::EC2::VPC", "AWS::SQS::Queue", "AWS::Lambda::Function"} <= types
    assert not types & {"AWS::CodeBuild::Project", "AWS::SERVICE::RESOURCE", "AWS::Serverless::Function"}
    found = models()
    assert found["AWS::SQS::Queue"].attributes == {"Arn", "QueueName"}
    assert found["AWS::RDS::DBInstance"].readable("Endpoint.Address")
    assert found["AWS::EC2::VPC"].readable("CidrBlock")  # moto's default: any attribute
    assert not found["AWS::ElasticLoadBalancingV2::TargetGroup"].readable("TargetGroupName")
    assert not found["AWS::KMS::Alias"].readable("Arn")


def test_moto_is_asked_once_and_the_answer_kept_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BARYON_CACHE_DIR", str(tmp_path / "cache"))
    path = model_cache.cache_file()
    assert path is not None and path.parent == tmp_path / "cache"
    asked: list[int] = []
    real = model_cache._ask_moto

    def counting() -> dict[str, Any]:
        asked.append(1)
        return real()

    monkeypatch.setattr(model_cache, "_ask_moto", counting)
    model_cache.models.cache_clear()
    try:
        first = model_cache.models()
        assert asked == [1] and path.is_file()
        # A later process (a cleared memory cache) reads the file instead of asking moto.
        model_cache.models.cache_clear()
        assert model_cache.models() == first and asked == [1]
        # A damaged file, or one of another shape, is asked again and replaced.
        for damaged in ("{not json", "[]", '{"AWS::SQS::Queue": {"getatt": "yes"}}'):
            path.write_text(damaged)
            model_cache.models.cache_clear()
            assert model_cache.models() == first
        assert len(asked) == 4 and json.loads(path.read_text())["AWS::SQS::Queue"]["getatt"] is True
        # A cache directory that cannot be written is not an error.
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        monkeypatch.setenv("BARYON_CACHE_DIR", str(blocker / "cache"))
        model_cache.models.cache_clear()
        assert model_cache.models() == first and len(asked) == 5
    finally:
        model_cache.models.cache_clear()


def test_unreadable_attributes() -> None:
    template, result = adapted(
        """Resources:
  Targets: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Name: web, Port: 80}}
  Unnamed: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Port: 80}}
Outputs:
  Name: {Value: !GetAtt Targets.TargetGroupName}
  Full: {Value: !GetAtt Unnamed.TargetGroupFullName}
"""
    )
    assert template["Outputs"] == {"Name": {"Value": "web"}}
    assert result.outputs == ["Name", "Full"]
    assert (
        "output Full left out: the local cloud does not provide Unnamed.TargetGroupFullName" in result.notes
    )
    with pytest.raises(
        NotSupported, match=r"resource Queue reads Targets\.TargetGroupFullName, an attribute"
    ):
        adapted(
            """Resources:
  Targets: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Port: 80}}
  Queue: {Type: AWS::SQS::Queue, Properties: {QueueName: !GetAtt Targets.TargetGroupFullName}}
"""
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Resources:\n  A: {Type: AWS::SQS::Queue, Properties: {QueueName: !Length [1]}}\n",
            "resource A uses Fn::Length",
        ),
        (
            "Resources:\n  A: {Type: AWS::SQS::Queue}\n"
            "Outputs:\n  O: {Value: !Cidr [!ImportValue x, 2, 8]}\n",
            "output O uses Fn::Cidr",
        ),
        ("- just\n- a list\n", "the template is not a mapping"),
        ("Resources: {A: [unclosed\n", "the template is neither JSON nor YAML"),
    ],
)
def test_what_the_local_cloud_cannot_take_is_named(text: str, message: str) -> None:
    with pytest.raises(NotSupported, match=message):
        adapted(text)


def test_a_deployment_of_an_openapi_rest_api_is_stood_in_for() -> None:
    template, result = adapted(
        """Resources:
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Body: {openapi: 3.0.1, info: {title: orders}, paths: {/: {get: {}}}}
  Release:
    Type: AWS::ApiGateway::Deployment
    Properties:
      RestApiId: !Ref Api
      StageName: Stage
  Plain:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: plain}
  PlainRelease:
    Type: AWS::ApiGateway::Deployment
    Properties: {RestApiId: !Ref Plain}
Outputs:
  Deployment: {Value: !Ref Release}
"""
    )
    assert [(s.logical_id, s.type) for s in result.stand_ins] == [("Release", "AWS::ApiGateway::Deployment")]
    assert set(template["Resources"]) == {"Api", "Plain", "PlainRelease"}
    deployment = template["Outputs"]["Deployment"]["Value"]
    assert len(deployment) == 6 and deployment == result.stand_ins[0].physical_id
