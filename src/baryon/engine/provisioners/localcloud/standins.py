"""Stand-ins: resource types the local cloud does not model, replaced by fixed values.

moto's CloudFormation creates only the resource types of its model map (read at run time from moto,
`models`, so a newer moto that models more needs no change here); it skips the
others silently, leaves `${X}` verbatim, and answers HTTP 500 when an output reads one of them. Each such
resource is taken out of the template and every reference to it is written in as a literal:

- `Ref` → its stand-in physical id: the literal name property of the resource where it has one (`Name`,
  `<Type>Name`, `StageName`), else an id of the shape its type's Ref gives (`ns-…`, `srv-…`, an API id,
  an ARN for types whose Ref is one), else `<stack>-<LogicalId>-<12 hex>`;
- `Fn::GetAtt` → a plausible attribute: ARN-shaped for `Arn`/`…Arn`, the id for `Id`/`…Id`, the name for
  `…Name`, an https URL for `…Url`/`…Endpoint`, a hosted-zone id for `HostedZoneId`;
- `${X}` and `${X.Attr}` in `Fn::Sub` strings → the same values (not where the Sub's own variables name X);
- `DependsOn` entries naming it are dropped.

A deployment of a REST API defined by an OpenAPI `Body` is stood in for as well: moto models the type but
imports no methods from the body, and then refuses to deploy it.

Invariants: values are deterministic (a digest of stack name and logical id), so a redeployment gives the
same ids and an unchanged template stays unchanged; modelled types, `AWS::CloudFormation::Stack` among
them, are never stood in for; custom resources (`Custom::*`, `AWS::CloudFormation::CustomResource`) and
the wait conditions moto ignores are.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from baryon.engine.provisioners.localcloud.models import models
from baryon.engine.provisioners.localcloud.rewrites import Place, resources
from baryon.engine.provisioners.localcloud.template import NotSupported, walk


@dataclass(frozen=True)
class StandIn:
    """A resource the local cloud does not create: its logical id, type and stand-in physical id."""

    logical_id: str
    type: str
    physical_id: str


def modelled_types() -> frozenset[str]:
    """The resource types moto's CloudFormation creates."""
    return frozenset(models())


def readable(kind: str, attribute: str) -> bool:
    """Whether moto's model of `kind` answers `Fn::GetAtt` for `attribute`."""
    model = models().get(kind)
    return model is not None and model.readable(attribute)


def _get_atts(value: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, member in value.items():
            if key == "Fn::GetAtt":
                parts = member.split(".", 1) if isinstance(member, str) else member
                if isinstance(parts, list) and len(parts) == 2:
                    found.append((str(parts[0]), str(parts[1])))
            found.extend(_get_atts(member))
    elif isinstance(value, list):
        for member in value:
            found.extend(_get_atts(member))
    return found


def unreadable_attributes(template: dict[str, Any]) -> list[str]:
    """Deal with `Fn::GetAtt` of attributes moto's models cannot read (one such output makes moto drop
    every output; in a property it fails the stack): a `…Name` attribute of a resource with a literal name
    property is written in; an output reading another is left out (it is then named among the outputs
    left empty); a resource property reading one raises `NotSupported` naming both."""
    found = resources(template)
    notes: list[str] = []

    def literal(name: str, attribute: str) -> str | None:
        resource = found.get(name) or {}
        props = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
        value = _name_property(str(resource.get("Type", "")), props or {})
        return value if attribute.endswith("Name") else None

    def unreadable(name: str, attribute: str) -> bool:
        return name in found and not readable(str(found[name].get("Type", "")), attribute)

    def change(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Fn::GetAtt"}:
            pairs = _get_atts(node)
            if pairs and unreadable(*pairs[0]):
                value = literal(*pairs[0])
                if value is not None:
                    notes.append(f"{pairs[0][0]}.{pairs[0][1]} written in as {value}")
                    return value
        return node

    for section in ("Resources", "Outputs"):
        members = template.get(section)
        if isinstance(members, dict):
            template[section] = {key: walk(value, change) for key, value in members.items()}
    for name, body in resources(template).items():
        for target, attribute in _get_atts(body):
            if unreadable(target, attribute):
                raise NotSupported(
                    f"resource {name} reads {target}.{attribute}, an attribute the local cloud does not "
                    f"provide for {found[target].get('Type')}"
                )
    outputs = template.get("Outputs")
    if isinstance(outputs, dict):
        for key in list(outputs):
            bad = [f"{t}.{a}" for t, a in _get_atts(outputs[key]) if unreadable(t, a)]
            if bad:
                del outputs[key]
                notes.append(f"output {key} left out: the local cloud does not provide {', '.join(bad)}")
    return notes


def _openapi_deployment(resource: dict[str, Any], found: dict[str, dict[str, Any]]) -> bool:
    """A REST API deployment of an API defined by an OpenAPI body: moto imports no methods from the
    body, and then refuses the deployment ("The REST API doesn't contain any methods")."""
    if resource.get("Type") != "AWS::ApiGateway::Deployment":
        return False
    props = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
    api = (props or {}).get("RestApiId")
    name = api.get("Ref") if isinstance(api, dict) else None
    target = found.get(str(name)) or {}
    api_props = target.get("Properties") if isinstance(target.get("Properties"), dict) else {}
    return target.get("Type") == "AWS::ApiGateway::RestApi" and bool(
        {"Body", "BodyS3Location"} & set(api_props or {})
    )


def needs_stand_in(
    kind: str, resource: dict[str, Any] | None = None, found: dict[str, Any] | None = None
) -> bool:
    """Whether a resource of `kind` (`resource` in a template whose resources are `found`) is stood in
    for: its type is not modelled, or it is a deployment of a REST API defined by an OpenAPI body."""
    if kind not in modelled_types():
        return True
    return resource is not None and _openapi_deployment(resource, found or {})


#: The service part of ARNs, where it is not the type's service name in lower case.
_SERVICES = {
    "ApiGateway": "apigateway",
    "ApiGatewayV2": "apigateway",
    "ApplicationAutoScaling": "application-autoscaling",
    "KinesisFirehose": "firehose",
    "ServiceDiscovery": "servicediscovery",
    "CloudWatch": "cloudwatch",
}
#: Types whose Ref is an id of a known shape: (prefix, length of the random part).
_ID_REFS = {
    "AWS::ServiceDiscovery::PrivateDnsNamespace": ("ns-", 16),
    "AWS::ServiceDiscovery::PublicDnsNamespace": ("ns-", 16),
    "AWS::ServiceDiscovery::HttpNamespace": ("ns-", 16),
    "AWS::ServiceDiscovery::Service": ("srv-", 16),
    "AWS::ApiGatewayV2::Api": ("", 10),
    "AWS::ApiGateway::RestApi": ("", 10),
    "AWS::ApiGateway::Deployment": ("", 6),
}
#: Types whose Ref is their ARN.
_ARN_REFS = frozenset(
    {
        "AWS::SNS::Subscription",
        "AWS::AppRunner::Service",
        "AWS::AppRunner::VpcConnector",
        "AWS::AppRunner::AutoScalingConfiguration",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        "AWS::CloudFormation::WaitConditionHandle",
    }
)


def _digest(place: Place, logical_id: str) -> str:
    return hashlib.sha256(f"{place.stack_name}/{logical_id}".encode()).hexdigest()


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z][a-z])", "-", name).lower()


def _name_property(kind: str, props: dict[str, Any]) -> str | None:
    short = kind.rsplit("::", 1)[-1]
    for key in ("Name", f"{short}Name", "StageName"):
        if isinstance(props.get(key), str) and props[key]:
            return str(props[key])
    return None


class _Values:
    """The stand-in values of one resource."""

    def __init__(self, place: Place, logical_id: str, kind: str, props: dict[str, Any]) -> None:
        self.place, self.logical_id, self.kind = place, logical_id, kind
        digest = _digest(place, logical_id)
        _, service, short = [*kind.split("::"), "", ""][:3]
        self.service = _SERVICES.get(service, service.lower())
        self.short = short
        prefix, length = _ID_REFS.get(kind, ("", 0))
        self.id = f"{prefix}{digest[:length]}" if length else None
        self.name = _name_property(kind, props) or f"{place.stack_name}-{logical_id}-{digest[:12].upper()}"
        self.arn = (
            f"arn:aws:{self.service}:{place.region}:{place.account_id}:{_kebab(short)}/{self.id or self.name}"
        )

    def ref(self) -> str:
        if self.kind in _ARN_REFS:
            return self.arn
        return self.id or self.name

    def attribute(self, attribute: str) -> str:
        place = self.place
        key = attribute.split(".")[-1]
        if key == "HostedZoneId":
            return "Z" + _digest(place, self.logical_id + "/zone")[:13].upper()
        if key.endswith("Arn") or key.endswith("ARN"):
            return self.arn
        if key.endswith("Id"):
            return self.id or self.ref()
        if key.endswith("Name"):
            return self.name
        if key == "ServiceUrl":
            return f"{self.id or _digest(place, self.logical_id)[:10]}.{place.region}.awsapprunner.com"
        if key == "ApiEndpoint" or key.endswith("Url") or key.endswith("Endpoint"):
            return f"https://{self.id or self.name.lower()}.execute-api.{place.region}.amazonaws.com"
        return f"{self.ref()}.{attribute}"


_SUB_REFERENCE = re.compile(r"\$\{(?!!)([A-Za-z0-9_:]+)(?:\.([A-Za-z0-9_.]+))?\}")


def _substituted(text: str, values: dict[str, _Values], own: set[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, attribute = match.group(1), match.group(2)
        found = values.get(name)
        if found is None or name in own:
            return match.group(0)
        return found.attribute(attribute) if attribute else found.ref()

    return _SUB_REFERENCE.sub(replace, text)


def _resolve(node: Any, values: dict[str, _Values]) -> Any:
    if not isinstance(node, dict) or len(node) != 1:
        return node
    ((key, argument),) = node.items()
    if key == "Ref" and isinstance(argument, str) and argument in values:
        return values[argument].ref()
    if key == "Fn::GetAtt":
        parts = argument.split(".", 1) if isinstance(argument, str) else argument
        if isinstance(parts, list) and len(parts) == 2 and str(parts[0]) in values:
            return values[str(parts[0])].attribute(str(parts[1]))
    if key == "Fn::Sub":
        if isinstance(argument, str):
            return {key: _substituted(argument, values, set())}
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            own = set(argument[1]) if isinstance(argument[1], dict) else set()
            return {key: [_substituted(argument[0], values, own), argument[1]]}
    return node


def stand_in(template: dict[str, Any], place: Place) -> list[StandIn]:
    """Replace every resource of a type moto does not model by its stand-in values (in place); the
    stand-ins, in template order."""
    found = resources(template)
    values: dict[str, _Values] = {}
    for logical_id, resource in found.items():
        kind = str(resource.get("Type", ""))
        if needs_stand_in(kind, resource, found):
            props = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
            values[logical_id] = _Values(place, logical_id, kind, props or {})
    if not values:
        return []
    kept = {name: body for name, body in template["Resources"].items() if name not in values}
    for body in kept.values():
        if not isinstance(body, dict):
            continue
        depends = body.get("DependsOn")
        if isinstance(depends, str) and depends in values:
            body.pop("DependsOn")
        elif isinstance(depends, list):
            body["DependsOn"] = [name for name in depends if name not in values]
            if not body["DependsOn"]:
                body.pop("DependsOn")
    template["Resources"] = {
        name: walk(body, lambda node: _resolve(node, values)) for name, body in kept.items()
    }
    if isinstance(template.get("Outputs"), dict):
        template["Outputs"] = walk(template["Outputs"], lambda node: _resolve(node, values))
    return [StandIn(name, found[name]["Type"], values[name].ref()) for name in values]
