"""The four deployable kinds and how each is named: by its names, by its ARN, by a deployment record.

Invariants: a deployable is identified by its kind, the caller's account and region, and a tuple of
names (environment: its name; service instance: service and instance; service pipeline: service;
component: its name); `Target.arn` and `from_arn` are inverse through `baryon.domain.arns`, the only
place ARNs are built; the kind's `target_type` is the deployment's `targetResourceType` and its
`state_member` the member of the DeploymentState union.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from baryon.domain import arns
from baryon.store.schema import components, environments, service_instances, service_pipelines

Names = tuple[str, ...]


@dataclass(frozen=True)
class Kind:
    #: The deployment's targetResourceType.
    target_type: str
    #: How messages name the kind ("service instance").
    label: str
    #: The member of the DeploymentState union (and of the *State shapes' union).
    state_member: str
    #: The member of the Cancel* operations' output.
    output_member: str
    table: sa.Table
    arn_of: Callable[[str, str, Names], str]
    #: Names from the `/`-separated parts of an ARN's resource, or None when the parts name no such kind.
    names_of_parts: Callable[[list[str]], Names | None]
    #: Names from a deployment record's name columns.
    names_of_record: Callable[[Any], Names]
    #: How messages start with one resource of the kind ("Service instance front").
    title_of: Callable[[Names], str]


def _single(prefix: str) -> Callable[[list[str]], Names | None]:
    def names(parts: list[str]) -> Names | None:
        return (parts[1],) if len(parts) == 2 and parts[0] == prefix else None

    return names


def _instance_names(parts: list[str]) -> Names | None:
    if len(parts) == 4 and parts[0] == "service" and parts[2] == "service-instance":
        return parts[1], parts[3]
    return None


def _pipeline_names(parts: list[str]) -> Names | None:
    return (parts[1],) if len(parts) == 3 and parts[0] == "service" and parts[2] == "pipeline" else None


ENVIRONMENT = Kind(
    target_type="ENVIRONMENT",
    label="environment",
    state_member="environment",
    output_member="environment",
    table=environments,
    arn_of=lambda region, account, names: arns.environment_arn(region, account, names[0]),
    names_of_parts=_single("environment"),
    names_of_record=lambda record: (record.environment_name,),
    title_of=lambda names: f"Environment {names[0]}",
)
SERVICE_INSTANCE = Kind(
    target_type="SERVICE_INSTANCE",
    label="service instance",
    state_member="serviceInstance",
    output_member="serviceInstance",
    table=service_instances,
    arn_of=lambda region, account, names: arns.service_instance_arn(region, account, names[0], names[1]),
    names_of_parts=_instance_names,
    names_of_record=lambda record: (record.service_name, record.service_instance_name),
    title_of=lambda names: f"Service instance {names[1]}",
)
SERVICE_PIPELINE = Kind(
    target_type="SERVICE_PIPELINE",
    label="service pipeline",
    state_member="servicePipeline",
    output_member="pipeline",
    table=service_pipelines,
    arn_of=lambda region, account, names: arns.service_pipeline_arn(region, account, names[0]),
    names_of_parts=_pipeline_names,
    names_of_record=lambda record: (record.service_name,),
    title_of=lambda names: f"The pipeline of service {names[0]}",
)
COMPONENT = Kind(
    target_type="COMPONENT",
    label="component",
    state_member="component",
    output_member="component",
    table=components,
    arn_of=lambda region, account, names: arns.component_arn(region, account, names[0]),
    names_of_parts=_single("component"),
    names_of_record=lambda record: (record.component_name,),
    title_of=lambda names: f"Component {names[0]}",
)

KINDS: dict[str, Kind] = {
    kind.target_type: kind for kind in (ENVIRONMENT, SERVICE_INSTANCE, SERVICE_PIPELINE, COMPONENT)
}
STATE_MEMBER: dict[str, str] = {kind.target_type: kind.state_member for kind in KINDS.values()}


@dataclass(frozen=True)
class Target:
    """One deployable resource of an account and region, named but not necessarily existing."""

    kind: Kind
    account_id: str
    region: str
    names: Names

    @property
    def arn(self) -> str:
        return self.kind.arn_of(self.region, self.account_id, self.names)

    @property
    def title(self) -> str:
        return self.kind.title_of(self.names)


def from_arn(arn: str) -> Target | None:
    """The deployable an ARN names, or None when it names no deployable (another resource type, or
    not a Proton ARN at all)."""
    parsed = arns.parse(arn)
    if parsed is None:
        return None
    for kind in KINDS.values():
        names = kind.names_of_parts(parsed.parts)
        if names is not None:
            return Target(kind, parsed.account_id, parsed.region, names)
    return None


def of_record(record: Any) -> Target:
    """The deployable a deployment record targets."""
    kind = KINDS[record.target_type]
    return Target(kind, record.account_id, record.region, kind.names_of_record(record))
