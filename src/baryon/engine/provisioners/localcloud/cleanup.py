"""What the local cloud leaves behind when it deletes a stack, removed before it is asked to.

moto's DeleteStack does not delete the NAT gateways, internet gateways (nor their attachments), route
tables and Elastic IPs a stack created, so deleting the VPC fails with DependencyViolation — and moto then
drops the stack record anyway, leaking all of it. `before_delete` removes them first, in the order EC2
needs: NAT gateways; route tables (their subnet associations first); internet gateways (detached first);
Elastic IPs (disassociated first); then network interfaces still in the stack's VPCs (a NAT gateway's).
The stack's own DeleteStack then removes the rest (subnets, security groups, the VPC).

Invariants: only resources the stack lists (ListStackResources) and network interfaces inside the VPCs
it lists are touched; every call is safe to repeat (a resource already gone is skipped); a failing call
does not stop the others — the DeleteStack that follows reports what is still in the way.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from baryon.engine.provisioners.errors import BOTO_ERRORS
from baryon.engine.provisioners.targets import Target, client

log = logging.getLogger(__name__)


def _by_type(cf: Any, stack: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for page in cf.get_paginator("list_stack_resources").paginate(StackName=stack):
        for summary in page.get("StackResourceSummaries", []):
            physical = summary.get("PhysicalResourceId")
            if physical and summary.get("ResourceStatus") != "DELETE_COMPLETE":
                found.setdefault(str(summary["ResourceType"]), []).append(str(physical))
    return found


def _quietly(what: str, call: Callable[..., Any], **arguments: Any) -> None:
    try:
        call(**arguments)
    except BOTO_ERRORS as error:
        log.info("local cloud clean-up: %s: %s", what, error)


def before_delete(target: Target, stack: str) -> None:
    """Remove what the local cloud would leave behind when deleting `stack` (see the module docstring)."""
    cf = client(target, "cloudformation")
    try:
        found = _by_type(cf, stack)
    except BOTO_ERRORS as error:
        log.info("local cloud clean-up: cannot list the resources of %s: %s", stack, error)
        return
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
