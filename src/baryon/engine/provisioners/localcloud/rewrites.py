"""The rewrites that let the local cloud (moto's CloudFormation) take a template CloudFormation takes.

Each rewrite is one small function `(template, place) -> notes`: it changes the template (plain data, as
`template.load` reads it) in place, only where moto is known to mishandle what CloudFormation accepts,
and answers one short note per change ("Fn::GetAZs of Subnet1: the stack's region"). `REWRITES` is the
order `adapt` applies them in.

- `get_azs`: `Fn::GetAZs` of `!Ref AWS::Region` (or of ""): moto does not resolve the argument (and
  takes "" as us-east-1); the stack's region is written in.
- `cidr`: `Fn::Cidr` (moto does not implement it) is evaluated with `ipaddress` when its block is a
  literal, a parameter's default or the literal `CidrBlock` of the resource `!GetAtt X.CidrBlock` names.
- `ecr_names`: an ECR repository without `RepositoryName` gets a lower-case name from the stack name
  and logical id (moto would generate one with capitals and then reject it).
- `target_group_names`: `--` in a literal ELBv2 target group `Name` becomes `-` (moto rejects `--`).
- `numbers`: integer strings in the numeric properties moto computes with (ECS `DesiredCount`, ports,
  container `Cpu`/`Memory`, queue periods, …) become numbers, as CloudFormation converts them.
- `all_protocol_ports`: security-group rules with `IpProtocol: -1` and no ports get `FromPort`/`ToPort`
  -1 (moto reads them unconditionally).
- `rest_api_names`: an `AWS::ApiGateway::RestApi` given only by `Body` gets `Name` (the OpenAPI title,
  else its logical id), which moto requires.

Invariants: a rewrite never changes what the stack means on AWS (same resources, same values as
CloudFormation would resolve them); anything it cannot evaluate is left as it is (the unsupported-function
check in `adapt` then names it).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from baryon.engine.provisioners.localcloud.template import walk


@dataclass(frozen=True)
class Place:
    """Where the stack goes: its region, account and name."""

    region: str
    account_id: str
    stack_name: str


Rewrite = Callable[[dict[str, Any], Place], list[str]]


def resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The template's resources by logical id (only well-formed ones)."""
    found = template.get("Resources")
    if not isinstance(found, dict):
        return {}
    return {name: body for name, body in found.items() if isinstance(body, dict)}


def properties(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource's Properties, created empty when missing."""
    props = resource.get("Properties")
    if not isinstance(props, dict):
        props = {}
        resource["Properties"] = props
    return props


def _each_section(template: dict[str, Any], change: Callable[[Any], Any]) -> None:
    """Apply `walk(…, change)` to every resource and output."""
    for section in ("Resources", "Outputs"):
        members = template.get(section)
        if isinstance(members, dict):
            template[section] = {key: walk(value, change) for key, value in members.items()}


# --------------------------------------------------------------------------------------- Fn::GetAZs


def get_azs(template: dict[str, Any], place: Place) -> list[str]:
    count = 0

    def change(node: Any) -> Any:
        nonlocal count
        if isinstance(node, dict) and set(node) == {"Fn::GetAZs"}:
            argument = node["Fn::GetAZs"]
            if argument in ("", None, {"Ref": "AWS::Region"}):
                count += 1
                return {"Fn::GetAZs": place.region}
        return node

    _each_section(template, change)
    return [f"Fn::GetAZs: the stack's region {place.region} written in ({count} times)"] if count else []


# ----------------------------------------------------------------------------------------- Fn::Cidr


def _literal(template: dict[str, Any], value: Any) -> Any:
    """A literal for `value`: itself, a parameter's default, or a resource's literal CidrBlock."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        parameter = (template.get("Parameters") or {}).get(value["Ref"])
        return parameter.get("Default") if isinstance(parameter, dict) else None
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        if isinstance(target, list) and len(target) == 2 and target[1] == "CidrBlock":
            resource = resources(template).get(str(target[0])) or {}
            block = (resource.get("Properties") or {}).get("CidrBlock")
            return _literal(template, block)
        return None
    return value


def _cidrs(block: Any, count: Any, bits: Any) -> list[str] | None:
    try:
        network = ipaddress.ip_network(str(block), strict=False)
        wanted, host_bits = int(count), int(bits)
        prefix = network.max_prefixlen - host_bits
        if wanted < 1 or prefix < network.prefixlen:
            return None
        subnets = []
        for subnet in network.subnets(new_prefix=prefix):
            subnets.append(str(subnet))
            if len(subnets) == wanted:
                return subnets
    except (TypeError, ValueError):
        return None
    return None


def cidr(template: dict[str, Any], place: Place) -> list[str]:
    count = 0

    def change(node: Any) -> Any:
        nonlocal count
        if isinstance(node, dict) and set(node) == {"Fn::Cidr"}:
            arguments = node["Fn::Cidr"]
            if isinstance(arguments, list) and len(arguments) == 3:
                values = [_literal(template, argument) for argument in arguments]
                found = _cidrs(*values)
                if found is not None:
                    count += 1
                    return found
        return node

    _each_section(template, change)
    return [f"Fn::Cidr evaluated ({count} times)"] if count else []


# --------------------------------------------------------------------------------------------- names


def _repository_name(place: Place, logical_id: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", f"{place.stack_name}-{logical_id}".lower()).strip("-")
    return text[:256].rstrip("-")


def ecr_names(template: dict[str, Any], place: Place) -> list[str]:
    notes = []
    for logical_id, resource in resources(template).items():
        if resource.get("Type") == "AWS::ECR::Repository" and "RepositoryName" not in properties(resource):
            name = _repository_name(place, logical_id)
            properties(resource)["RepositoryName"] = name
            notes.append(f"{logical_id}: ECR repository named {name}")
    return notes


def target_group_names(template: dict[str, Any], place: Place) -> list[str]:
    notes = []
    for logical_id, resource in resources(template).items():
        if resource.get("Type") != "AWS::ElasticLoadBalancingV2::TargetGroup":
            continue
        props = properties(resource)
        name = props.get("Name")
        if isinstance(name, str) and "--" in name:
            props["Name"] = re.sub("-{2,}", "-", name)
            notes.append(f"{logical_id}: target group name {props['Name']} (without --)")
    return notes


def rest_api_names(template: dict[str, Any], place: Place) -> list[str]:
    notes = []
    for logical_id, resource in resources(template).items():
        if resource.get("Type") != "AWS::ApiGateway::RestApi":
            continue
        props = properties(resource)
        if "Name" in props:
            continue
        body = props.get("Body")
        title = body.get("info", {}).get("title") if isinstance(body, dict) else None
        props["Name"] = title if isinstance(title, str) and title else logical_id
        notes.append(f"{logical_id}: REST API named {props['Name']}")
    return notes


# ------------------------------------------------------------------------------------------- numbers

#: Properties (at any depth of a resource's Properties) that CloudFormation types as integers and moto
#: computes with.
NUMERIC = frozenset(
    {
        "DesiredCount",
        "ContainerPort",
        "HostPort",
        "Port",
        "FromPort",
        "ToPort",
        "MemoryReservation",
        "MemorySize",
        "Timeout",
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "MaximumMessageSize",
        "ReceiveMessageWaitTimeSeconds",
        "RetentionInDays",
        "HealthCheckIntervalSeconds",
        "HealthCheckTimeoutSeconds",
        "HealthyThresholdCount",
        "UnhealthyThresholdCount",
        "HealthCheckGracePeriodSeconds",
        "MaximumPercent",
        "MinimumHealthyPercent",
        "Priority",
        "ShardCount",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "ReservedConcurrentExecutions",
        "Weight",
    }
)
#: Properties that are integers inside container definitions only (a task definition's own `Cpu` and
#: `Memory` are strings).
CONTAINER_NUMERIC = frozenset({"Cpu", "Memory"})
_INTEGER = re.compile(r"-?\d+")


def _coerced(value: Any, keys: frozenset[str], counter: list[int]) -> Any:
    if isinstance(value, list):
        return [_coerced(item, keys, counter) for item in value]
    if not isinstance(value, dict):
        return value
    changed: dict[str, Any] = {}
    for key, member in value.items():
        if key in keys and isinstance(member, str) and _INTEGER.fullmatch(member.strip()):
            changed[key] = int(member)
            counter[0] += 1
        elif key == "ContainerDefinitions":
            changed[key] = _coerced(member, keys | CONTAINER_NUMERIC, counter)
        else:
            changed[key] = _coerced(member, keys, counter)
    return changed


def numbers(template: dict[str, Any], place: Place) -> list[str]:
    notes = []
    for logical_id, resource in resources(template).items():
        counter = [0]
        if isinstance(resource.get("Properties"), dict):
            resource["Properties"] = _coerced(resource["Properties"], NUMERIC, counter)
        if counter[0]:
            notes.append(f"{logical_id}: {counter[0]} number(s) given as text made numbers")
    return notes


# ------------------------------------------------------------------------------------ security groups


def _ported(rule: Any) -> bool:
    """Give an all-protocols rule without ports the ports -1; whether it changed."""
    if not isinstance(rule, dict) or str(rule.get("IpProtocol")) not in ("-1", "all"):
        return False
    changed = False
    for key in ("FromPort", "ToPort"):
        if key not in rule:
            rule[key] = -1
            changed = True
    return changed


def all_protocol_ports(template: dict[str, Any], place: Place) -> list[str]:
    notes = []
    for logical_id, resource in resources(template).items():
        kind = resource.get("Type")
        props = properties(resource) if isinstance(resource.get("Properties"), dict) else {}
        rules: list[Any] = []
        if kind == "AWS::EC2::SecurityGroup":
            for key in ("SecurityGroupIngress", "SecurityGroupEgress"):
                if isinstance(props.get(key), list):
                    rules.extend(props[key])
        elif kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            rules.append(props)
        if sum(_ported(rule) for rule in rules):
            notes.append(f"{logical_id}: ports -1 for an all-protocols rule")
    return notes


REWRITES: tuple[Rewrite, ...] = (
    get_azs,
    cidr,
    ecr_names,
    target_group_names,
    rest_api_names,
    numbers,
    all_protocol_ports,
)
