"""Every ARN Baryon issues is built and parsed here.

Invariants: ARNs have the form `arn:aws:proton:{region}:{account}:{resource}` as in the reference §1.2;
`parse` is the inverse of the builders for every resource type. Baryon's own git connections stand in
for CodeStar connections and carry their ARN form (`arn:aws:codestar-connections:…:connection/{uuid}`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PARTITION = "aws"
_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):proton:([a-z0-9-]*):(\d{12}):(.+)$")


def arn(region: str, account_id: str, resource: str) -> str:
    return f"arn:{PARTITION}:proton:{region}:{account_id}:{resource}"


#: The resource part of each deployable kind's ARN by deployment target type; `{0}`, `{1}` are its names.
DEPLOYABLE_RESOURCES = {
    "ENVIRONMENT": "environment/{0}",
    "SERVICE_INSTANCE": "service/{0}/service-instance/{1}",
    "SERVICE_PIPELINE": "service/{0}/pipeline",
    "COMPONENT": "component/{0}",
}
_DEPLOYABLE_PATTERNS = {
    target_type: re.compile("^" + re.sub(r"\{\d\}", "([^/]+)", resource) + "$")
    for target_type, resource in DEPLOYABLE_RESOURCES.items()
}


def deployable_arn(region: str, account_id: str, target_type: str, names: tuple[str, ...]) -> str:
    return arn(region, account_id, DEPLOYABLE_RESOURCES[target_type].format(*names))


def parse_deployable(value: str) -> tuple[ParsedArn, str, tuple[str, ...]] | None:
    """(the parsed ARN, the deployment target type, the names) of a deployable's ARN, else None."""
    parsed = parse(value)
    if parsed is None:
        return None
    for target_type, pattern in _DEPLOYABLE_PATTERNS.items():
        match = pattern.match(parsed.resource)
        if match is not None:
            return parsed, target_type, match.groups()
    return None


def environment_arn(region: str, account_id: str, name: str) -> str:
    return deployable_arn(region, account_id, "ENVIRONMENT", (name,))


def service_arn(region: str, account_id: str, name: str) -> str:
    return arn(region, account_id, f"service/{name}")


def service_instance_arn(region: str, account_id: str, service: str, name: str) -> str:
    return deployable_arn(region, account_id, "SERVICE_INSTANCE", (service, name))


def environment_account_connection_arn(region: str, account_id: str, connection_id: str) -> str:
    """The ARN of an environment account connection, in its environment account."""
    return arn(region, account_id, f"environment-account-connection/{connection_id}")


def deployment_arn(region: str, account_id: str, deployment_id: str) -> str:
    return arn(region, account_id, f"deployment/{deployment_id}")


def template_arn(region: str, account_id: str, kind: str, name: str) -> str:
    return arn(region, account_id, template_resource(kind, name))


def template_resource(kind: str, name: str) -> str:
    prefix = "environment-template" if kind == "ENVIRONMENT" else "service-template"
    return f"{prefix}/{name}"


def template_version_resource(kind: str, name: str, major: int, minor: int | None = None) -> str:
    version = f"{major}" if minor is None else f"{major}.{minor}"
    return f"{template_resource(kind, name)}:{version}"


REPOSITORY_PROVIDERS = ("GITHUB", "GITHUB_ENTERPRISE", "BITBUCKET")


def repository_resource(provider: str, name: str) -> str:
    """`repository/{provider in lower case}:{owner/repo}`, e.g. `repository/github:org/infra`."""
    return f"repository/{provider.lower()}:{name}"


def parse_repository_resource(resource: str) -> tuple[str, str] | None:
    """(provider, name) of a repository resource part, or None when it is not one."""
    if not resource.startswith("repository/"):
        return None
    provider, sep, name = resource[len("repository/") :].partition(":")
    if not sep or provider.upper() not in REPOSITORY_PROVIDERS or provider != provider.lower():
        return None
    return provider.upper(), name


def connection_arn(region: str, account_id: str, connection_id: str) -> str:
    return f"arn:{PARTITION}:codestar-connections:{region}:{account_id}:connection/{connection_id}"


@dataclass(frozen=True)
class ParsedArn:
    region: str
    account_id: str
    resource_type: str
    resource: str

    @property
    def parts(self) -> list[str]:
        return self.resource.split("/")


def parse(value: str) -> ParsedArn | None:
    match = _ARN.match(value)
    if match is None:
        return None
    resource = match.group(4)
    resource_type = resource.split("/", 1)[0]
    return ParsedArn(match.group(2), match.group(3), resource_type, resource)
