"""Reading a Terraform deployment repository Proton wrote into an adoption plan.

Job: `read_repository` reads, on one branch of a linked repository (`CreateRepository`), every
``.proton/deployment-metadata.json`` and the ``proton.auto.tfvars.json`` next to it (proton-semantics
§3.3), and returns a `Plan` whose resources are bound (`Binding(method="terraform")`) to the repository,
branch and folder they were read from: environments, the services grouping instances and pipelines,
service instances, pipelines and components, each with the spec Baryon would have stored for its inputs
and the template version the metadata names.

Inputs keep the JSON types the tfvars give them; a list or mapping input, which Proton wrote as its compact
JSON text, is that list or mapping again when the registered version's schema declares it an array or
object (see docs/decisions.md). A folder is adopted only where Baryon's next
deployment would write it (`baryon.render.terraform.resource_folder` for the resource's names and the
branch's paths), so the next deployment commits to the same folder.

Invariants: nothing is written to the repository (it is only fetched into a private mirror); files are
read up to `FILE_LIMIT` bytes and parsed as strict JSON objects; every folder that cannot be adopted
(missing or unreadable files, bad JSON, files that disagree, a deleted resource, a folder Baryon would not
use) is in `skipped` with its reason.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from typing import Any

from baryon.adopt.plan import Binding, Plan, Resource, Skipped
from baryon.domain import arns
from baryon.domain.spec_schema import ENVIRONMENT_INPUT, PIPELINE_INPUT, SERVICE_INPUT
from baryon.domain.specs import dump_spec
from baryon.domain.template_versions import schema_of
from baryon.git.command import GitError
from baryon.render import terraform
from baryon.runtime import Runtime
from baryon.store import connections as connection_store
from baryon.store import templates as template_store
from baryon.sync.gitrepo import GitTree, Mirror, mirror_path

FILE_LIMIT = 256 * 1024
MAX_FOLDERS = 2000
METADATA_SUFFIX = "/" + terraform.METADATA_FILE


class AdoptError(Exception):
    """The repository cannot be read at all; the message says why."""


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not JSON")


def _object(text: bytes | None, path: str) -> dict[str, Any]:
    if text is None:
        raise ValueError(f"{path} is missing, not a regular file or larger than {FILE_LIMIT} bytes")
    try:
        document = json.loads(text.decode("utf-8"), parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError(f"{path} is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a JSON object")
    return document


def _mapping(document: dict[str, Any], *path: str) -> dict[str, Any]:
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, dict):
        raise ValueError(f"proton.auto.tfvars.json has no object {'.'.join(path)}")
    return value


def _string(document: dict[str, Any], *path: str) -> str:
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        raise ValueError(f"no {'.'.join(path)} string")
    return value


def _arn(value: Any, what: str) -> arns.ParsedArn:
    parsed = arns.parse(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError(f"{what} {value!r} is not a Proton ARN")
    return parsed


#: (template kind, name, major, minor, input role) → the JSON type each input of the role declares.
Declared = Callable[[str, str, str, str, str], dict[str, str]]


def _no_schema(*_: str) -> dict[str, str]:
    return {}


def _spec_inputs(inputs: dict[str, Any], declared: dict[str, str]) -> dict[str, Any]:
    """The inputs as the spec gave them: a list or mapping input (by its schema type), which Proton wrote
    as its compact JSON text, is that value again."""
    found: dict[str, Any] = {}
    for key, value in inputs.items():
        if not isinstance(value, str | int | float | bool):
            raise ValueError(f"input {key} is not a string, number or boolean")
        wanted = {"array": list, "object": dict}.get(declared.get(key, ""))
        if wanted is not None and isinstance(value, str):
            try:
                decoded = json.loads(value, parse_constant=_reject_constant)
            except (ValueError, RecursionError):
                decoded = None
            if isinstance(decoded, wanted):
                value = decoded
        found[key] = value
    return found


def read_declared(runtime: Runtime, account_id: str, region: str) -> Declared:
    """The declared input types of the registered template versions of the account and region."""

    def declared(kind: str, name: str, major: str, minor: str, role: str) -> dict[str, str]:
        with runtime.database.read() as connection:
            template = template_store.find_template(connection, account_id, region, kind, name)
            version = (
                template_store.find_version(connection, template.id, int(major), int(minor))
                if template is not None
                else None
            )
        if version is None:
            return {}
        body = schema_of(version).get("schema")
        types = body.get("types") if isinstance(body, dict) else None
        definition = types.get(body.get(role)) if isinstance(types, dict) and isinstance(body, dict) else None
        properties = definition.get("properties") if isinstance(definition, dict) else None
        if not isinstance(properties, dict):
            return {}
        return {
            str(key): str(value.get("type"))
            for key, value in properties.items()
            if isinstance(value, dict) and isinstance(value.get("type"), str)
        }

    return declared


def _template(metadata: dict[str, Any], kind: str) -> tuple[str, str, str]:
    resource = metadata.get("resourceMetadata")
    if not isinstance(resource, dict):
        raise ValueError("the deployment metadata has no resourceMetadata")
    parsed = _arn(resource.get("templateArn"), "templateArn")
    prefix = f"{kind}-template/"
    if not parsed.resource.startswith(prefix):
        raise ValueError(f"templateArn {resource.get('templateArn')} is not a {kind} template")
    major, minor = resource.get("templateMajorVersion"), resource.get("templateMinorVersion")
    if not (isinstance(major, str) and major.isdigit() and isinstance(minor, str) and minor.isdigit()):
        raise ValueError("the deployment metadata names no template major and minor version")
    return parsed.resource[len(prefix) :], major, minor


def _agree(what: str, expected: str, found: str) -> None:
    if expected != found:
        raise ValueError(f"the files disagree: {what} is {found!r} in one and {expected!r} in the other")


class _Reader:
    def __init__(
        self, plan: Plan, repository: tuple[str, str], branch: str, paths: list[str], declared: Declared
    ) -> None:
        self.plan = plan
        self.declared = declared
        self.repository = repository
        self.branch = branch
        self.paths = paths
        #: service name → (template name, major, minor) of its members, and its instances' specs.
        self.services: dict[str, dict[str, Any]] = {}

    def binding(self, folder: str) -> Binding:
        return Binding("terraform", repository=self.repository, branch=self.branch, folder=folder)

    def check_folder(self, folder: str, kind: str, values: dict[str, Any]) -> None:
        expected = terraform.resource_folder(kind, values, self.paths)
        if expected != folder:
            raise ValueError(f"Baryon would deploy this resource in folder {expected}/, not {folder}/")

    def service(self, name: str, template: tuple[str, str, str]) -> dict[str, Any]:
        entry = self.services.setdefault(name, {"template": template, "instances": [], "pipeline": None})
        if entry["template"][0] != template[0]:
            raise ValueError(
                f"service {name} is deployed from service template {entry['template'][0]} elsewhere"
            )
        return entry

    def folder(self, folder: str, metadata: dict[str, Any], tfvars: dict[str, Any]) -> Resource | None:
        if metadata.get("isResourceDeleted") is not False:
            raise ValueError("the deployment metadata marks the resource deleted")
        arn = _arn(tfvars.get("//"), "the resource ARN")
        if "componentMetadata" in metadata:
            return self.component(folder, metadata, tfvars, arn)
        resource = metadata.get("resourceMetadata")
        _agree(
            "the resource ARN", tfvars["//"], str(resource.get("arn") if isinstance(resource, dict) else "")
        )
        if "pipeline" in tfvars:
            return self.pipeline(folder, metadata, tfvars, arn)
        if "service_instance" in tfvars:
            return self.instance(folder, metadata, tfvars, arn)
        return self.environment(folder, metadata, tfvars, arn)

    def environment(
        self, folder: str, metadata: dict[str, Any], tfvars: dict[str, Any], arn: arns.ParsedArn
    ) -> Resource:
        name = _string(tfvars, "environment", "name")
        _agree("the environment", f"environment/{name}", arn.resource)
        self.check_folder(folder, "ENVIRONMENT", {"environment": {"name": name}})
        template = _template(metadata, "environment")
        inputs = _spec_inputs(
            _mapping(tfvars, "environment", "inputs"),
            self.declared("ENVIRONMENT", *template, ENVIRONMENT_INPUT),
        )
        spec = dump_spec({"proton": "EnvironmentSpec", "spec": inputs})
        return Resource(
            "environment", name, *template, self.binding(folder), spec=spec, proton_arn=tfvars["//"]
        )

    def instance(
        self, folder: str, metadata: dict[str, Any], tfvars: dict[str, Any], arn: arns.ParsedArn
    ) -> Resource:
        service = _string(tfvars, "service", "name")
        name = _string(tfvars, "service_instance", "name")
        environment = _string(tfvars, "environment", "name")
        _agree("the service instance", f"service/{service}/service-instance/{name}", arn.resource)
        self.check_folder(
            folder,
            "SERVICE_INSTANCE",
            {
                "environment": {"name": environment},
                "service": {"name": service},
                "service_instance": {"name": name},
            },
        )
        template = _template(metadata, "service")
        inputs = _spec_inputs(
            _mapping(tfvars, "service_instance", "inputs"), self.declared("SERVICE", *template, SERVICE_INPUT)
        )
        self.service(service, template)["instances"].append(
            {"name": name, "environment": environment, "spec": inputs}
        )
        return Resource(
            "service-instance",
            name,
            *template,
            self.binding(folder),
            service=service,
            environment=environment,
            spec=dump_spec(
                {
                    "proton": "ServiceSpec",
                    "instances": [{"name": name, "environment": environment, "spec": inputs}],
                }
            ),
            proton_arn=tfvars["//"],
        )

    def pipeline(
        self, folder: str, metadata: dict[str, Any], tfvars: dict[str, Any], arn: arns.ParsedArn
    ) -> Resource:
        service = _string(tfvars, "service", "name")
        _agree("the pipeline", f"service/{service}/pipeline", arn.resource)
        self.check_folder(folder, "SERVICE_PIPELINE", {"service": {"name": service}})
        template = _template(metadata, "service")
        inputs = _spec_inputs(
            _mapping(tfvars, "pipeline", "inputs"), self.declared("SERVICE", *template, PIPELINE_INPUT)
        )
        self.service(service, template)["pipeline"] = inputs
        return Resource(
            "service-pipeline",
            service,
            *template,
            self.binding(folder),
            service=service,
            spec=dump_spec({"proton": "ServiceSpec", "pipeline": inputs}),
            proton_arn=tfvars["//"],
        )

    def component(
        self, folder: str, metadata: dict[str, Any], tfvars: dict[str, Any], arn: arns.ParsedArn
    ) -> Resource:
        name = _string(tfvars, "component", "name")
        environment = _string(tfvars, "environment", "name")
        _agree("the component", f"component/{name}", arn.resource)
        component = metadata.get("componentMetadata")
        _agree(
            "the component ARN",
            tfvars["//"],
            str(component.get("arn") if isinstance(component, dict) else ""),
        )
        values: dict[str, Any] = {"environment": {"name": environment}, "component": {"name": name}}
        service = instance = None
        if "service_instance" in tfvars:
            service = _string(tfvars, "service", "name")
            instance = _string(tfvars, "service_instance", "name")
        self.check_folder(folder, "COMPONENT", values)
        return Resource(
            "component",
            name,
            None,
            None,
            None,
            self.binding(folder),
            service=service,
            environment=environment,
            service_instance=instance,
            proton_arn=tfvars["//"],
        )

    def services_resources(self) -> list[Resource]:
        found = []
        for name, entry in sorted(self.services.items()):
            template: tuple[str, str, str] = entry["template"]
            document: dict[str, Any] = {"proton": "ServiceSpec"}
            if entry["pipeline"] is not None:
                document["pipeline"] = entry["pipeline"]
            document["instances"] = sorted(entry["instances"], key=lambda i: i["name"])
            found.append(
                Resource(
                    "service", name, template[0], template[1], template[2], None, spec=dump_spec(document)
                )
            )
        return found


def read_tree(
    plan: Plan, tree: Any, repository: tuple[str, str], branch: str, declared: Declared = _no_schema
) -> None:
    """Fill `plan` from the files of `tree` (a `GitTree`); `declared` gives the input types of a version."""
    entries = tree.entries()
    paths = sorted(entries)
    reader = _Reader(plan, repository, branch, paths, declared)
    folders = sorted(
        path[: -len(METADATA_SUFFIX)]
        for path in paths
        if path.endswith(METADATA_SUFFIX) and path != terraform.METADATA_FILE
    )
    if terraform.METADATA_FILE in paths:
        plan.skipped.append(
            Skipped("./", "deployment files at the top of the repository name no resource folder Baryon uses")
        )
    if len(folders) > MAX_FOLDERS:
        raise AdoptError(f"the branch has more than {MAX_FOLDERS} deployment folders")
    found: list[Resource] = []
    for folder in folders:
        try:
            metadata = _object(
                tree.read(f"{folder}/{terraform.METADATA_FILE}", FILE_LIMIT), terraform.METADATA_FILE
            )
            tfvars = _object(
                tree.read(f"{folder}/{terraform.TFVARS_FILE}", FILE_LIMIT), terraform.TFVARS_FILE
            )
            resource = reader.folder(folder, metadata, tfvars)
        except ValueError as error:
            plan.skipped.append(Skipped(f"{folder}/", str(error)))
            continue
        if resource is not None:
            found.append(resource)
    order = {"environment": 0, "service-instance": 2, "service-pipeline": 3, "component": 4}
    plan.resources.extend(r for r in found if r.kind == "environment")
    plan.resources.extend(reader.services_resources())
    plan.resources.extend(sorted((r for r in found if r.kind != "environment"), key=lambda r: order[r.kind]))


def read_repository(
    runtime: Runtime, account_id: str, region: str, provider: str, name: str, branch: str | None
) -> Plan:
    """The plan of adopting what the branch (default ``main``) of the linked repository holds."""
    with runtime.database.read() as connection:
        resolved = connection_store.resolve(connection, runtime.secrets, account_id, region, provider, name)
    if resolved is None:
        raise AdoptError(
            f"The repository {provider.lower()}:{name} is not linked in account {account_id} region {region} "
            "(CreateRepository)."
        )
    branch = branch or "main"
    plan = Plan(account_id=account_id, region=region)
    scratch = runtime.settings.data_dir / "sync" / "work" / f"adopt-{uuid.uuid4().hex[:8]}"
    mirror = Mirror(
        mirror_path(runtime.settings.data_dir, account_id, region, provider, name), resolved.remote()
    )
    try:
        with mirror:
            mirror.ensure()
            head = mirror.remote_head(branch)
            if head is None:
                raise AdoptError(f"The branch {branch} does not exist in {name}.")
            mirror.fetch(branch)
            declared = read_declared(runtime, account_id, region)
            read_tree(plan, GitTree(mirror, head, scratch), (provider, name), branch, declared)
    except GitError as error:
        raise AdoptError(f"{name} branch {branch} cannot be read: {error.message}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return plan
