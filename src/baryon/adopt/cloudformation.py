"""Reading the CloudFormation stacks Proton left running into an adoption plan.

Job: in the cloud account a role is assumed in (one region), find every stack that carries Proton's
`proton:*` tags, tell from its tags which resource it deployed (reference §1.14, §4.1), and build the
`Plan` of what Baryon will record for them, with the template version each resource runs and its spec
when `--specs` holds one. Nothing here changes anything: the stacks are only described, and the store is
only read.

Which stack is which, from its tags (values are Proton ARNs):
- `proton:component` → a component (in the environment `proton:environment` names; attached to the
  service instance `proton:service-instance` names, if any);
- `proton:service-instance` → a service instance (its environment from `proton:environment`, which it
  must have);
- `proton:service` without `proton:service-instance` → the service's pipeline;
- `proton:environment` only → an environment.
Services are recorded as `kind="service"` resources grouping the instances and pipeline found for them.

States: CREATE_COMPLETE, UPDATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE, IMPORT_COMPLETE and
IMPORT_ROLLBACK_COMPLETE are adoptable (the stack is settled and runs what its last successful operation
made); DELETE_COMPLETE stacks are ignored; every other state (in progress, failed, ROLLBACK_COMPLETE — a
create that never succeeded) is skipped with the reason and what to do.

Invariants: at most one DescribeStacks page per 100 stacks (CloudFormation returns each stack's tags and
outputs with it) and one ListStackResources call per adopted stack (more only for a stack holding more
than 100 resources): at most two CloudFormation read calls per stack. Tag values are hostile text: ARNs
are parsed strictly (partition, service, region, 12-digit account, resource form and names) and
bounded; anything inconsistent (an unknown ARN form, an ARN of another region or of another account
than the stack's other tags, an instance without an environment, two stacks claiming one resource) is
skipped with a reason that quotes at most a bounded prefix of the value. A resource's template version
is the one `--template NAME=M.m` names, else the version the tag names (`…-template/NAME:M.m`), else
the highest published version of the template registered in the Baryon account; when none exists, its
stack is skipped with a reason naming `--template` and `--bundles`. A spec file is checked as the API
checks it (the document, then the resource's inputs against the version's schema); a resource whose spec
does not pass is skipped with the reason.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from baryon.adopt.plan import Binding, Kind, Output, Plan, ProvisionedResource, Resource, Skipped
from baryon.domain.account_connections import CONNECTED
from baryon.domain.spec_schema import ENVIRONMENT_INPUT, PIPELINE_INPUT, SERVICE_INPUT
from baryon.domain.specs import (
    parse_environment_spec,
    parse_instance_spec_from_service_spec,
    parse_pipeline_spec,
    parse_service_spec,
    spec_inputs,
)
from baryon.domain.template_versions import schema_of
from baryon.domain.versions import PUBLISHED
from baryon.engine.provisioners import targets
from baryon.engine.provisioners.errors import BOTO_ERRORS, ProvisionError, from_boto
from baryon.protocol.errors import ValidationException
from baryon.store import templates as template_store
from baryon.store.schema import environment_account_connections

if TYPE_CHECKING:
    from baryon.runtime import Runtime

#: Stack states whose stack runs what its last successful operation made.
ADOPTABLE = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)
DELETED = "DELETE_COMPLETE"
TAG_PREFIX = "proton:"
TAG_KEYS = (
    "proton:account",
    "proton:template",
    "proton:environment",
    "proton:service",
    "proton:service-instance",
    "proton:component",
)
#: The longest tag value read (CloudFormation allows 256 characters).
MAX_TAG_VALUE = 256
#: The longest spec file read.
MAX_SPEC_BYTES = 512 * 1024
_SHOWN = 80

_NAME = r"[0-9A-Za-z][0-9A-Za-z_\-]{0,99}"
_ARN = re.compile(
    r"arn:(?P<partition>aws|aws-cn|aws-us-gov):proton:(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}):"
    r"(?P<account>[0-9]{12}):(?P<resource>.{1,230})"
)
_RESOURCES: dict[str, re.Pattern[str]] = {
    "environment": re.compile(rf"environment/(?P<name>{_NAME})"),
    "service": re.compile(rf"service/(?P<name>{_NAME})"),
    "service-instance": re.compile(rf"service/(?P<service>{_NAME})/service-instance/(?P<name>{_NAME})"),
    "component": re.compile(rf"component/(?P<name>{_NAME})"),
    "environment-template": re.compile(
        rf"environment-template/(?P<name>{_NAME})(?::(?P<major>[1-9][0-9]{{0,5}})(?:\.(?P<minor>0|[1-9][0-9]{{0,5}}))?)?"
    ),
    "service-template": re.compile(
        rf"service-template/(?P<name>{_NAME})(?::(?P<major>[1-9][0-9]{{0,5}})(?:\.(?P<minor>0|[1-9][0-9]{{0,5}}))?)?"
    ),
}
_STACK_ID = re.compile(
    r"arn:(?:aws|aws-cn|aws-us-gov):cloudformation:[a-z0-9-]{1,32}:(?P<account>[0-9]{12}):stack/.{1,300}"
)
_ROLE = re.compile(r"arn:(?:aws|aws-cn|aws-us-gov):iam::(?P<account>[0-9]{12}):role/[\w+=,.@/-]{1,512}")
_TEMPLATE_CHOICE = re.compile(
    rf"(?P<name>{_NAME})=(?P<major>[1-9][0-9]{{0,5}})\.(?P<minor>0|[1-9][0-9]{{0,5}})"
)


class AdoptError(Exception):
    """What stops reading the stacks at all (the message is one line saying what to do)."""


def shown(value: str) -> str:
    """A tag value as quoted in a reason: printable, at most a bounded prefix."""
    text = "".join(ch if ch.isprintable() else "?" for ch in value[:_SHOWN])
    return repr(text + ("…" if len(value) > _SHOWN else ""))


@dataclass(frozen=True)
class Arn:
    account: str
    region: str
    form: str
    name: str
    service: str | None = None
    major: str | None = None
    minor: str | None = None


class TagProblem(Exception):
    """A stack's tags do not say consistently what it deployed."""


def parse_arn(key: str, value: str, forms: Iterable[str]) -> Arn:
    """The Proton ARN of tag `key`, of one of `forms`; TagProblem otherwise."""
    allowed = tuple(forms)
    if len(value) > MAX_TAG_VALUE:
        raise TagProblem(f"tag {key} is longer than {MAX_TAG_VALUE} characters")
    match = _ARN.fullmatch(value)
    if match is None:
        raise TagProblem(f"tag {key} is not a Proton ARN: {shown(value)}")
    resource = match.group("resource")
    for form in allowed:
        found = _RESOURCES[form].fullmatch(resource)
        if found is not None:
            groups = found.groupdict()
            return Arn(
                account=match.group("account"),
                region=match.group("region"),
                form=form,
                name=groups["name"],
                service=groups.get("service"),
                major=groups.get("major"),
                minor=groups.get("minor"),
            )
    wanted = " or ".join(f"…:{form}/NAME" for form in allowed)
    raise TagProblem(f"tag {key} is not {wanted}: {shown(value)}")


def parse_template_choices(choices: Iterable[str]) -> dict[str, tuple[int, int]]:
    """`--template NAME=MAJOR.MINOR` values; ValueError naming the bad one."""
    chosen: dict[str, tuple[int, int]] = {}
    for choice in choices:
        match = _TEMPLATE_CHOICE.fullmatch(choice.strip())
        if match is None:
            raise ValueError(f"{shown(choice)} is not NAME=MAJOR.MINOR (e.g. fargate=1.2)")
        name = match.group("name")
        if name in chosen:
            raise ValueError(f"template {name} is given twice")
        chosen[name] = (int(match.group("major")), int(match.group("minor")))
    return chosen


def role_account(role_arn: str) -> str:
    """The account of an IAM role ARN; AdoptError when it is not one."""
    match = _ROLE.fullmatch(role_arn)
    if match is None:
        raise AdoptError(f"{shown(role_arn)} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME).")
    return match.group("account")


@dataclass
class Found:
    """One stack that says which resource it deployed."""

    kind: Kind
    name: str
    stack: Mapping[str, Any]
    cloud_account: str
    #: The account of the stack's Proton ARNs: the account Proton ran in (the management account).
    proton_account: str = ""
    environment: str | None = None
    service: str | None = None
    service_instance: str | None = None
    template: Arn | None = None
    proton_arn: str | None = None
    provisioned: tuple[ProvisionedResource, ...] = ()

    @property
    def stack_name(self) -> str:
        return str(self.stack.get("StackName", ""))

    @property
    def key(self) -> tuple[str, ...]:
        if self.kind in ("service-instance", "service-pipeline"):
            return (self.kind, self.service or "", self.name)
        return (self.kind, self.name)


def _tags(stack: Mapping[str, Any]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in stack.get("Tags") or []:
        key, value = str(tag.get("Key", "")), str(tag.get("Value", ""))
        if key.startswith(TAG_PREFIX):
            tags[key] = value
    return tags


def classify(stack: Mapping[str, Any], tags: dict[str, str], region: str) -> Found:
    """Which resource a stack with Proton's tags deployed; TagProblem when its tags do not say it."""
    unknown = sorted(key for key in tags if key not in TAG_KEYS)
    if unknown:
        raise TagProblem(f"unknown Proton tag {shown(unknown[0])}")
    stack_id = str(stack.get("StackId", ""))
    located = _STACK_ID.fullmatch(stack_id)
    if located is None:
        raise TagProblem(f"stack id {shown(stack_id)} is not a CloudFormation stack ARN")
    arns: dict[str, Arn] = {}
    forms = {
        "proton:environment": ("environment",),
        "proton:service": ("service",),
        "proton:service-instance": ("service-instance",),
        "proton:component": ("component",),
        "proton:template": ("environment-template", "service-template"),
    }
    for key, allowed in forms.items():
        if key in tags:
            arns[key] = parse_arn(key, tags[key], allowed)
    if not arns:
        raise TagProblem("no Proton ARN in its tags")
    accounts = {arn.account for arn in arns.values()}
    if len(accounts) > 1:
        raise TagProblem(f"its tags name resources of several accounts ({', '.join(sorted(accounts))})")
    (account,) = accounts
    owner = tags.get("proton:account")
    if owner is not None and owner != account:
        raise TagProblem(f"tag proton:account {shown(owner)} is not the account of its ARNs ({account})")
    for key, arn in arns.items():
        if arn.region != region:
            raise TagProblem(f"tag {key} names region {arn.region}, not {region}")
    environment = arns.get("proton:environment")
    service = arns.get("proton:service")
    instance = arns.get("proton:service-instance")
    component = arns.get("proton:component")
    template = arns.get("proton:template")
    if instance is not None and service is not None and service.name != instance.service:
        raise TagProblem(
            f"tag proton:service names service {service.name}, but its instance is of {instance.service}"
        )
    found = Found(
        kind="environment",
        name="",
        stack=stack,
        cloud_account=located.group("account"),
        proton_account=account,
        environment=environment.name if environment else None,
        template=template,
    )
    if component is not None:
        if environment is None:
            raise TagProblem("component stack without a proton:environment tag")
        if template is not None:
            raise TagProblem("a component has no template, but the stack has a proton:template tag")
        if service is not None and instance is None:
            raise TagProblem("component stack names a service but no proton:service-instance")
        found.kind, found.name = "component", component.name
        found.service = instance.service if instance else None
        found.service_instance = instance.name if instance else None
        found.proton_arn = tags["proton:component"]
    elif instance is not None:
        if environment is None:
            raise TagProblem("service instance stack without a proton:environment tag")
        found.kind, found.name = "service-instance", instance.name
        found.service, found.service_instance = instance.service, instance.name
        found.proton_arn = tags["proton:service-instance"]
    elif service is not None:
        found.kind, found.name, found.service = "service-pipeline", service.name, service.name
        found.environment = None
        found.proton_arn = f"{tags['proton:service']}/pipeline"
    elif environment is not None:
        found.kind, found.name = "environment", environment.name
        found.proton_arn = tags["proton:environment"]
    else:
        raise TagProblem("no proton:environment, proton:service or proton:component tag")
    if found.kind != "component":
        wanted = "environment-template" if found.kind == "environment" else "service-template"
        if template is None:
            raise TagProblem("no proton:template tag")
        if template.form != wanted:
            raise TagProblem(f"tag proton:template is not …:{wanted}/NAME: {shown(tags['proton:template'])}")
    return found


def state_problem(status: str) -> str | None:
    """Why a stack in `status` cannot be adopted now (None: it can)."""
    if status in ADOPTABLE:
        return None
    if status.endswith("_IN_PROGRESS"):
        return f"the stack is {status}; run the adoption again once it has settled"
    if status == "ROLLBACK_COMPLETE":
        return (
            "the stack is ROLLBACK_COMPLETE (its creation failed and nothing of it runs); delete it and "
            "create the resource in Baryon"
        )
    return (
        f"the stack is {status}; repair it (e.g. continue or finish its rollback) and run the adoption again"
    )


@dataclass
class Reading:
    """What reading needs besides the stacks: where to adopt and what the user said."""

    account_id: str
    region: str
    role_arn: str
    specs_dir: Path | None = None
    templates: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Versions `--bundles` will register and publish ((kind, template name) → [(major, minor)]), shown
    #: by a dry run as if they were published.
    pending: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=dict)


def _when(stack: Mapping[str, Any]) -> float | None:
    moment: Any = stack.get("LastUpdatedTime") or stack.get("CreationTime")
    return float(moment.timestamp()) if hasattr(moment, "timestamp") else None


def _binding(found: Found, region: str) -> Binding:
    stack = found.stack
    return Binding(
        method="cloudformation",
        cloud_account_id=found.cloud_account,
        region=region,
        stack_name=found.stack_name,
        stack_id=str(stack.get("StackId")),
        stack_updated_at=_when(stack),
    )


def _outputs(stack: Mapping[str, Any]) -> tuple[Output, ...]:
    return tuple(
        Output(key=str(item.get("OutputKey", "")), value=str(item.get("OutputValue", "")))
        for item in stack.get("Outputs") or []
    )


def _provisioned(cloudformation: Any, stack_id: str) -> tuple[ProvisionedResource, ...]:
    found: list[ProvisionedResource] = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_id):
        for item in page.get("StackResourceSummaries") or []:
            found.append(
                ProvisionedResource(
                    name=str(item.get("LogicalResourceId", "")),
                    identifier=str(item.get("PhysicalResourceId", "")),
                )
            )
    return tuple(found)


@dataclass(frozen=True)
class Specs:
    """The spec files of `--specs DIR` (read once each)."""

    directory: Path | None
    cache: dict[str, str | None] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        """The text of `<name>.yaml` (or `.yml`), None when there is none; ValueError when unreadable."""
        if self.directory is None:
            return None
        if name in self.cache:
            return self.cache[name]
        text: str | None = None
        for suffix in (".yaml", ".yml"):
            path = self.directory / f"{name}{suffix}"
            if not path.exists():
                continue
            if not path.is_file():
                raise ValueError(f"{path} is not a regular file")
            if path.stat().st_size > MAX_SPEC_BYTES:
                raise ValueError(f"{path} is larger than {MAX_SPEC_BYTES} bytes")
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"{path} is not UTF-8 text") from None
            break
        self.cache[name] = text
        return text


Wanted = tuple[str, str, tuple[int, int | None] | None]


def _wanted(item: Found) -> Wanted:
    """(template kind, template name, the version or major its tag names) of a stack with a template."""
    template = item.template
    assert template is not None
    kind = "ENVIRONMENT" if item.kind == "environment" else "SERVICE"
    if template.major is None:
        return kind, template.name, None
    return kind, template.name, (int(template.major), int(template.minor) if template.minor else None)


def _template_versions(
    runtime: Runtime, reading: Reading, wanted: Iterable[Wanted]
) -> dict[Wanted, tuple[int, int] | str]:
    """For each (kind, name, version or major the tag names) the version to use, or the reason there is
    none."""
    chosen: dict[Wanted, tuple[int, int] | str] = {}
    with runtime.database.read() as connection:
        for asked in wanted:
            if asked in chosen:
                continue
            kind, name, tagged = asked
            key = (kind, name)
            label = "environment template" if kind == "ENVIRONMENT" else "service template"
            template = template_store.find_template(
                connection, reading.account_id, reading.region, kind, name
            )
            pending = reading.pending.get(key, [])
            if template is None and not pending:
                chosen[asked] = (
                    f"{label} {name} is not registered in account {reading.account_id}; register it "
                    "(template sync, or --bundles DIR) and give its version with --template "
                    f"{name}=MAJOR.MINOR if it is not the highest published one"
                )
                continue
            version = reading.templates.get(name)
            if version is None and tagged is not None:
                major, minor = tagged
                if minor is not None:
                    version = (major, minor)
                else:
                    # The tag names a major version: its highest published minor.
                    minors = [m for p_major, m in pending if p_major == major]
                    if template is not None:
                        published = template_store.recommended_minor(connection, template.id, major)
                        minors += [] if published is None else [published]
                    if not minors:
                        chosen[asked] = (
                            f"{label} {name} has no published version in major {major} (the major its "
                            "stacks' proton:template tag names); publish one (or register one with "
                            f"--bundles DIR) or name one with --template {name}=MAJOR.MINOR"
                        )
                        continue
                    version = (major, max(minors))
            if version is None:
                candidates = list(pending)
                if template is not None and template.recommended_major is not None:
                    candidates.append((int(template.recommended_major), int(template.recommended_minor)))
                if not candidates:
                    chosen[asked] = (
                        f"{label} {name} has no published version; publish one (or register one with "
                        f"--bundles DIR) or name it with --template {name}=MAJOR.MINOR"
                    )
                    continue
                version = max(candidates)
            if version in pending:
                chosen[asked] = version
                continue
            row = None if template is None else template_store.find_version(connection, template.id, *version)
            if row is None or row.status != PUBLISHED:
                state = "is not registered" if row is None else f"is {row.status}, not PUBLISHED"
                chosen[asked] = (
                    f"version {version[0]}.{version[1]} of {label} {name} {state}; register and publish "
                    f"it (template sync, or --bundles DIR) or name another with --template {name}=MAJOR.MINOR"
                )
                continue
            chosen[asked] = version
    return chosen


def _connections(runtime: Runtime, reading: Reading) -> dict[tuple[str, str], str]:
    """(environment account, environment name) → id of a CONNECTED environment account connection."""
    C = environment_account_connections.c
    with runtime.database.read() as connection:
        rows = connection.execute(
            sa.select(C.id, C.account_id, C.environment_name).where(
                C.management_account_id == reading.account_id,
                C.region == reading.region,
                C.status == CONNECTED,
            )
        ).all()
    return {(row.account_id, row.environment_name): str(row.id) for row in rows}


Connect = Callable[[targets.Target], Any]


def _client(reading: Reading, connect: Connect | None) -> Any:
    target = targets.Target(reading.region, role_account(reading.role_arn), reading.role_arn)
    try:
        return (connect or (lambda t: targets.client(t, "cloudformation")))(target)
    except ProvisionError as error:
        raise AdoptError(str(error)) from None


def read_stacks(runtime: Runtime, reading: Reading, connect: Connect | None = None) -> Plan:
    """The plan of adopting every stack with Proton's tags that the role of `reading` can see.

    `connect` makes the CloudFormation client of a target (default: `targets.client`, which assumes the
    role). AdoptError when the role cannot be assumed or the stacks cannot be listed."""
    plan = Plan(account_id=reading.account_id, region=reading.region)
    cloudformation = _client(reading, connect)
    found: list[Found] = []
    try:
        for page in cloudformation.get_paginator("describe_stacks").paginate():
            for stack in page.get("Stacks") or []:
                tags = _tags(stack)
                status = str(stack.get("StackStatus", ""))
                if not tags or status == DELETED:
                    continue
                source = f"stack {stack.get('StackName', '?')}"
                try:
                    item = classify(stack, tags, reading.region)
                except TagProblem as problem:
                    plan.skipped.append(Skipped(source, f"its Proton tags are inconsistent: {problem}"))
                    continue
                problem_text = state_problem(status)
                if problem_text is not None:
                    plan.skipped.append(Skipped(source, problem_text))
                    continue
                found.append(item)
    except BOTO_ERRORS as error:
        raise AdoptError(str(from_boto(error, f"DescribeStacks as {reading.role_arn}"))) from None
    found = _one_template_per_service(_unique(found, plan), plan)
    with_template = (_wanted(item) for item in found if item.template is not None)
    resolved = _template_versions(runtime, reading, with_template)
    connections = _connections(runtime, reading)
    specs = Specs(reading.specs_dir)
    schemas = Schemas(runtime, reading)
    adopted: list[tuple[Found, Resource]] = []
    for item in found:
        source = f"stack {item.stack_name}"
        version: tuple[int, int] | None = None
        if item.template is not None:
            choice = resolved[_wanted(item)]
            if isinstance(choice, str):
                plan.skipped.append(Skipped(source, choice))
                continue
            version = choice
        connection_id: str | None = None
        if item.kind == "environment" and item.cloud_account != item.proton_account:
            connection_id = connections.get((item.cloud_account, item.name))
            if connection_id is None:
                plan.skipped.append(
                    Skipped(
                        source,
                        f"environment {item.name} runs in environment account {item.cloud_account} (Proton "
                        f"ran in {item.proton_account}), and account {reading.account_id} has no CONNECTED "
                        "environment account connection from it for this environment; create one in that "
                        "account, accept it, and run the adoption again",
                    )
                )
                continue
        try:
            spec = _spec_of(specs, item)
            if spec is not None and version is not None and item.template is not None:
                schema = schemas.of(item.kind, item.template.name, version)
                if schema is not None:
                    check_inputs(item, spec, schema)
        except (ValueError, ValidationException) as error:
            plan.skipped.append(Skipped(source, f"its spec file cannot be used: {error}"))
            continue
        try:
            item.provisioned = _provisioned(cloudformation, str(item.stack.get("StackId")))
        except BOTO_ERRORS as error:
            reason = from_boto(error, f"ListStackResources {item.stack_name}")
            plan.skipped.append(Skipped(source, f"its resources cannot be listed: {reason}"))
            continue
        adopted.append(
            (
                item,
                Resource(
                    kind=item.kind,
                    name=item.name,
                    template_name=item.template.name if item.template else None,
                    template_major=str(version[0]) if version else None,
                    template_minor=str(version[1]) if version else None,
                    binding=_binding(item, reading.region),
                    service=item.service,
                    environment=item.environment,
                    service_instance=item.service_instance,
                    spec=spec,
                    outputs=_outputs(item.stack),
                    provisioned_resources=item.provisioned,
                    environment_account_connection_id=connection_id,
                    role_arn=reading.role_arn
                    if item.kind == "environment" and connection_id is None
                    else None,
                    proton_arn=item.proton_arn,
                ),
            )
        )
    plan.resources = _ordered(adopted, specs)
    return plan


def _unique(found: list[Found], plan: Plan) -> list[Found]:
    """The stacks that alone claim their resource; the others are skipped."""
    claims: dict[tuple[str, ...], list[Found]] = defaultdict(list)
    for item in found:
        claims[item.key].append(item)
    kept: list[Found] = []
    for item in found:
        rivals = [other.stack_name for other in claims[item.key] if other is not item]
        if rivals:
            plan.skipped.append(
                Skipped(
                    f"stack {item.stack_name}",
                    f"{item.kind} {item.name} is also claimed by stack(s) {', '.join(sorted(rivals))}; "
                    "delete the stale one(s) or untag them and run the adoption again",
                )
            )
            continue
        kept.append(item)
    return kept


@dataclass
class Schemas:
    """The schemas of registered template versions, read once each (None: not registered yet, e.g. a
    version a dry run's `--bundles` would register)."""

    runtime: Runtime
    reading: Reading
    cache: dict[tuple[str, str, tuple[int, int]], dict[str, Any] | None] = field(default_factory=dict)

    def of(self, kind: str, name: str, version: tuple[int, int]) -> dict[str, Any] | None:
        template_kind = "ENVIRONMENT" if kind == "environment" else "SERVICE"
        key = (template_kind, name, version)
        if key not in self.cache:
            with self.runtime.database.read() as connection:
                template = template_store.find_template(
                    connection, self.reading.account_id, self.reading.region, template_kind, name
                )
                row = None
                if template is not None:
                    row = template_store.find_version(connection, template.id, *version)
            self.cache[key] = None if row is None else schema_of(row)
        return self.cache[key]


def check_inputs(item: Found, spec: str, schema: dict[str, Any]) -> None:
    """ValidationException when the spec's inputs for the resource do not fit the version's schema (the
    check its creation through the API makes)."""
    if item.kind == "environment":
        given = parse_environment_spec(spec)
        spec_inputs(schema, ENVIRONMENT_INPUT, given, {}, where=f"environment {item.name}")
    elif item.kind == "service-instance":
        given = parse_instance_spec_from_service_spec(spec, item.name)
        spec_inputs(schema, SERVICE_INPUT, given, {}, where=f"service instance {item.name}")
    elif item.kind == "service-pipeline":
        given = parse_pipeline_spec(spec)
        spec_inputs(schema, PIPELINE_INPUT, given, {}, where=f"pipeline of service {item.name}")


def _one_template_per_service(found: list[Found], plan: Plan) -> list[Found]:
    """The stacks of each service's instances and pipeline that name the service's template (the
    pipeline's, else the one most of its instances name); the others are skipped."""
    named: dict[str, Counter[str]] = defaultdict(Counter)
    pipelines: dict[str, str] = {}
    for item in found:
        if item.service and item.template and item.kind in ("service-instance", "service-pipeline"):
            named[item.service][item.template.name] += 1
            if item.kind == "service-pipeline":
                pipelines[item.service] = item.template.name
    kept: list[Found] = []
    for item in found:
        if item.service and item.template and item.kind in ("service-instance", "service-pipeline"):
            chosen = pipelines.get(item.service) or named[item.service].most_common(1)[0][0]
            if item.template.name != chosen:
                plan.skipped.append(
                    Skipped(
                        f"stack {item.stack_name}",
                        f"it names service template {item.template.name}, but service {item.service} runs "
                        f"service template {chosen}; a service's instances and pipeline share one template",
                    )
                )
                continue
        kept.append(item)
    return kept


def _spec_of(specs: Specs, item: Found) -> str | None:
    """The spec text a resource was deployed with, as Baryon stores it (None: not known)."""
    if item.kind == "environment":
        text = specs.text(item.name)
        if text is not None:
            parse_environment_spec(text)
        return text
    if item.kind in ("service-instance", "service-pipeline"):
        assert item.service is not None
        text = specs.text(item.service)
        if text is None:
            return None
        parsed = parse_service_spec(text)
        if item.kind == "service-pipeline":
            return text if parsed.pipeline is not None else None
        # CreateService stores the whole ServiceSpec as each instance's spec.
        return text if any(instance.name == item.name for instance in parsed.instances) else None
    return None


_ORDER = {"environment": 0, "service": 1, "service-instance": 2, "service-pipeline": 3, "component": 4}


def _ordered(adopted: list[tuple[Found, Resource]], specs: Specs) -> list[Resource]:
    """Environments, then services (grouping the instances and pipelines found), instances, pipelines and
    components; each kind by name."""
    resources = [resource for _, resource in adopted]
    services: dict[str, str] = {}
    for item, _ in adopted:
        if item.kind in ("service-instance", "service-pipeline") and item.service and item.template:
            services.setdefault(item.service, item.template.name)
    for service_name, template_name in services.items():
        members = [r for r in resources if r.service == service_name and r.kind != "component"]
        pipeline = [r for r in members if r.kind == "service-pipeline"]
        lead = pipeline[0] if pipeline else members[0]
        try:
            spec = specs.text(service_name)
        except ValueError:
            spec = None
        resources.append(
            Resource(
                kind="service",
                name=service_name,
                template_name=template_name,
                template_major=lead.template_major,
                template_minor=lead.template_minor,
                binding=None,
                spec=spec,
                proton_arn=(lead.proton_arn or "").split("/service-instance/")[0].removesuffix("/pipeline")
                or None,
            )
        )
    return sorted(resources, key=lambda r: (_ORDER[r.kind], r.service or "", r.name))
