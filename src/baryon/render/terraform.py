"""The files a self-managed (Terraform) deployment commits to its repository, as Proton wrote them
(proton-semantics §3.3 and §4.2).

For one deployment of an environment, service instance, service pipeline or component,
`terraform_files` returns a `TerraformChange`: the resource's folder in the repository, every file to
write there (repository path → bytes), the commit message and the branch name. `terraform_deletion`
returns the change that marks a deleted resource. Both are pure: no database, no git; the provisioner
commits and pushes what they return.

Files written into the folder:
- each ``.tf`` file the bundle's manifest selects, unchanged after the managed-file header
  (`managed_header`; a UTF-8 byte-order mark at the start of a source is dropped);
- ``proton.<kind>.variables.tf`` (``environment``, ``service_instance``, ``pipeline``, ``component``):
  the header, then ``variable`` blocks declaring the namespace (`variables_tf`), ending ``}\\n``;
- ``proton.auto.tfvars.json``: the values (`tfvars_json`), with ``proton_tags`` and the resource ARN
  under the ``"//"`` key last, in Jackson's pretty-printed style (`baryon.render.protonjson`);
- ``.proton/deployment-metadata.json`` (`deployment_metadata`).

Value typing: inputs keep their JSON types (``"port" : 80``, ``"enabled" : false``) and are declared
``map(string)``, so Terraform reads numbers and booleans as strings, as with Proton. An input whose
value is a list or a mapping is written as its compact JSON text (``"[\\"a\\",\\"b\\"]"``), which
``map(string)`` accepts and ``jsondecode`` turns back into the value. Outputs are strings.

Folder layout (`resource_folder`): an environment in ``<name>/``, or ``environments/<name>/`` when the
repository already has an ``environments/`` folder (an environment whose files already sit at
``<name>/`` stays there); a service instance in ``<environment folder>/<service>-<instance>/``; a
component in ``<environment folder>/<component>/``; a pipeline in ``<service>/pipeline/``.

Deletion: every ``.tf`` file of the folder that carries this resource's managed header gets the
"no longer managed" header instead, and the metadata says ``"deploymentId" :
"<proton-resource-deleted>"`` and ``"isResourceDeleted" : true``. No file is removed.

Invariants: output depends only on the arguments; every path is relative to the repository root,
POSIX style, under the resource's folder; a problem the template author can fix raises `RenderError`
(its text is the deployment's status message); a malformed call raises `ValueError`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from baryon.bundles.load import BundleInfo
from baryon.domain import arns
from baryon.render import hcl, protonjson
from baryon.render.errors import RenderError
from baryon.render.kinds import (
    COMPONENT,
    ENVIRONMENT,
    SERVICE_INSTANCE,
    SERVICE_PIPELINE,
    environment_values,
    normalise_kind,
    part,
    plain,
    repository_keys,
)
from baryon.render.values import AbsentComponent

TFVARS_FILE = "proton.auto.tfvars.json"
METADATA_FILE = ".proton/deployment-metadata.json"
DELETED_DEPLOYMENT_ID = "<proton-resource-deleted>"
ENVIRONMENTS_FOLDER = "environments"
DELETED_HEADER = (
    "/*\n"
    "This file is no longer managed by AWS Proton. The associated resource has been deleted in Proton.\n"
    "*/\n"
    "\n"
)
_HEADER = (
    "/*\n"
    "This file is managed by AWS Proton. Any changes made directly to this file will be overwritten "
    "the next time AWS Proton performs an update.\n"
    "\n"
    "To manage this resource, see AWS Proton Resource: {arn}\n"
    "\n"
    "If the resource is no longer accessible within AWS Proton, it may have been deleted and may require "
    "manual cleanup.\n"
    "*/\n"
    "\n"
)
#: The kind's name in ``proton.<kind>.variables.tf`` and in branch names.
FILE_KIND = {
    ENVIRONMENT: "environment",
    SERVICE_INSTANCE: "service_instance",
    SERVICE_PIPELINE: "pipeline",
    COMPONENT: "component",
}
_SERVICE_TYPE_ORDER = ("name", "branch_name", "repository_connection_arn", "repository_id")
_TAGS_TYPE = "map(string)"
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class TerraformChange:
    """What one deployment (or deletion) commits to the repository."""

    folder: str  # the resource's folder, relative to the repository root, no trailing slash
    files: dict[str, bytes]  # repository path -> content, for every file to write
    commit_message: str
    branch: str
    #: ``.tf`` files directly in the folder that this change does not write (left by an earlier
    #: template version, or added by hand); `is_managed` tells which of them carry this resource's header.
    stale: tuple[str, ...] = field(default=())


# --- names ----------------------------------------------------------------------------------------


def managed_header(resource_arn: str) -> str:
    """The comment Proton put at the top of every file it manages for ``resource_arn``."""
    return _HEADER.format(arn=resource_arn)


def is_managed(content: bytes, resource_arn: str) -> bool:
    """True when ``content`` starts with the managed (or the deleted) header of ``resource_arn``."""
    return content.startswith(managed_header(resource_arn).encode()) or content.startswith(
        DELETED_HEADER.encode()
    )


def variables_file_name(kind: str) -> str:
    """``proton.<kind>.variables.tf``."""
    return f"proton.{FILE_KIND[normalise_kind(kind)]}.variables.tf"


def _arn_resource(resource_arn: str) -> arns.ParsedArn:
    parsed = arns.parse(resource_arn)
    if parsed is None:
        raise ValueError(f"not a Proton ARN: {resource_arn!r}")
    return parsed


def commit_message(resource_arn: str) -> str:
    """``Update requested for Proton - <resource part of the ARN>``."""
    return f"Update requested for Proton - {_arn_resource(resource_arn).resource}"


def branch_name(kind: str, deployment_id: str) -> str:
    """``proton--proton-<kind>-<deployment id>`` (kind as in the variables file name)."""
    return f"proton--proton-{FILE_KIND[normalise_kind(kind)]}-{deployment_id}"


# --- folders --------------------------------------------------------------------------------------


def _segment(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"{what} {name!r} cannot name a folder")
    return name


def _normalised(paths: Collection[str]) -> frozenset[str]:
    return frozenset(path.strip("/") for path in paths)


def environment_folder(environment_name: str, existing_paths: Collection[str]) -> str:
    """The folder of an environment (and parent of its instances and components) in its repository."""
    name = _segment(environment_name, "environment name")
    paths = _normalised(existing_paths)
    prefix = ENVIRONMENTS_FOLDER + "/"
    if not any(path == ENVIRONMENTS_FOLDER or path.startswith(prefix) for path in paths):
        return name
    nested = f"{ENVIRONMENTS_FOLDER}/{name}"
    if f"{name}/{METADATA_FILE}" in paths and f"{nested}/{METADATA_FILE}" not in paths:
        return name
    return nested


def resource_folder(kind: str, context_values: Mapping[str, Any], existing_paths: Collection[str]) -> str:
    """The folder of the resource whose rendering namespace is ``context_values``."""
    kind = normalise_kind(kind)
    if kind == SERVICE_PIPELINE:
        return f"{_segment(part(context_values, kind, 'service', 'name'), 'service name')}/pipeline"
    environment = environment_folder(part(context_values, kind, "environment", "name"), existing_paths)
    if kind == ENVIRONMENT:
        return environment
    if kind == SERVICE_INSTANCE:
        service = _segment(part(context_values, kind, "service", "name"), "service name")
        instance = _segment(part(context_values, kind, "service_instance", "name"), "service instance name")
        return f"{environment}/{service}-{instance}"
    return f"{environment}/{_segment(part(context_values, kind, 'component', 'name'), 'component name')}"


# --- variables ------------------------------------------------------------------------------------


def _environment_type(*, with_account: bool) -> hcl.Obj:
    if with_account:
        return hcl.Obj((("account_id", "string"), ("name", "string"), ("outputs", "map(string)")))
    return hcl.Obj((("inputs", "map(string)"), ("name", "string")))


def _service_type(service: Mapping[str, Any] | None) -> hcl.Obj:
    present = {"name", *repository_keys(service or {})}
    return hcl.Obj(tuple((key, "string") for key in _SERVICE_TYPE_ORDER if key in present))


def _declarations(kind: str, context_values: Mapping[str, Any]) -> list[tuple[str, hcl.Type, bool]]:
    """(variable name, type, default null) for each variable of the kind, in file order."""
    if kind == ENVIRONMENT:
        return [("environment", _environment_type(with_account=False), True)]
    if kind == SERVICE_INSTANCE:
        instance = hcl.Obj((("name", "string"), ("inputs", "map(string)"), ("components", "map(any)")))
        return [
            ("environment", _environment_type(with_account=True), True),
            ("service", _service_type(part(context_values, kind, "service")), False),
            ("service_instance", instance, True),
        ]
    if kind == SERVICE_PIPELINE:
        element = hcl.Obj(
            (
                ("name", "string"),
                ("inputs", "map(string)"),
                ("outputs", "map(string)"),
                ("environment", _environment_type(with_account=True)),
            )
        )
        return [
            ("service_instances", hcl.ListOf(element), False),
            ("service", _service_type(part(context_values, kind, "service")), True),
            ("pipeline", hcl.Obj((("inputs", "map(string)"),)), True),
        ]
    return [
        ("component", hcl.Obj((("name", "string"),)), False),
        ("environment", _environment_type(with_account=True), False),
        ("service", _service_type(context_values.get("service")), True),
        ("service_instance", hcl.Obj((("name", "string"), ("inputs", "map(string)"))), True),
    ]


def variables_tf(kind: str, context_values: Mapping[str, Any]) -> str:
    """The body of ``proton.<kind>.variables.tf`` (without the header)."""
    kind = normalise_kind(kind)
    blocks = [
        hcl.variable_block(name, kind_type, default_null=default_null)
        for name, kind_type, default_null in _declarations(kind, context_values)
    ]
    blocks.append(hcl.variable_block("proton_tags", _TAGS_TYPE, default_null=True))
    return "\n".join(blocks)


# --- values ---------------------------------------------------------------------------------------


def _input_value(value: Any) -> Any:
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(plain(value), ensure_ascii=False, separators=(",", ":"))
    return plain(value)


def _inputs(namespace: Mapping[str, Any], kind: str, *path: str) -> dict[str, Any]:
    inputs = part(namespace, kind, *path)
    return {str(key): _input_value(value) for key, value in inputs.items()}


def _service_values(service: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"name": service["name"]}
    for key in repository_keys(service):
        values[key] = service[key]
    return values


def _components(instance: Mapping[str, Any]) -> dict[str, Any]:
    default = (instance.get("components") or {}).get("default")
    if default is None or isinstance(default, AbsentComponent) or not default:
        return {}
    return {"default": {"name": default["name"], "outputs": plain(default.get("outputs") or {})}}


def _values(kind: str, ns: Mapping[str, Any]) -> dict[str, Any]:
    """The namespace values of ``proton.auto.tfvars.json`` (before ``proton_tags`` and ``"//"``)."""
    if kind == ENVIRONMENT:
        return {
            "environment": {
                "name": part(ns, kind, "environment", "name"),
                "inputs": _inputs(ns, kind, "environment", "inputs"),
            }
        }
    if kind == SERVICE_INSTANCE:
        instance = part(ns, kind, "service_instance")
        return {
            "environment": environment_values(part(ns, kind, "environment")),
            "service": _service_values(part(ns, kind, "service")),
            "service_instance": {
                "name": part(ns, kind, "service_instance", "name"),
                "inputs": _inputs(ns, kind, "service_instance", "inputs"),
                "components": _components(instance),
            },
        }
    if kind == SERVICE_PIPELINE:
        return {
            "pipeline": {"inputs": _inputs(ns, kind, "pipeline", "inputs")},
            "service": _service_values(part(ns, kind, "service")),
            "service_instances": [
                {
                    "name": instance["name"],
                    "inputs": {str(k): _input_value(v) for k, v in (instance.get("inputs") or {}).items()},
                    "outputs": plain(instance.get("outputs") or {}),
                    "environment": environment_values(instance["environment"]),
                }
                for instance in part(ns, kind, "service_instances")
            ],
        }
    values: dict[str, Any] = {
        "component": {"name": part(ns, kind, "component", "name")},
        "environment": environment_values(part(ns, kind, "environment")),
    }
    if ns.get("service") is not None:
        values["service"] = _service_values(ns["service"])
    if ns.get("service_instance") is not None:
        values["service_instance"] = {
            "name": part(ns, kind, "service_instance", "name"),
            "inputs": _inputs(ns, kind, "service_instance", "inputs"),
        }
    return values


def proton_tags(
    kind: str,
    resource_arn: str,
    context_values: Mapping[str, Any],
    *,
    template_arn: str | None = None,
    environment_arn: str | None = None,
) -> dict[str, str]:
    """The ``proton:*`` tags of the resource, in the order account, template, environment, service,
    service-instance, component (those that apply)."""
    kind = normalise_kind(kind)
    parsed = _arn_resource(resource_arn)
    tags = {"proton:account": parsed.account_id}
    if template_arn is not None and kind != COMPONENT:
        tags["proton:template"] = template_arn
    if kind == ENVIRONMENT:
        tags["proton:environment"] = resource_arn
        return tags
    if kind in (SERVICE_INSTANCE, COMPONENT) and environment_arn is not None:
        tags["proton:environment"] = environment_arn
    service = context_values.get("service")
    instance = context_values.get("service_instance")
    if isinstance(service, Mapping) and "name" in service:
        service_resource = f"service/{service['name']}"
        tags["proton:service"] = arns.arn(parsed.region, parsed.account_id, service_resource)
        if kind != SERVICE_PIPELINE and isinstance(instance, Mapping) and "name" in instance:
            tags["proton:service-instance"] = arns.arn(
                parsed.region, parsed.account_id, f"{service_resource}/service-instance/{instance['name']}"
            )
    if kind == SERVICE_INSTANCE:
        tags["proton:service-instance"] = resource_arn
    if kind == COMPONENT:
        tags["proton:component"] = resource_arn
    return tags


def tfvars_json(
    kind: str, resource_arn: str, context_values: Mapping[str, Any], tags: Mapping[str, str]
) -> str:
    """The text of ``proton.auto.tfvars.json``."""
    kind = normalise_kind(kind)
    document = _values(kind, context_values)
    document["proton_tags"] = dict(tags)
    document["//"] = resource_arn
    return protonjson.dumps(document)


# --- metadata -------------------------------------------------------------------------------------


def deployment_metadata(
    kind: str,
    deployment_id: str,
    resource_arn: str,
    *,
    template_arn: str | None,
    major: int | str | None,
    minor: int | str | None,
    environment_arn: str | None = None,
    deleted: bool = False,
) -> str:
    """The text of ``.proton/deployment-metadata.json``."""
    kind = normalise_kind(kind)
    document: dict[str, Any] = {
        "deploymentId": DELETED_DEPLOYMENT_ID if deleted else deployment_id,
        "isResourceDeleted": deleted,
    }
    if kind == COMPONENT:
        document["componentMetadata"] = {
            "arn": resource_arn,
            "environmentArn": _required(environment_arn, "environment_arn", kind),
            "componentType": "default",
        }
        return protonjson.dumps(document)
    metadata: dict[str, Any] = {
        "arn": resource_arn,
        "templateArn": _required(template_arn, "template_arn", kind),
        "templateMajorVersion": str(_required(major, "major", kind)),
        "templateMinorVersion": str(_required(minor, "minor", kind)),
    }
    if kind == SERVICE_INSTANCE:
        metadata["environmentArn"] = _required(environment_arn, "environment_arn", kind)
    document["resourceMetadata"] = metadata
    return protonjson.dumps(document)


def _required(value: Any, name: str, kind: str) -> Any:
    if value is None:
        raise ValueError(f"{name} is required for a {kind}")
    return value


# --- the change -----------------------------------------------------------------------------------


def bundle_sources(bundle: BundleInfo, part_name: str) -> dict[str, bytes]:
    """The ``.tf`` files the manifest of ``part_name`` selects, by name within the part folder."""
    info = bundle.parts[part_name]
    if info.get("rendering_engine") != "hcl":
        engine = info.get("rendering_engine")
        raise ValueError(f"{part_name}/ is not a Terraform part (rendering_engine {engine})")
    return {name: bundle.files[f"{part_name}/{name}"] for name in info["files"]}


def _check_sources(kind: str, sources: Mapping[str, bytes]) -> None:
    generated = {variables_file_name(kind), TFVARS_FILE}
    for name in sources:
        if "/" in name or "\\" in name or not name.endswith(".tf") or name.startswith("."):
            raise RenderError(
                "only .tf files directly in the template's folder are copied", file_name=str(name)
            )
        if name in generated:
            raise RenderError(
                f"{name} is the name of the file Baryon generates with the Proton variables; "
                "rename the template file",
                file_name=name,
            )


def terraform_files(
    kind: str,
    resource_arn: str,
    template_arn: str | None,
    major: int | str | None,
    minor: int | str | None,
    deployment_id: str,
    bundle_files: Mapping[str, bytes],
    context_values: Mapping[str, Any],
    existing_paths: Collection[str],
    environment_arn: str | None = None,
) -> TerraformChange:
    """Every file one Terraform deployment writes, with the commit message and branch to use.

    ``bundle_files`` maps the names of the ``.tf`` files the manifest selects (relative to the part
    folder, see `bundle_sources`) to their bytes. ``context_values`` is the rendering namespace built by
    `baryon.render.context` for the kind. ``existing_paths`` lists the paths in the repository now
    (files; folders may be given too). ``template_arn``, ``major`` and ``minor`` are None for
    components; ``environment_arn`` is required for service instances and components.
    """
    kind = normalise_kind(kind)
    _check_sources(kind, bundle_files)
    folder = resource_folder(kind, context_values, existing_paths)
    header = managed_header(resource_arn).encode()
    files: dict[str, bytes] = {}
    for name in sorted(bundle_files):
        source = bundle_files[name]
        files[f"{folder}/{name}"] = header + (source[len(_BOM) :] if source.startswith(_BOM) else source)
    files[f"{folder}/{variables_file_name(kind)}"] = header + variables_tf(kind, context_values).encode()
    tags = proton_tags(
        kind, resource_arn, context_values, template_arn=template_arn, environment_arn=environment_arn
    )
    files[f"{folder}/{TFVARS_FILE}"] = tfvars_json(kind, resource_arn, context_values, tags).encode()
    files[f"{folder}/{METADATA_FILE}"] = deployment_metadata(
        kind,
        deployment_id,
        resource_arn,
        template_arn=template_arn,
        major=major,
        minor=minor,
        environment_arn=environment_arn,
    ).encode()
    prefix = folder + "/"
    stale = sorted(
        path
        for path in _normalised(existing_paths)
        if path.startswith(prefix)
        and "/" not in path[len(prefix) :]
        and path.endswith(".tf")
        and path not in files
    )
    return TerraformChange(
        folder=folder,
        files=files,
        commit_message=commit_message(resource_arn),
        branch=branch_name(kind, deployment_id),
        stale=tuple(stale),
    )


def terraform_deletion(
    kind: str,
    resource_arn: str,
    template_arn: str | None,
    major: int | str | None,
    minor: int | str | None,
    deployment_id: str,
    context_values: Mapping[str, Any],
    existing_files: Mapping[str, bytes],
    environment_arn: str | None = None,
) -> TerraformChange:
    """The files a deletion rewrites: the header of every ``.tf`` file in the resource's folder that
    carries this resource's managed header, and the deployment metadata marked deleted.

    ``existing_files`` maps repository paths to their current bytes (at least the resource's folder).
    ``deployment_id`` (the deletion's own deployment) only names the branch; the metadata's
    ``deploymentId`` is ``<proton-resource-deleted>``. Files are never removed.
    """
    kind = normalise_kind(kind)
    folder = resource_folder(kind, context_values, existing_files.keys())
    prefix = folder + "/"
    managed = managed_header(resource_arn).encode()
    deleted = DELETED_HEADER.encode()
    files: dict[str, bytes] = {}
    for path in sorted(existing_files):
        relative = path.strip("/")
        if not relative.startswith(prefix) or "/" in relative[len(prefix) :] or not relative.endswith(".tf"):
            continue
        content = existing_files[path]
        if content.startswith(managed):
            files[relative] = deleted + content[len(managed) :]
        elif content.startswith(deleted):
            files[relative] = content
    files[f"{folder}/{METADATA_FILE}"] = deployment_metadata(
        kind,
        deployment_id,
        resource_arn,
        template_arn=template_arn,
        major=major,
        minor=minor,
        environment_arn=environment_arn,
        deleted=True,
    ).encode()
    return TerraformChange(
        folder=folder,
        files=files,
        commit_message=commit_message(resource_arn),
        branch=branch_name(kind, deployment_id),
    )
