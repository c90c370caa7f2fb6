"""EC2 resources in the local cloud's stack updates (`updates`): what moto cannot do itself.

- `gateway_attachment`: an `AWS::EC2::VPCGatewayAttachment` with a new VPC or internet gateway is
  detached and attached again (AWS updates it without interruption; moto would replace it, and a
  gateway can only be attached once);
- `RETIRE`: how the original of a replaced resource whose type moto cannot delete is removed (route
  tables with their associations, routes, subnet associations, internet gateways, NAT gateways with
  their address association and network interface);
- `RETIRE_FIRST`: types whose original goes before the replacement is made.

Invariants: acts only inside the local cloud's process, only on the resources handed to it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any


def gateway_attachment(original: Any, new: dict[str, Any]) -> bool:
    """A new `VpcId` or `InternetGatewayId` moves the attachment (no interruption in AWS): detach the old
    pair, attach the new one."""
    if "InternetGatewayId" not in new or original.gateway_id is None:
        return False
    from moto.ec2.models import ec2_backends

    backends = [
        regional
        for account in ec2_backends.values()
        for regional in account.values()
        if original.gateway_id in regional.internet_gateways
    ]
    if not backends:
        return False
    backend = backends[0]
    gateway, vpc = str(new["InternetGatewayId"]), str(new["VpcId"])
    if (gateway, vpc) == (original.gateway_id, original.vpc_id):
        return True
    with suppress(Exception):
        backend.detach_internet_gateway(internet_gateway_id=original.gateway_id, vpc_id=original.vpc_id)
    backend.attach_internet_gateway(internet_gateway_id=gateway, vpc_id=vpc)
    original.gateway_id, original.vpc_id = gateway, vpc
    return True


def _ec2(resource: Any) -> Any:
    return resource.ec2_backend


def _retire_route_table(table: Any) -> None:
    backend = _ec2(table)
    for association in list(table._associations):
        backend.disassociate_route_table(association)
    backend.delete_route_table(table.id)


def _retire_route(route: Any) -> None:
    table = route.route_table
    if table.id in table.ec2_backend.route_tables:
        table.routes.pop(route.id, None)


def _retire_association(association: Any) -> None:
    from moto.ec2.models import ec2_backends

    for account in ec2_backends.values():
        for backend in account.values():
            table = backend.route_tables.get(association.route_table_id)
            if table is not None:
                for key, subnet in list(table._associations.items()):
                    if subnet == association.subnet_id:
                        del table._associations[key]


def _retire_internet_gateway(gateway: Any) -> None:
    if gateway.vpc is not None:
        gateway.ec2_backend.detach_internet_gateway(internet_gateway_id=gateway.id, vpc_id=gateway.vpc.id)
    gateway.ec2_backend.delete_internet_gateway(gateway.id)


def _retire_nat_gateway(nat: Any) -> None:
    """Delete the NAT gateway and free its address and network interface (moto only marks it deleted)."""
    backend = nat.ec2_backend
    backend.delete_nat_gateway(nat.id)
    interface = getattr(nat, "_eni", None)
    if interface is None:
        return
    for address in backend.addresses:
        if address.eni is interface and address.association_id:
            backend.disassociate_address(association_id=address.association_id)
    with suppress(Exception):
        backend.delete_network_interface(interface.id)


#: How a replaced resource moto cannot delete itself is retired.
RETIRE: dict[str, Callable[[Any], None]] = {
    "AWS::EC2::RouteTable": _retire_route_table,
    "AWS::EC2::Route": _retire_route,
    "AWS::EC2::SubnetRouteTableAssociation": _retire_association,
    "AWS::EC2::InternetGateway": _retire_internet_gateway,
    "AWS::EC2::NatGateway": _retire_nat_gateway,
}
#: Types whose original goes before its replacement is made (a NAT gateway's replacement takes the same
#: Elastic IP, which one address can only be associated with once).
RETIRE_FIRST = frozenset({"AWS::EC2::NatGateway"})
