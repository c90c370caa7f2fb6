"""What the local cloud leaves behind when it deletes a stack, removed around its DeleteStack.

moto's DeleteStack does not delete the NAT gateways, internet gateways (nor their attachments), route
tables and Elastic IPs a stack created, so deleting the VPC fails with DependencyViolation — and moto then
drops the stack record anyway, leaking all of it. `before_delete` removes them first, in the order EC2
needs: NAT gateways; route tables (their subnet associations first); internet gateways (detached first);
Elastic IPs (disassociated first); then network interfaces still in the stack's VPCs (a NAT gateway's).
The stack's own DeleteStack then removes the rest (subnets, security groups, the VPC).

Other types moto's DeleteStack never deletes (`AFTER`: ELBv2 target groups, ECS clusters with their
services, ECS task definitions, log groups, managed policies, ECR repositories) cannot go first (what
uses them is deleted by the DeleteStack), so `before_delete` answers them and `after_delete` removes them
once the stack is gone.

Invariants: only resources the stack lists (ListStackResources) and network interfaces inside the VPCs
it lists are touched, never one whose DeletionPolicy is Retain or Snapshot (AWS keeps those too); every
call is safe to repeat (a resource already gone is skipped); a failing call does not stop the others —
the DeleteStack that follows reports what is still in the way.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from baryon.engine.provisioners.errors import BOTO_ERRORS
from baryon.engine.provisioners.localcloud.template import TemplateError, load
from baryon.engine.provisioners.targets import Target, client

log = logging.getLogger(__name__)

#: Types moto's DeleteStack leaves behind that can only be removed once the stack is gone.
AFTER = (
    "AWS::ECS::Cluster",
    "AWS::ECS::TaskDefinition",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::Logs::LogGroup",
    "AWS::IAM::ManagedPolicy",
    "AWS::ECR::Repository",
)
_KEPT = ("Retain", "Snapshot", "RetainExceptOnCreate")
_UNREADABLE: tuple[type[Exception], ...] = (*BOTO_ERRORS, TemplateError)


def _retained(cf: Any, stack: str) -> set[str]:
    """Logical ids of the stack's resources whose DeletionPolicy keeps them."""
    try:
        body = cf.get_template(StackName=stack)["TemplateBody"]
        template = body if isinstance(body, dict) else load(str(body))
    except _UNREADABLE:
        return set()
    resources = template.get("Resources") if isinstance(template.get("Resources"), dict) else {}
    return {
        name
        for name, resource in (resources or {}).items()
        if isinstance(resource, dict) and resource.get("DeletionPolicy") in _KEPT
    }


def _by_type(cf: Any, stack: str) -> dict[str, list[str]]:
    kept = _retained(cf, stack)
    found: dict[str, list[str]] = {}
    for page in cf.get_paginator("list_stack_resources").paginate(StackName=stack):
        for summary in page.get("StackResourceSummaries", []):
            physical = summary.get("PhysicalResourceId")
            if summary.get("LogicalResourceId") in kept:
                continue
            if physical and summary.get("ResourceStatus") != "DELETE_COMPLETE":
                found.setdefault(str(summary["ResourceType"]), []).append(str(physical))
    return found


def _quietly(what: str, call: Callable[..., Any], **arguments: Any) -> None:
    try:
        call(**arguments)
    except BOTO_ERRORS as error:
        log.info("local cloud clean-up: %s: %s", what, error)


def before_delete(target: Target, stack: str) -> dict[str, list[str]]:
    """Remove what the local cloud would leave behind when deleting `stack` and can go first; answer
    what is to be removed once the stack is gone (`after_delete`), by type (see the module docstring)."""
    cf = client(target, "cloudformation")
    try:
        found = _by_type(cf, stack)
    except BOTO_ERRORS as error:
        log.info("local cloud clean-up: cannot list the resources of %s: %s", stack, error)
        return {}
    ec2 = client(target, "ec2")
    for nat in found.get("AWS::EC2::NatGateway", []):
        _quietly(f"NAT gateway {nat}", ec2.delete_nat_gateway, NatGatewayId=nat)
    for table in dict.fromkeys(found.get("AWS::EC2::RouteTable", [])):
        _remove_route_table(ec2, table)
    for gateway in found.get("AWS::EC2::InternetGateway", []):
        _remove_internet_gateway(ec2, gateway)
    for address in found.get("AWS::EC2::EIP", []):
        _release_address(ec2, address)
    vpcs = found.get("AWS::EC2::VPC", [])
    if vpcs:
        with contextlib.suppress(*BOTO_ERRORS):
            filters = [{"Name": "vpc-id", "Values": vpcs}]
            for interface in ec2.describe_network_interfaces(Filters=filters)["NetworkInterfaces"]:
                interface_id = interface["NetworkInterfaceId"]
                _quietly(
                    f"network interface {interface_id}",
                    ec2.delete_network_interface,
                    NetworkInterfaceId=interface_id,
                )
    return {kind: found[kind] for kind in AFTER if found.get(kind)}


def after_delete(target: Target, leftovers: dict[str, list[str]]) -> None:
    """Remove what `before_delete` answered, once the stack is gone."""
    if leftovers.get("AWS::ECS::Cluster"):
        ecs = client(target, "ecs")
        for cluster in leftovers["AWS::ECS::Cluster"]:
            with contextlib.suppress(*BOTO_ERRORS):
                for service in ecs.list_services(cluster=cluster).get("serviceArns", []):
                    _quietly(
                        f"ECS service {service}",
                        ecs.delete_service,
                        cluster=cluster,
                        service=service,
                        force=True,
                    )
            _quietly(f"ECS cluster {cluster}", ecs.delete_cluster, cluster=cluster)
    for task in leftovers.get("AWS::ECS::TaskDefinition", []):
        _quietly(
            f"task definition {task}", client(target, "ecs").deregister_task_definition, taskDefinition=task
        )
    for group in leftovers.get("AWS::ElasticLoadBalancingV2::TargetGroup", []):
        _quietly(f"target group {group}", client(target, "elbv2").delete_target_group, TargetGroupArn=group)
    for name in leftovers.get("AWS::Logs::LogGroup", []):
        _quietly(f"log group {name}", client(target, "logs").delete_log_group, logGroupName=name)
    for policy in leftovers.get("AWS::IAM::ManagedPolicy", []):
        _remove_policy(client(target, "iam"), policy)
    for repository in leftovers.get("AWS::ECR::Repository", []):
        _quietly(
            f"ECR repository {repository}",
            client(target, "ecr").delete_repository,
            repositoryName=repository,
            force=True,
        )


def _remove_policy(iam: Any, policy: str) -> None:
    with contextlib.suppress(*BOTO_ERRORS):
        entities = iam.list_entities_for_policy(PolicyArn=policy)
        for role in entities.get("PolicyRoles", []):
            _quietly(f"policy {policy}", iam.detach_role_policy, RoleName=role["RoleName"], PolicyArn=policy)
        for user in entities.get("PolicyUsers", []):
            _quietly(f"policy {policy}", iam.detach_user_policy, UserName=user["UserName"], PolicyArn=policy)
        for group in entities.get("PolicyGroups", []):
            _quietly(
                f"policy {policy}", iam.detach_group_policy, GroupName=group["GroupName"], PolicyArn=policy
            )
    _quietly(f"managed policy {policy}", iam.delete_policy, PolicyArn=policy)


def _remove_route_table(ec2: Any, table: str) -> None:
    try:
        found = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"]
    except BOTO_ERRORS:
        return
    for association in (found[0].get("Associations") or []) if found else []:
        if not association.get("Main") and association.get("RouteTableAssociationId"):
            association_id = association["RouteTableAssociationId"]
            _quietly(
                f"route table association {association_id}",
                ec2.disassociate_route_table,
                AssociationId=association_id,
            )
    _quietly(f"route table {table}", ec2.delete_route_table, RouteTableId=table)


def _remove_internet_gateway(ec2: Any, gateway: str) -> None:
    try:
        found = ec2.describe_internet_gateways(InternetGatewayIds=[gateway])["InternetGateways"]
    except BOTO_ERRORS:
        return
    for attachment in (found[0].get("Attachments") or []) if found else []:
        vpc = attachment.get("VpcId")
        _quietly(
            f"internet gateway {gateway} attachment",
            ec2.detach_internet_gateway,
            InternetGatewayId=gateway,
            VpcId=vpc,
        )
    _quietly(f"internet gateway {gateway}", ec2.delete_internet_gateway, InternetGatewayId=gateway)


def _release_address(ec2: Any, address: str) -> None:
    key = {"AllocationIds": [address]} if address.startswith("eipalloc-") else {"PublicIps": [address]}
    try:
        found = ec2.describe_addresses(**key)["Addresses"]
    except BOTO_ERRORS:
        return
    for item in found:
        if item.get("AssociationId"):
            _quietly(f"address {address}", ec2.disassociate_address, AssociationId=item["AssociationId"])
        if item.get("AllocationId"):
            _quietly(f"address {address}", ec2.release_address, AllocationId=item["AllocationId"])
