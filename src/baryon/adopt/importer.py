"""`baryon import`: recreating, in one Baryon account and region, what an export of Proton described.

Job: from an `Export` (`baryon.adopt.exported`), `plan_import` says what importing would do and
`apply_import` does it, in this order: templates (name, display name, description), their versions from
the bundles of `--bundles DIR` (`baryon.adopt.bundles`), account settings, then the environments,
services with instances and pipeline, and components, which are adopted — never deployed — from the
CloudFormation stacks they run on: the stacks are read with `read_stacks` (role `--role-arn`), matched to
the exported records by name, and each adopted resource gets the spec and template version of the export
(`apply_plan`).

Invariants: every write goes through an API handler (templates, settings) or `apply_plan` (resources), so
every check of the API applies; nothing is deployed: a resource without a stack is skipped with the
reason; what exists already is left as it is, so importing twice changes nothing; `--dry-run`
(`plan_import` alone) writes nothing and, without `--role-arn`, calls no cloud.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baryon.adopt import exported as ex
from baryon.adopt.bundles import Bundle, find_bundles, predict, register_bundles
from baryon.adopt.bundles import _call as call_handler
from baryon.adopt.cloudformation import Connect, Reading, read_stacks
from baryon.adopt.plan import Plan, Resource, Skipped
from baryon.domain.versions import DRAFT, PUBLISHED
from baryon.protocol.errors import ConflictException, ServiceError
from baryon.runtime import Runtime
from baryon.store import connections as connection_store
from baryon.store import templates as template_store

_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z_\-]{0,99}")

#: Exported kinds deployed by Proton, as the adoption plan names them.
_DEPLOYED = {
    ex.ENVIRONMENT: "environment",
    ex.SERVICE_INSTANCE: "service-instance",
    ex.PIPELINE: "service-pipeline",
    ex.COMPONENT: "component",
}


@dataclass(frozen=True)
class Step:
    """One thing importing does (or would do, or skips): what, its name, and the outcome or reason."""

    what: str
    name: str
    outcome: str


@dataclass
class ImportPlan:
    account_id: str
    region: str
    steps: list[Step] = field(default_factory=list)
    adoption: Plan | None = None
    #: Repositories to link: (provider, name, Baryon connection ARN).
    repositories: list[tuple[str, str, str]] = field(default_factory=list)
    #: Sync configs to create: (kind, template or service name, Create…SyncConfig parameters).
    sync_configs: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _template_kind(kind: str) -> str:
    return "ENVIRONMENT" if kind in (ex.ENVIRONMENT_TEMPLATE, ex.ENVIRONMENT_TEMPLATE_VERSION) else "SERVICE"


def _prefix(kind: str) -> str:
    return "Environment" if _template_kind(kind) == "ENVIRONMENT" else "Service"


def _template_exists(runtime: Runtime, account_id: str, region: str, kind: str, name: str) -> bool:
    with runtime.database.read() as connection:
        found = template_store.find_template(connection, account_id, region, _template_kind(kind), name)
    return found is not None


def _version_exists(
    runtime: Runtime, account_id: str, region: str, record: dict[str, Any], kind: str
) -> bool:
    with runtime.database.read() as connection:
        template = template_store.find_template(
            connection, account_id, region, _template_kind(kind), str(record["templateName"])
        )
        if template is None:
            return False
        found = template_store.find_version(
            connection, template.id, int(record["majorVersion"]), int(record["minorVersion"])
        )
    return found is not None


def _bundles_of(bundles_dir: Path | None) -> dict[tuple[str, str, int], Bundle]:
    if bundles_dir is None:
        return {}
    return {(b.kind, b.name, b.major): b for b in find_bundles(bundles_dir)}


def _numbers(record: dict[str, Any]) -> tuple[int, int] | None:
    major, minor = record.get("majorVersion"), record.get("minorVersion")
    if isinstance(major, str) and isinstance(minor, str) and major.isdigit() and minor.isdigit():
        return int(major), int(minor)
    return None


def _template_steps(
    runtime: Runtime, plan: ImportPlan, export: ex.Export, bundles: dict[tuple[str, str, int], Bundle]
) -> list[Bundle]:
    """Steps for templates and versions; the bundles to register."""
    for kind in (ex.ENVIRONMENT_TEMPLATE, ex.SERVICE_TEMPLATE):
        for record in export.of(kind):
            name = str(record["name"])
            exists = _template_exists(runtime, plan.account_id, plan.region, kind, name)
            plan.steps.append(Step(kind, name, "exists" if exists else "create"))
    chosen: list[Bundle] = []
    for kind in (ex.ENVIRONMENT_TEMPLATE_VERSION, ex.SERVICE_TEMPLATE_VERSION):
        for record in export.of(kind):
            numbers = _numbers(record)
            label = f"{record['templateName']}:{record['majorVersion']}.{record['minorVersion']}"
            if numbers is None:
                plan.skipped.append(Skipped(f"{kind} {label}", "its version numbers are not numbers"))
                continue
            if _version_exists(runtime, plan.account_id, plan.region, record, kind):
                plan.steps.append(Step(kind, label, "exists"))
                continue
            bundle = bundles.get((_template_kind(kind), str(record["templateName"]), numbers[0]))
            if bundle is None:
                plan.skipped.append(
                    Skipped(
                        f"{kind} {label}", f"--bundles has no {record['templateName']}/v{numbers[0]}/ folder"
                    )
                )
                continue
            status = record.get("status")
            if status not in (PUBLISHED, DRAFT):
                plan.skipped.append(
                    Skipped(f"{kind} {label}", f"its status is {status}, not PUBLISHED or DRAFT")
                )
                continue
            description = record.get("description")
            chosen.append(
                dataclasses.replace(
                    bundle,
                    minor=numbers[1],
                    status=str(status),
                    description=description if isinstance(description, str) else None,
                )
            )
            plan.steps.append(Step(kind, label, f"register from {bundle.folder} as {status}"))
    return chosen


def _spec_files(export: ex.Export, folder: Path) -> None:
    """The exported specs as `--specs` files: `<environment>.yaml`, `<service>.yaml`."""
    for kind in (ex.ENVIRONMENT, ex.SERVICE):
        for record in export.of(kind):
            name, spec = record.get("name"), record.get("spec")
            if isinstance(name, str) and _NAME.fullmatch(name) and isinstance(spec, str):
                (folder / f"{name}.yaml").write_text(spec, encoding="utf-8")


def _exported_of(export: ex.Export, resource: Resource) -> dict[str, Any] | None:
    if resource.kind == "environment":
        return export.get(ex.ENVIRONMENT, resource.name)
    if resource.kind == "service":
        return export.get(ex.SERVICE, resource.name)
    if resource.kind == "service-instance":
        return export.get(ex.SERVICE_INSTANCE, resource.service or "", resource.name)
    if resource.kind == "service-pipeline":
        return export.get(ex.PIPELINE, resource.service or resource.name)
    return export.get(ex.COMPONENT, resource.name)


def _with_export(resource: Resource, record: dict[str, Any]) -> Resource:
    """The resource with the template version the export names."""
    major, minor = record.get("templateMajorVersion"), record.get("templateMinorVersion")
    if isinstance(major, str) and isinstance(minor, str):
        return dataclasses.replace(resource, template_major=major, template_minor=minor)
    return resource


def _identity(resource: Resource) -> tuple[str, str]:
    if resource.kind == "service-instance":
        return resource.kind, f"{resource.service}/{resource.name}"
    if resource.kind == "service-pipeline":
        return resource.kind, resource.service or resource.name
    return resource.kind, resource.name


def _exported_identity(kind: str, record: dict[str, Any]) -> tuple[str, str]:
    if kind == ex.SERVICE_INSTANCE:
        return "service-instance", f"{record.get('serviceName')}/{record.get('name')}"
    if kind == ex.PIPELINE:
        return "service-pipeline", str(record.get("serviceName"))
    return _DEPLOYED[kind], str(record.get("name"))


def _self_managed(kind: str, export: ex.Export, record: dict[str, Any]) -> bool:
    if kind == ex.ENVIRONMENT:
        return record.get("provisioning") == "CUSTOMER_MANAGED" or "provisioningRepository" in record
    if kind in (ex.SERVICE_INSTANCE, ex.PIPELINE):
        environment = export.get(ex.ENVIRONMENT, str(record.get("environmentName", "")))
        return environment is not None and _self_managed(ex.ENVIRONMENT, export, environment)
    return False


def _adoption(
    runtime: Runtime,
    plan: ImportPlan,
    export: ex.Export,
    role_arn: str | None,
    connect: Connect | None,
    chosen: list[Bundle],
) -> None:
    exported = {
        _exported_identity(kind, record): (kind, record) for kind in _DEPLOYED for record in export.of(kind)
    }
    if role_arn is None:
        for (what, name), _ in sorted(exported.items()):
            plan.skipped.append(
                Skipped(f"{what} {name}", "no --role-arn to read its stack with; not deployed")
            )
        return
    with tempfile.TemporaryDirectory(prefix="baryon-import-") as folder:
        _spec_files(export, Path(folder))
        reading = Reading(
            account_id=plan.account_id, region=plan.region, role_arn=role_arn, specs_dir=Path(folder)
        )
        if chosen:
            reading.pending = predict(runtime, plan.account_id, plan.region, chosen)
        read = read_stacks(runtime, reading, connect)
    adoption = Plan(account_id=plan.account_id, region=plan.region, bundles=read.bundles)
    adoption.skipped.extend(read.skipped)
    matched: set[tuple[str, str]] = set()
    for resource in read.resources:
        record = _exported_of(export, resource)
        if record is None:
            adoption.skipped.append(Skipped(f"{resource.kind} {_identity(resource)[1]}", "not in the export"))
            continue
        matched.add(_identity(resource))
        adoption.resources.append(_with_export(resource, record))
    for identity, (kind, record) in sorted(exported.items()):
        if identity in matched:
            continue
        reason = (
            "runs on Terraform: adopt it with baryon adopt repository"
            if _self_managed(kind, export, record)
            else "no CloudFormation stack of it was found; not deployed"
        )
        plan.skipped.append(Skipped(f"{identity[0]} {identity[1]}", reason))
    plan.adoption = adoption


#: The members of each sync config, as Create…SyncConfig takes them.
_SYNC_MEMBERS = {
    ex.TEMPLATE_SYNC_CONFIG: (
        "templateName",
        "templateType",
        "repositoryProvider",
        "repositoryName",
        "branch",
        "subdirectory",
    ),
    ex.SERVICE_SYNC_CONFIG: ("serviceName", "repositoryProvider", "repositoryName", "branch", "filePath"),
}


def _connection_for(runtime: Runtime, plan: ImportPlan, record: dict[str, Any]) -> tuple[str | None, str]:
    """The Baryon connection to link an exported repository through (the exported one when it is a
    Baryon connection of this account and region, else the only one of its provider), or the reason."""
    provider = record["provider"]
    with runtime.database.read() as connection:
        found = [
            c
            for c in connection_store.list_connections(connection, plan.account_id, plan.region)
            if c.provider == provider
        ]
    for candidate in found:
        if candidate.arn == record.get("connectionArn"):
            return candidate.arn, ""
    if len(found) == 1:
        return found[0].arn, ""
    if not found:
        return None, (
            f"no Baryon connection for {provider} in this account and region; create one with "
            "'baryon connections create' and import again"
        )
    return None, (
        f"several Baryon connections for {provider}; link it with aws proton create-repository "
        "--connection-arn"
    )


def _other_steps(runtime: Runtime, plan: ImportPlan, export: ex.Export) -> None:
    settings = export.get(ex.ACCOUNT_SETTINGS)
    if settings is not None:
        plan.steps.append(Step(ex.ACCOUNT_SETTINGS, "-", "update"))
    for record in export.of(ex.REPOSITORY):
        label = f"{record['provider']}:{record['name']}"
        arn, reason = _connection_for(runtime, plan, record)
        if arn is None:
            plan.skipped.append(Skipped(f"{ex.REPOSITORY} {label}", reason))
        else:
            plan.steps.append(Step(ex.REPOSITORY, label, f"link through {arn}"))
            plan.repositories.append((str(record["provider"]), str(record["name"]), arn))
    for kind, members in _SYNC_MEMBERS.items():
        for record in export.of(kind):
            params = {m: record[m] for m in members if isinstance(record.get(m), str)}
            name = str(record.get("templateName") or record.get("serviceName"))
            plan.steps.append(Step(kind, name, "create"))
            plan.sync_configs.append((kind, name, params))


def plan_import(
    runtime: Runtime,
    account_id: str,
    region: str,
    export: ex.Export,
    bundles_dir: Path | None = None,
    role_arn: str | None = None,
    connect: Connect | None = None,
) -> tuple[ImportPlan, list[Bundle]]:
    """What importing would do; writes nothing. Also the bundles to register."""
    plan = ImportPlan(account_id=account_id, region=region)
    chosen = _template_steps(runtime, plan, export, _bundles_of(bundles_dir))
    _other_steps(runtime, plan, export)
    _adoption(runtime, plan, export, role_arn, connect, chosen)
    return plan, chosen


def _create_templates(runtime: Runtime, plan: ImportPlan, export: ex.Export) -> None:
    for kind in (ex.ENVIRONMENT_TEMPLATE, ex.SERVICE_TEMPLATE):
        for record in export.of(kind):
            name = str(record["name"])
            if _template_exists(runtime, plan.account_id, plan.region, kind, name):
                continue
            params: dict[str, Any] = {"name": name}
            for member in ("displayName", "description"):
                if isinstance(record.get(member), str):
                    params[member] = record[member]
            if kind == ex.SERVICE_TEMPLATE and record.get("pipelineProvisioning") == "CUSTOMER_MANAGED":
                params["pipelineProvisioning"] = "CUSTOMER_MANAGED"
            try:
                call_handler(runtime, plan.account_id, plan.region, f"Create{_prefix(kind)}Template", params)
            except ConflictException:
                continue


def _account_settings(runtime: Runtime, plan: ImportPlan, export: ex.Export) -> None:
    settings = export.get(ex.ACCOUNT_SETTINGS)
    if settings is None:
        return
    params = {
        member: settings[member]
        for member in ("pipelineServiceRoleArn", "pipelineCodebuildRoleArn")
        if isinstance(settings.get(member), str) and settings[member]
    }
    if params:
        call_handler(runtime, plan.account_id, plan.region, "UpdateAccountSettings", params)


def _pipeline_repository(runtime: Runtime, plan: ImportPlan, export: ex.Export) -> None:
    """The account's pipelineProvisioningRepository, once the repository links exist; a link that could
    not be made leaves it skipped with the handler's reason."""
    settings = export.get(ex.ACCOUNT_SETTINGS)
    repository = settings.get("pipelineProvisioningRepository") if settings is not None else None
    if not isinstance(repository, dict):
        return
    given = {
        key: repository[key] for key in ("provider", "name", "branch") if isinstance(repository.get(key), str)
    }
    try:
        call_handler(
            runtime,
            plan.account_id,
            plan.region,
            "UpdateAccountSettings",
            {"pipelineProvisioningRepository": given},
        )
    except ServiceError as error:
        plan.skipped.append(Skipped("account settings pipelineProvisioningRepository", f"refused: {error}"))


def apply_import(runtime: Runtime, plan: ImportPlan, export: ex.Export, bundles: list[Bundle]) -> Any:
    """Do what `plan` says; the adoption's report (None when nothing was adopted). ServiceError or
    BundleProblem stop it with the reason."""
    _create_templates(runtime, plan, export)
    if bundles:
        register_bundles(runtime, plan.account_id, plan.region, bundles)
    _account_settings(runtime, plan, export)
    for provider, name, arn in plan.repositories:
        params = {"provider": provider, "name": name, "connectionArn": arn}
        try:
            call_handler(runtime, plan.account_id, plan.region, "CreateRepository", params)
        except ConflictException:
            continue
    _pipeline_repository(runtime, plan, export)
    report = None
    if plan.adoption is not None and plan.adoption.resources:
        from baryon.adopt.apply import apply_plan

        report = apply_plan(runtime, plan.adoption)
    for kind, name, params in plan.sync_configs:
        operation = (
            "CreateTemplateSyncConfig" if kind == ex.TEMPLATE_SYNC_CONFIG else "CreateServiceSyncConfig"
        )
        try:
            call_handler(runtime, plan.account_id, plan.region, operation, params)
        except ConflictException:
            continue
        except ServiceError as error:
            plan.skipped.append(Skipped(f"{kind} {name}", f"refused: {error}"))
    return report


__all__ = ["ImportPlan", "ServiceError", "Step", "apply_import", "plan_import"]
