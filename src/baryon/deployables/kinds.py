"""The four deployable kinds and how each is named: by its names, by its ARN, by a deployment record.

Invariants: a deployable is identified by its kind, the caller's account and region, and a tuple of
names (environment: its name; service instance: service and instance; service pipeline: service;
component: its name); `Target.arn` and `from_arn` are inverse through `baryon.domain.arns`, the only
place ARNs are built; the kind's `target_type` is the deployment's `targetResourceType` and its
`state_member` the member of the DeploymentState union.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from baryon.domain import arns
from baryon.store.schema import components, environments, service_instances, service_pipelines

Names = tuple[str, ...]


@dataclass(frozen=True)
class Kind:
    #: How messages name the kind ("service instance"); its target type and state member follow from it.
    label: str
    table: sa.Table
    #: The name columns of a deployment record that name a resource of the kind, space-separated.
    record_columns: str
    #: How messages start with one resource of the kind ("Service instance {1}": `{n}` is a name).
    title: str

    @property
    def target_type(self) -> str:
        """The deployment's targetResourceType ("SERVICE_INSTANCE")."""
        return self.label.upper().replace(" ", "_")

    @property
    def state_member(self) -> str:
        """The member of the DeploymentState union ("serviceInstance")."""
        first, *rest = self.label.split()
        return first + "".join(word.capitalize() for word in rest)

    @property
    def output_member(self) -> str:
        """The member of the Cancel*Deployment outputs ("pipeline" for a service pipeline)."""
        return "pipeline" if self.label == "service pipeline" else self.state_member

    def names_of_record(self, record: Any) -> Names:
        return tuple(getattr(record, column) for column in self.record_columns.split())


ENVIRONMENT = Kind("environment", environments, "environment_name", "Environment {0}")
SERVICE_INSTANCE = Kind(
    "service instance", service_instances, "service_name service_instance_name", "Service instance {1}"
)
SERVICE_PIPELINE = Kind("service pipeline", service_pipelines, "service_name", "The pipeline of service {0}")
COMPONENT = Kind("component", components, "component_name", "Component {0}")

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
        return arns.deployable_arn(self.region, self.account_id, self.kind.target_type, self.names)

    @property
    def title(self) -> str:
        return self.kind.title.format(*self.names)


def from_arn(arn: str) -> Target | None:
    """The deployable an ARN names, or None when it names no deployable (another resource type, or
    not a Proton ARN at all)."""
    found = arns.parse_deployable(arn)
    if found is None:
        return None
    parsed, target_type, names = found
    return Target(KINDS[target_type], parsed.account_id, parsed.region, names)


def of_record(record: Any) -> Target:
    """The deployable a deployment record targets."""
    kind = KINDS[record.target_type]
    return Target(kind, record.account_id, record.region, kind.names_of_record(record))
