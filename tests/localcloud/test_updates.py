"""Stack updates in the local cloud change what they describe, or fail saying why."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import Cloud


def _queue(properties: dict[str, Any], output: str = "QueueUrl") -> str:
    return json.dumps(
        {
            "Resources": {
                "Queue": {"Type": "AWS::SQS::Queue", "Properties": properties},
                "Logs": {
                    "Type": "AWS::Logs::LogGroup",
                    "Properties": {"LogGroupName": "app", "RetentionInDays": 7},
                },
            },
            "Outputs": {output: {"Value": {"Ref": "Queue"}}},
        }
    )


def test_queue_attributes_tags_and_outputs_change_in_place(cloud: Cloud) -> None:
    cloud.start()
    cloudformation, sqs = cloud.client("cloudformation"), cloud.client("sqs")
    cloudformation.create_stack(StackName="app", TemplateBody=_queue({"MessageRetentionPeriod": 300}))
    (url,) = sqs.list_queues()["QueueUrls"]
    changed = {
        "MessageRetentionPeriod": 600,
        "VisibilityTimeout": 45,
        "Tags": [{"Key": "team", "Value": "a"}],
    }
    cloudformation.update_stack(StackName="app", TemplateBody=_queue(changed, output="WorkQueue"))
    stack = cloudformation.describe_stacks(StackName="app")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert [o["OutputKey"] for o in stack["Outputs"]] == ["WorkQueue"]
    assert sqs.list_queues()["QueueUrls"] == [url]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["MessageRetentionPeriod"], attributes["VisibilityTimeout"]) == ("600", "45")
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}


def test_a_new_queue_name_replaces_the_queue(cloud: Cloud) -> None:
    cloud.start()
    cloudformation, sqs = cloud.client("cloudformation"), cloud.client("sqs")
    cloudformation.create_stack(StackName="app", TemplateBody=_queue({"QueueName": "first"}))
    cloudformation.update_stack(StackName="app", TemplateBody=_queue({"QueueName": "second"}))
    assert [u.rsplit("/", 1)[-1] for u in sqs.list_queues()["QueueUrls"]] == ["second"]


def test_a_log_group_keeps_its_name_and_takes_the_new_retention(cloud: Cloud) -> None:
    cloud.start()
    cloudformation, logs = cloud.client("cloudformation"), cloud.client("logs")
    body = json.loads(_queue({}))
    cloudformation.create_stack(StackName="app", TemplateBody=json.dumps(body))
    body["Resources"]["Logs"]["Properties"]["RetentionInDays"] = 30
    cloudformation.update_stack(StackName="app", TemplateBody=json.dumps(body))
    assert [(g["logGroupName"], g["retentionInDays"]) for g in logs.describe_log_groups()["logGroups"]] == [
        ("app", 30)
    ]


def test_an_update_the_local_cloud_cannot_apply_fails_and_rolls_back(cloud: Cloud) -> None:
    cloud.start()
    cloudformation = cloud.client("cloudformation")
    table: dict[str, Any] = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "TableName": "orders",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    }
    first = json.dumps({"Resources": {"Table": table}})
    cloudformation.create_stack(StackName="app", TemplateBody=first)
    table["Properties"]["BillingMode"] = "PROVISIONED"
    table["Properties"]["ProvisionedThroughput"] = {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
    with pytest.raises(ClientError) as raised:
        cloudformation.update_stack(StackName="app", TemplateBody=json.dumps({"Resources": {"Table": table}}))
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"].startswith("The local cloud could not apply the update: ")
    assert "Table already exists: orders" in error["Message"]
    assert (
        cloudformation.describe_stacks(StackName="app")["Stacks"][0]["StackStatus"]
        == "UPDATE_ROLLBACK_COMPLETE"
    )
    assert json.loads(json.dumps(cloudformation.get_template(StackName="app")["TemplateBody"])) == json.loads(
        first
    )


def _network(cidr: str) -> str:
    return json.dumps(
        {
            "Mappings": {
                "Network": {"VPC": {"CIDR": f"{cidr}.0.0/16"}, "Subnet": {"CIDR": f"{cidr}.0.0/24"}}
            },
            "Resources": {
                "VPC": {
                    "Type": "AWS::EC2::VPC",
                    "Properties": {"CidrBlock": {"Fn::FindInMap": ["Network", "VPC", "CIDR"]}},
                },
                "Gateway": {"Type": "AWS::EC2::InternetGateway"},
                "Attachment": {
                    "Type": "AWS::EC2::VPCGatewayAttachment",
                    "Properties": {"VpcId": {"Ref": "VPC"}, "InternetGatewayId": {"Ref": "Gateway"}},
                },
                "Subnet": {
                    "Type": "AWS::EC2::Subnet",
                    "Properties": {
                        "VpcId": {"Ref": "VPC"},
                        "CidrBlock": {"Fn::FindInMap": ["Network", "Subnet", "CIDR"]},
                    },
                },
                "Routes": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "VPC"}}},
                "DefaultRoute": {
                    "Type": "AWS::EC2::Route",
                    "DependsOn": "Attachment",
                    "Properties": {
                        "RouteTableId": {"Ref": "Routes"},
                        "DestinationCidrBlock": "0.0.0.0/0",
                        "GatewayId": {"Ref": "Gateway"},
                    },
                },
            },
            "Outputs": {"VpcId": {"Value": {"Ref": "VPC"}}},
        }
    )


def test_a_changed_vpc_cidr_replaces_the_vpc_with_its_dependents_and_moves_the_gateway(cloud: Cloud) -> None:
    cloud.start()
    cloudformation, ec2 = cloud.client("cloudformation"), cloud.client("ec2")
    cloudformation.create_stack(StackName="net", TemplateBody=_network("10.20"))
    [first] = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]]
    [gateway] = [g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]]

    cloudformation.update_stack(StackName="net", TemplateBody=_network("10.21"))

    stack = cloudformation.describe_stacks(StackName="net")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    [second] = [o["OutputValue"] for o in stack["Outputs"]]
    assert second != first
    assert [(v["VpcId"], v["CidrBlock"]) for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]] == [
        (second, "10.21.0.0/16")
    ]
    assert [
        (g["InternetGatewayId"], [a["VpcId"] for a in g["Attachments"]])
        for g in ec2.describe_internet_gateways()["InternetGateways"]
    ] == [(gateway, [second])]
    summaries = cloudformation.list_stack_resources(StackName="net")["StackResourceSummaries"]
    named = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries}
    assert (named["VPC"], named["Gateway"]) == (second, gateway)
    [subnet] = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [first, second]}])["Subnets"]
    assert (subnet["SubnetId"], subnet["VpcId"], subnet["CidrBlock"]) == (
        named["Subnet"],
        second,
        "10.21.0.0/24",
    )
    [table] = ec2.describe_route_tables(RouteTableIds=[named["Routes"]])["RouteTables"]
    assert table["VpcId"] == second
    assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": gateway} in [
        {key: route[key] for key in ("DestinationCidrBlock", "GatewayId") if key in route}
        for route in table["Routes"]
    ]
    assert not ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [first]}])["RouteTables"]
