"""The plan of an adoption: what Baryon will record for the resources Proton left running.

Job: the one value passed from the readers of what runs (CloudFormation stacks found by their `proton:*`
tags; Terraform deployment repositories) to the applier that creates Baryon's records bound to them. A
plan is plain data: it can be printed (`--dry-run`, `--output json`) and applied later, and applying it
twice changes nothing the second time.

Invariants: every resource names the stack (or repository folder) it was read from; nothing in a plan
asks for a change to what runs; a resource whose spec is not known has `spec` None and is adopted as
needing one; `skipped` holds everything found that cannot be adopted, each with a complete reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: Kinds of adopted resources (the four deployable kinds and the service that groups instances).
Kind = Literal["environment", "service", "service-instance", "service-pipeline", "component"]


@dataclass(frozen=True)
class Output:
    key: str
    value: str


@dataclass(frozen=True)
class ProvisionedResource:
    """A resource of a stack: logical id as `name`, physical id as `identifier`."""

    name: str
    identifier: str
    provisioning_engine: str = "CLOUDFORMATION"


@dataclass(frozen=True)
class Binding:
    """Where an adopted resource runs: a CloudFormation stack, or a folder of a deployment repository."""

    method: Literal["cloudformation", "terraform"]
    #: The cloud account and region the stack is in (CloudFormation).
    cloud_account_id: str | None = None
    region: str | None = None
    #: Stack name and id (CloudFormation).
    stack_name: str | None = None
    stack_id: str | None = None
    #: The stack's last update (or creation) time, epoch seconds: adopting checks it did not move.
    stack_updated_at: float | None = None
    #: Repository link (provider, owner/name), branch and folder (Terraform).
    repository: tuple[str, str] | None = None
    branch: str | None = None
    folder: str | None = None


@dataclass(frozen=True)
class Resource:
    """One resource to record."""

    kind: Kind
    #: Its name; for an instance or a pipeline, `service` names its service; for an instance and a
    #: component, `environment` names the environment it runs in; `service_instance` names the instance
    #: an attached component belongs to.
    name: str
    template_name: str | None
    template_major: str | None
    template_minor: str | None
    binding: Binding | None
    service: str | None = None
    environment: str | None = None
    service_instance: str | None = None
    #: The spec (YAML text) as the resource was deployed with it, when known; None: adopted as needing one.
    spec: str | None = None
    outputs: tuple[Output, ...] = ()
    provisioned_resources: tuple[ProvisionedResource, ...] = ()
    #: An environment in another account: the environment account connection to use.
    environment_account_connection_id: str | None = None
    #: An environment deployed in this account: the role its next deployments assume (its
    #: `protonServiceRoleArn`), the role the stacks were read with.
    role_arn: str | None = None
    #: The Proton ARN the stack or repository named (for the record of the adoption).
    proton_arn: str | None = None


@dataclass(frozen=True)
class Skipped:
    """Something found that will not be adopted."""

    source: str
    reason: str


@dataclass
class Plan:
    """What an adoption will create in one Baryon account and region."""

    account_id: str
    region: str
    resources: list[Resource] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: Template versions to register first (from `--bundles`): (kind, template name, major) → bundle folder.
    bundles: dict[tuple[str, str, str], str] = field(default_factory=dict)
