"""Applying an adoption plan: Baryon's records for the CloudFormation stacks Proton left running.

Job: `apply_plan` writes, in the plan's account and region, the environments, services (with their
instances and pipeline) and components a plan describes, each bound to the stack it was read from
(`bound_stack_name`, `stack_id`), deployed SUCCEEDED with the plan's outputs and provisioned resources,
and a SUCCEEDED CREATE deployment record saying it was adopted and that nothing was changed.

Only CloudFormation-bound resources (and the services grouping their instances) are applied here; the
plan's `skipped` entries are the reader's to show.

Invariants:
- no AWS call at all: the reader of the stacks read everything the plan holds;
- each environment, each component and each service with its instances and pipeline is written in one
  transaction, after every check passed: what is refused leaves nothing behind, and the report says why;
- a resource that already exists bound to the same stack is left as it is ("already adopted"), so
  applying a plan twice changes nothing; a name used by a resource not bound to that stack is refused;
- template versions must already be registered and PUBLISHED in the plan's account and region;
- records are the API's: ARNs from `baryon.domain.arns` (through `baryon.deployables`), specs stored as
  given, inputs validated against the version's schema with its defaults, outputs and provisioned
  resources stored as a deployment stores them; a resource adopted without its spec is marked
  `needs_spec` and its next deploying update must give one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon import deployables
from baryon.adopt.plan import Binding, Plan, Resource
from baryon.clock import Ids
from baryon.domain import arns
from baryon.domain.account_connections import CONNECTED
from baryon.domain.deployments import CREATE, SUCCEEDED
from baryon.domain.specs import (
    ENVIRONMENT_INPUT,
    PIPELINE_INPUT,
    SERVICE_INPUT,
    dump_spec,
    parse_environment_spec,
    parse_instance_spec_from_service_spec,
    parse_pipeline_spec,
    parse_service_spec,
    spec_inputs,
)
from baryon.domain.template_versions import schema_of
from baryon.protocol.errors import ValidationException
from baryon.runtime import Runtime
from baryon.store import account_connections as connection_store
from baryon.store import connections as link_store
from baryon.store import templates as template_store
from baryon.store.schema import account_settings, components, deployments, services
from baryon.store.services import ACTIVE

S, C = services.c, components.c

CREATED = "created"
ALREADY_ADOPTED = "already adopted"
REFUSED = "refused"

#: The manifest recorded for an adopted component (its IaC file is not known; see docs/decisions.md).
COMPONENT_MANIFEST = (
    "infrastructure:\n  templates:\n    - file: cloudformation.yaml\n      rendering_engine: jinja\n"
    "      template_language: cloudformation\n"
)


_REPOSITORY_PREFIX = "Adopted from repository "


def repository_message(repository: tuple[str, str], branch: str, folder: str) -> str:
    """The status message of the deployment record of a resource adopted from a deployment repository."""
    return (
        f"Adopted from repository {repository[0].lower()}:{repository[1]} branch {branch} folder {folder}/; "
        "nothing was committed."
    )


def _terraform(resource: Resource) -> bool:
    return resource.binding is not None and resource.binding.method == "terraform"


#: The manifest recorded for a component adopted from a Terraform deployment repository.
TERRAFORM_COMPONENT_MANIFEST = (
    "infrastructure:\n  templates:\n    - file: '*'\n      rendering_engine: hcl\n"
    "      template_language: terraform\n"
)


def adopted_message(stack_name: str, stack_id: str | None) -> str:
    """The status message of an adoption's deployment record."""
    return (
        f"Adopted from CloudFormation stack {stack_name} ({stack_id or 'unknown id'}); nothing was changed."
    )


@dataclass(frozen=True)
class Entry:
    """What happened to one resource of the plan."""

    kind: str
    #: The resource's names ("api/prod" for an instance or a pipeline's service).
    name: str
    outcome: str
    #: The stack it was read from (None for a service, which has none).
    stack_name: str | None = None
    #: Why it was refused, or what it is bound to.
    reason: str | None = None


@dataclass
class AdoptionReport:
    created: list[Entry] = field(default_factory=list)
    unchanged: list[Entry] = field(default_factory=list)
    refused: list[Entry] = field(default_factory=list)

    def add(self, entry: Entry) -> None:
        {CREATED: self.created, ALREADY_ADOPTED: self.unchanged, REFUSED: self.refused}[entry.outcome].append(
            entry
        )

    @property
    def entries(self) -> list[Entry]:
        return [*self.created, *self.unchanged, *self.refused]


def _names_binding(stored: str | None, binding: Binding) -> bool:
    """Whether a stored RepositoryBranch document names the repository and branch of `binding`."""
    document = orjson.loads(stored) if stored else {}
    wanted = (*binding.repository, binding.branch) if binding.repository else None
    return (document.get("provider"), document.get("name"), document.get("branch")) == wanted


class Refused(Exception):
    """A resource that cannot be adopted; the message is the report's reason."""


def _display(resource: Resource) -> str:
    if resource.kind in ("service-instance", "service-pipeline") and resource.service:
        return (
            f"{resource.service}/{resource.name}" if resource.kind == "service-instance" else resource.service
        )
    return resource.name


def _stack(resource: Resource) -> str | None:
    return resource.binding.stack_name if resource.binding is not None else None


@dataclass
class _Applier:
    runtime: Runtime
    plan: Plan
    now: float
    report: AdoptionReport = field(default_factory=AdoptionReport)

    @property
    def ids(self) -> Ids:
        return self.runtime.ids

    def target(self, kind: deployables.Kind, *names: str) -> deployables.Target:
        return deployables.Target(kind, self.plan.account_id, self.plan.region, names)

    # --- checks -------------------------------------------------------------------------------------

    def check_binding(self, resource: Resource) -> str:
        binding = resource.binding
        if binding is not None and binding.method == "terraform":
            if binding.repository is None or not binding.branch or not binding.folder:
                raise Refused("it names no repository folder to bind to.")
            return repository_message(binding.repository, binding.branch, binding.folder)
        if binding is None or binding.method != "cloudformation" or not binding.stack_name:
            raise Refused("it names no CloudFormation stack to bind to.")
        if binding.region and binding.region != self.plan.region:
            raise Refused(
                f"its stack {binding.stack_name} is in region {binding.region}; Baryon deploys this "
                f"account's resources in region {self.plan.region}."
            )
        return binding.stack_name

    def version(self, connection: Connection, kind: str, resource: Resource) -> tuple[Any, Any]:
        label = "environment" if kind == "ENVIRONMENT" else "service"
        if not resource.template_name or not resource.template_major or not resource.template_minor:
            raise Refused("the plan names no template version for it.")
        template = template_store.find_template(
            connection, self.plan.account_id, self.plan.region, kind, resource.template_name
        )
        version = None
        if template is not None:
            try:
                major, minor = int(resource.template_major), int(resource.template_minor)
            except ValueError:
                raise Refused(
                    f"{resource.template_major}.{resource.template_minor} is not a template version."
                ) from None
            version = template_store.find_version(connection, template.id, major, minor)
        if template is None or version is None:
            raise Refused(
                f"version {resource.template_major}.{resource.template_minor} of {label} template "
                f"{resource.template_name} is not registered and published in account {self.plan.account_id} "
                f"region {self.plan.region}; register it first."
            )
        return template, version

    def existing(self, connection: Connection, target: deployables.Target, stack_name: str | None) -> bool:
        """True when the resource exists bound to `stack_name`; Refused when its name is taken otherwise."""
        row = deployables.find(connection, target)
        if row is None:
            return False
        if stack_name is not None and stack_name.startswith("Adopted from repository "):
            adopted = connection.execute(
                sa.select(deployments.c.id).where(
                    deployments.c.target_arn == target.arn,
                    deployments.c.deployment_status_message == stack_name,
                )
            ).first()
            if adopted is not None:
                return True
            raise Refused(
                f"{target.title} already exists (not adopted from that folder); it was left as it is."
            )
        if stack_name is not None and row.bound_stack_name == stack_name:
            return True
        bound = f"bound to stack {row.bound_stack_name}" if row.bound_stack_name else "not adopted"
        raise Refused(f"{target.title} already exists ({bound}); it was left as it is.")

    # --- writing ------------------------------------------------------------------------------------

    def record(
        self,
        connection: Connection,
        target: deployables.Target,
        resource: Resource,
        columns: dict[str, Any],
        state: dict[str, Any],
        environment_name: str,
    ) -> None:
        """Insert the resource, deployed SUCCEEDED, and its adoption's deployment record."""
        binding = resource.binding
        assert binding is not None
        terraform = binding.method == "terraform"
        if terraform:
            assert binding.repository is not None and binding.branch and binding.folder
            message = repository_message(binding.repository, binding.branch, binding.folder)
            progress = {
                "adopted": True,
                "repository": f"{binding.repository[0]}:{binding.repository[1]}",
                "branch": binding.branch,
                "folder": binding.folder,
            }
        else:
            assert binding.stack_name is not None
            message = adopted_message(binding.stack_name, binding.stack_id)
            progress = {"stack_id": binding.stack_id, "adopted": True}
        deployment_id = self.ids.uuid()
        outputs = orjson.dumps([{"key": o.key, "valueString": o.value} for o in resource.outputs]).decode()
        provisioned = orjson.dumps(
            [
                {"name": r.name, "identifier": r.identifier, "provisioningEngine": r.provisioning_engine}
                for r in resource.provisioned_resources
            ]
        ).decode()
        values: dict[str, Any] = {
            "deployment_status": SUCCEEDED,
            "deployment_status_message": None,
            "created_at": self.now,
            "last_deployment_attempted_at": self.now,
            "last_deployment_succeeded_at": self.now,
            "last_attempted_deployment_id": deployment_id,
            "last_succeeded_deployment_id": deployment_id,
            "outputs": outputs,
            "resources": provisioned,
            "stack_id": binding.stack_id,
            "bound_stack_name": binding.stack_name,
            # A component's IaC file is never known: it needs its template file as others their spec.
            # A component's IaC file is never known: it needs its template file as others their spec.
            "needs_spec": True if resource.spec is None or target.kind is deployables.COMPONENT else None,
        }
        if target.kind is not deployables.SERVICE_PIPELINE:
            values.update(account_id=target.account_id, region=target.region)
        connection.execute(sa.insert(target.kind.table).values(**values, **columns))
        member = state[target.kind.state_member]
        connection.execute(
            sa.insert(deployments).values(
                id=deployment_id,
                account_id=target.account_id,
                region=target.region,
                target_type=target.kind.target_type,
                target_arn=target.arn,
                target_created_at=self.now,
                operation=CREATE,
                environment_name=environment_name,
                **_record_names(target, member),
                deployment_status=SUCCEEDED,
                deployment_status_message=message,
                initial_state=None,
                target_state=orjson.dumps(state).decode(),
                last_attempted_deployment_id=None,
                last_succeeded_deployment_id=None,
                outputs=outputs,
                resources=provisioned,
                progress=orjson.dumps(progress).decode(),
                created_at=self.now,
                last_modified_at=self.now,
                completed_at=self.now,
            )
        )

    # --- environments -------------------------------------------------------------------------------

    def environment(self, resource: Resource) -> Entry:
        stack = self.check_binding(resource)
        target = self.target(deployables.ENVIRONMENT, resource.name)
        with self.runtime.database.write() as connection:
            if self.existing(connection, target, stack):
                return Entry("environment", resource.name, ALREADY_ADOPTED, stack)
            template, version = self.version(connection, "ENVIRONMENT", resource)
            linked = self.account_connection(connection, resource)
            inputs = _inputs(
                lambda: (
                    spec_inputs(
                        schema_of(version),
                        ENVIRONMENT_INPUT,
                        parse_environment_spec(resource.spec or ""),
                        {},
                        where=f"environment {resource.name}",
                    ).values
                    if resource.spec is not None
                    else {}
                )
            )
            chosen = (version.major, version.minor)
            columns = {
                "name": resource.name,
                "template_id": template.id,
                "provisioning": "CUSTOMER_MANAGED" if template.provisioning == "CUSTOMER_MANAGED" else None,
                "environment_account_connection_id": linked.id if linked is not None else None,
                "environment_account_id": linked.account_id if linked is not None else None,
                "proton_service_role_arn": resource.role_arn if linked is None else None,
                **_version_columns(chosen, resource.spec, inputs),
            }
            if _terraform(resource):
                columns.update(self.repository_columns(connection, template, resource))
            state = {"environment": _version_state(template.name, chosen, resource.spec)}
            self.record(connection, target, resource, columns, state, resource.name)
        return Entry("environment", resource.name, CREATED, stack)

    def repository_columns(self, connection: Connection, template: Any, resource: Resource) -> dict[str, Any]:
        """An environment adopted from a repository deploys next to the same repository and branch."""
        binding = resource.binding
        assert binding is not None and binding.repository is not None and binding.branch is not None
        if template.provisioning == "CUSTOMER_MANAGED":
            raise Refused(f"environment template {template.name} is customer managed.")
        provider, name = binding.repository
        linked = link_store.resolve(
            connection, self.runtime.secrets, self.plan.account_id, self.plan.region, provider, name
        )
        if linked is None:
            raise Refused(f"the repository {provider.lower()}:{name} is not linked (CreateRepository).")
        stored = {
            "arn": arns.arn(self.plan.region, self.plan.account_id, arns.repository_resource(provider, name)),
            "name": name,
            "provider": provider,
            "branch": binding.branch,
        }
        return {"provisioning_repository": orjson.dumps(stored).decode(), "proton_service_role_arn": None}

    def pipeline_repository(self, connection: Connection, resource: Resource) -> None:
        """A pipeline adopted from a repository must be where the account deploys pipelines."""
        binding = resource.binding
        assert binding is not None and binding.repository is not None
        stored = connection.execute(
            sa.select(account_settings.c.pipeline_provisioning_repository).where(
                account_settings.c.account_id == self.plan.account_id,
                account_settings.c.region == self.plan.region,
            )
        ).scalar()
        if not _names_binding(stored, binding):
            raise Refused(
                f"the account's pipelineProvisioningRepository is not {binding.repository[0].lower()}:"
                f"{binding.repository[1]} branch {binding.branch}; set it with UpdateAccountSettings first."
            )

    def terraform_environment(self, environment: Any, resource: Resource) -> None:
        """An instance or component adopted from a repository runs in an environment deploying there."""
        binding = resource.binding
        assert binding is not None and binding.repository is not None
        if not _names_binding(environment.provisioning_repository, binding):
            raise Refused(
                f"its environment {environment.name} does not deploy to {binding.repository[0].lower()}:"
                f"{binding.repository[1]} branch {binding.branch}."
            )

    def account_connection(self, connection: Connection, resource: Resource) -> Any:
        connection_id = resource.environment_account_connection_id
        if not connection_id:
            return None
        row = connection_store.find(connection, self.plan.region, connection_id)
        if row is None or row.management_account_id != self.plan.account_id:
            raise Refused(
                f"environment account connection {connection_id} does not exist in account "
                f"{self.plan.account_id} region {self.plan.region}."
            )
        if row.status != CONNECTED:
            raise Refused(f"environment account connection {connection_id} is {row.status}, not CONNECTED.")
        if row.environment_name != resource.name:
            raise Refused(
                f"environment account connection {connection_id} is for environment {row.environment_name}."
            )
        cloud = resource.binding.cloud_account_id if resource.binding is not None else None
        if cloud and cloud != row.account_id:
            raise Refused(
                f"its stack is in account {cloud}, but environment account connection {connection_id} "
                f"deploys into account {row.account_id}."
            )
        return row

    # --- services -----------------------------------------------------------------------------------

    def service(self, resource: Resource, members: list[Resource]) -> list[Entry]:
        """A service with its instances and pipeline: all created together, or the service exists already
        (adopted before) and only the members not adopted yet are added, each on its own."""
        with self.runtime.database.write() as connection:
            current = connection.execute(
                sa.select(S.id, S.template_id).where(
                    S.account_id == self.plan.account_id,
                    S.region == self.plan.region,
                    S.name == resource.name,
                )
            ).first()
            template, _ = self.version(connection, "SERVICE", resource)
            if current is not None:
                adopted = any(
                    row.bound_stack_name
                    for table in (deployables.SERVICE_INSTANCE.table, deployables.SERVICE_PIPELINE.table)
                    for row in connection.execute(
                        sa.select(table.c.bound_stack_name).where(table.c.service_id == current.id)
                    )
                ) or (
                    any(_terraform(member) for member in members)
                    and connection.execute(
                        sa.select(deployments.c.id).where(
                            deployments.c.account_id == self.plan.account_id,
                            deployments.c.region == self.plan.region,
                            deployments.c.service_name == resource.name,
                            deployments.c.deployment_status_message.like("Adopted from repository %"),
                        )
                    ).first()
                    is not None
                )
                if not adopted or current.template_id != template.id:
                    raise Refused(
                        f"Service {resource.name} already exists (not adopted); it was left as it is."
                    )
        if current is not None:
            entries = [Entry("service", resource.name, ALREADY_ADOPTED)]
            for member in members:
                entries.append(
                    self.guard(member, lambda m=member: self.members(resource, [m], current.id)[0])
                )
            return entries
        with self.runtime.database.write() as connection:
            spec = resource.spec
            if spec is not None:
                _inputs(lambda: parse_service_spec(spec))
            stored = spec if spec is not None else _generated_spec(resource, members)
            connection.execute(
                sa.insert(services).values(
                    account_id=self.plan.account_id,
                    region=self.plan.region,
                    name=resource.name,
                    template_id=template.id,
                    spec=stored,
                    status=ACTIVE,
                    created_at=self.now,
                    last_modified_at=self.now,
                )
            )
            service_id = connection.execute(
                sa.select(S.id).where(
                    S.account_id == self.plan.account_id,
                    S.region == self.plan.region,
                    S.name == resource.name,
                )
            ).scalar_one()
            entries = [Entry("service", resource.name, CREATED)]
            try:
                entries += self.members(resource, members, service_id, connection=connection)
            except Refused as refusal:  # leaving the transaction with it rolls back the service
                raise Refused(f"{refusal} Nothing of service {resource.name} was adopted.") from None
        return entries

    def members(
        self,
        service: Resource,
        members: list[Resource],
        service_id: int,
        connection: Connection | None = None,
    ) -> list[Entry]:
        if connection is None:
            with self.runtime.database.write() as own:
                return self.members(service, members, service_id, own)
        entries = []
        template, _ = self.version(connection, "SERVICE", service)
        for member in members:
            what = _display(member)
            stack = self.check_binding(member)
            try:
                _, version = self.version(
                    connection,
                    "SERVICE",
                    Resource(
                        member.kind,
                        member.name,
                        service.template_name,
                        member.template_major or service.template_major,
                        member.template_minor or service.template_minor,
                        member.binding,
                    ),
                )
                if member.kind == "service-instance":
                    entries.append(
                        self.instance(connection, template, version, service, member, service_id, stack)
                    )
                else:
                    entries.append(
                        self.pipeline(connection, template, version, service, member, service_id, stack)
                    )
            except Refused as refusal:
                raise Refused(f"{member.kind.replace('-', ' ')} {what}: {refusal}") from None
        return entries

    def instance(
        self,
        connection: Connection,
        template: Any,
        version: Any,
        service: Resource,
        resource: Resource,
        service_id: int,
        stack: str,
    ) -> Entry:
        what = _display(resource)
        target = self.target(deployables.SERVICE_INSTANCE, service.name, resource.name)
        if self.existing(connection, target, stack):
            return Entry("service-instance", what, ALREADY_ADOPTED, stack)
        environment = deployables.find(
            connection, self.target(deployables.ENVIRONMENT, resource.environment or "")
        )
        if environment is None:
            raise Refused(f"its environment {resource.environment} does not exist in Baryon; adopt it first.")
        if _terraform(resource):
            self.terraform_environment(environment, resource)
        spec = resource.spec
        inputs = _inputs(
            lambda: (
                spec_inputs(
                    schema_of(version),
                    SERVICE_INPUT,
                    parse_instance_spec_from_service_spec(spec, resource.name),
                    {},
                    where=f"service instance {resource.name}",
                ).values
                if spec is not None
                else {}
            )
        )
        chosen = (version.major, version.minor)
        columns = {
            "service_id": service_id,
            "name": resource.name,
            "environment_id": environment.id,
            "service_name": service.name,
            "environment_name": environment.name,
            "template_name": template.name,
            **_version_columns(chosen, spec, inputs),
        }
        state = {"serviceInstance": {**_version_state(template.name, chosen, spec), "inputs": inputs}}
        self.record(connection, target, resource, columns, state, environment.name)
        return Entry("service-instance", what, CREATED, stack)

    def pipeline(
        self,
        connection: Connection,
        template: Any,
        version: Any,
        service: Resource,
        resource: Resource,
        service_id: int,
        stack: str,
    ) -> Entry:
        target = self.target(deployables.SERVICE_PIPELINE, service.name)
        if self.existing(connection, target, stack):
            return Entry("service-pipeline", service.name, ALREADY_ADOPTED, stack)
        if template.provisioning == "CUSTOMER_MANAGED":
            raise Refused(f"service template {template.name} has no pipeline.")
        if _terraform(resource):
            self.pipeline_repository(connection, resource)
        spec = resource.spec
        inputs = _inputs(
            lambda: (
                spec_inputs(
                    schema_of(version),
                    PIPELINE_INPUT,
                    parse_pipeline_spec(spec),
                    {},
                    where=f"pipeline of service {service.name}",
                ).values
                if spec is not None
                else {}
            )
        )
        chosen = (version.major, version.minor)
        columns = {"service_id": service_id, **_version_columns(chosen, spec, inputs)}
        first = connection.execute(
            sa.select(deployables.SERVICE_INSTANCE.table.c.environment_name)
            .where(deployables.SERVICE_INSTANCE.table.c.service_id == service_id)
            .order_by(deployables.SERVICE_INSTANCE.table.c.name)
            .limit(1)
        ).scalar()
        state = {"servicePipeline": {**_version_state(template.name, chosen, spec), "inputs": inputs}}
        self.record(connection, target, resource, columns, state, first or resource.environment or "")
        return Entry("service-pipeline", service.name, CREATED, stack)

    # --- components ---------------------------------------------------------------------------------

    def component(self, resource: Resource) -> Entry:
        stack = self.check_binding(resource)
        target = self.target(deployables.COMPONENT, resource.name)
        with self.runtime.database.write() as connection:
            if self.existing(connection, target, stack):
                return Entry("component", resource.name, ALREADY_ADOPTED, stack)
            instance = None
            if resource.service and resource.service_instance:
                instance = deployables.find(
                    connection,
                    self.target(deployables.SERVICE_INSTANCE, resource.service, resource.service_instance),
                )
                if instance is None:
                    raise Refused(
                        f"its service instance {resource.service_instance} of service {resource.service} "
                        "does not exist in Baryon; adopt it first."
                    )
            environment_name = instance.environment_name if instance is not None else resource.environment
            environment = deployables.find(
                connection, self.target(deployables.ENVIRONMENT, environment_name or "")
            )
            if environment is None:
                raise Refused(f"its environment {environment_name} does not exist in Baryon; adopt it first.")
            if _terraform(resource):
                self.terraform_environment(environment, resource)
            manifest = TERRAFORM_COMPONENT_MANIFEST if _terraform(resource) else COMPONENT_MANIFEST
            columns = {
                "name": resource.name,
                "environment_id": environment.id,
                "service_instance_id": instance.id if instance is not None else None,
                "manifest": manifest,
                "template_file": "",
                "rendering_engine": "hcl" if _terraform(resource) else "jinja",
                "last_modified_at": self.now,
            }
            member: dict[str, Any] = {"templateFile": "", "manifest": manifest}
            if instance is not None:
                member.update(serviceName=resource.service, serviceInstanceName=resource.service_instance)
            self.record(connection, target, resource, columns, {"component": member}, environment.name)
        return Entry("component", resource.name, CREATED, stack)

    def guard(self, resource: Resource, step: Any) -> Entry:
        try:
            entry: Entry = step()
        except Refused as refusal:
            return Entry(resource.kind, _display(resource), REFUSED, _stack(resource), str(refusal))
        return entry


def _record_names(target: deployables.Target, member: dict[str, Any]) -> dict[str, str | None]:
    """The name columns of a deployment record of `target` (`member`: its DeploymentState member)."""
    kind, names = target.kind, target.names
    if kind is deployables.COMPONENT:
        return {
            "component_name": names[0],
            "service_name": member.get("serviceName"),
            "service_instance_name": member.get("serviceInstanceName"),
        }
    if kind is deployables.SERVICE_INSTANCE:
        return {"service_name": names[0], "service_instance_name": names[1]}
    if kind is deployables.SERVICE_PIPELINE:
        return {"service_name": names[0]}
    return {}


def _inputs(compute: Any) -> Any:
    """Run a spec check; its ValidationException refuses the resource with its message."""
    try:
        return compute()
    except ValidationException as error:
        raise Refused(f"its spec is not valid for its template version: {error.message}") from None


def _version_columns(chosen: tuple[int, int], spec: str | None, inputs: dict[str, Any]) -> dict[str, Any]:
    """`deployables.version_columns`, where the spec may be unknown (NULL)."""
    return {**deployables.version_columns(chosen, spec or "", inputs), "spec": spec}


def _version_state(template_name: str, chosen: tuple[int, int], spec: str | None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "templateName": template_name,
        "templateMajorVersion": str(chosen[0]),
        "templateMinorVersion": str(chosen[1]),
    }
    if spec is not None:
        state["spec"] = spec
    return state


def _generated_spec(service: Resource, members: list[Resource]) -> str:
    """The spec recorded for a service adopted without one: its instances and environments, no inputs."""
    document: dict[str, Any] = {
        "proton": "ServiceSpec",
        "instances": [
            {"name": member.name, "environment": member.environment}
            for member in members
            if member.kind == "service-instance"
        ],
    }
    if any(member.kind == "service-pipeline" for member in members):
        document["pipeline"] = {}
    return dump_spec(document)


def apply_plan(runtime: Runtime, plan: Plan) -> AdoptionReport:
    """Create Baryon's records for the plan's CloudFormation resources (see the module docstring)."""
    applier = _Applier(runtime, plan, runtime.clock.now())
    report = applier.report
    cloudformation = [
        r
        for r in plan.resources
        if r.kind == "service"
        or (r.binding is not None and r.binding.method in ("cloudformation", "terraform"))
    ]
    for resource in cloudformation:
        if resource.kind == "environment":
            report.add(applier.guard(resource, lambda r=resource: applier.environment(r)))
    for resource in cloudformation:
        if resource.kind != "service":
            continue
        members = [
            r
            for r in cloudformation
            if r.kind in ("service-instance", "service-pipeline") and r.service == resource.name
        ]
        try:
            entries = applier.service(resource, members)
        except Refused as refusal:
            entries = [
                Entry(r.kind, _display(r), REFUSED, _stack(r), str(refusal)) for r in (resource, *members)
            ]
        for entry in entries:
            report.add(entry)
    services_named = {r.name for r in cloudformation if r.kind == "service"}
    for resource in cloudformation:
        if (
            resource.kind in ("service-instance", "service-pipeline")
            and resource.service not in services_named
        ):
            report.add(
                Entry(
                    resource.kind,
                    _display(resource),
                    REFUSED,
                    _stack(resource),
                    f"the plan has no service {resource.service} for it.",
                )
            )
    for resource in cloudformation:
        if resource.kind == "component":
            report.add(applier.guard(resource, lambda r=resource: applier.component(r)))
    return _with_folders(report)


def _with_folders(report: AdoptionReport) -> AdoptionReport:
    """Entries of repository-bound resources name their folder (`folder dev/`), not the adoption message."""
    shown = AdoptionReport()
    for entry in report.entries:
        where = entry.stack_name
        if where is not None and where.startswith(_REPOSITORY_PREFIX):
            where = "folder " + where.rsplit(" folder ", 1)[1].split(";", 1)[0]
        shown.add(dataclasses.replace(entry, stack_name=where))
    return shown
