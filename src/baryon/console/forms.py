"""The console's forms generated from a template version's schema: create an environment, create a service
with its instances, update a service instance's inputs.

Job: pick the template version (the recommended minor of the chosen major), describe its schema's inputs
as fields (`baryon.domain.spec_forms`), read a submitted form back into inputs, write the spec and run the
operation as the signed-in credential.

Invariants: the schema shown and checked is the one of the version the operation is asked to use (its
major and minor are sent); a refused form (by the form's own checks or by the operation's ServiceError)
is shown again as it was sent, with status 400 (409 for a conflict), every message beside the field it
names and the others at the top, and nothing is created or changed; a service form holds at most
`MAX_INSTANCES` instance rows; an accepted form answers a 303 redirect to the new resource's page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from baryon.console.web import View, action, page, page_status
from baryon.domain import spec_forms
from baryon.domain.spec_forms import Field, FormProblems
from baryon.domain.specs import MAX_DEPTH, MAX_VALUES, InstanceSpec, parse_instance_spec_from_service_spec
from baryon.domain.yamlread import ReadLimits, YamlError, read_yaml
from baryon.protocol.errors import ServiceError, ValidationException

#: The most instance rows one service form holds.
MAX_INSTANCES = 20
ENV_ROLE = "environment_input_type"
SERVICE_ROLE = "service_input_type"
PIPELINE_ROLE = "pipeline_input_type"
_LIMITS = ReadLimits(max_depth=MAX_DEPTH, max_values=MAX_VALUES, unique_keys=True)
_INPUT = re.compile(r"input '([^']+)'")
_MEMBER = re.compile(r"at '([A-Za-z]+)'")


@dataclass
class Problems:
    """Messages of a refused form: by field name (as the form names it) and the rest."""

    by_field: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            self.general.append(message)
        else:
            self.by_field.setdefault(name, []).append(message)

    def take(self, problems: FormProblems, prefix: str = "") -> None:
        for name, messages in problems.by_field.items():
            self.by_field.setdefault(prefix + name, []).extend(messages)
        self.general.extend(problems.general)

    def part(self, prefix: str) -> dict[str, list[str]]:
        """The messages of the fields under `prefix`, by their names without it (for the fields macro)."""
        return {k[len(prefix) :]: v for k, v in self.by_field.items() if k.startswith(prefix)}

    def __bool__(self) -> bool:
        return bool(self.by_field or self.general)


def schema_of(text: Any) -> Any:
    """A template version's `schema` text parsed (None when it has none or it does not parse)."""
    if not isinstance(text, str):
        return None
    try:
        return read_yaml(text, _LIMITS)
    except YamlError:
        return None


def _field_for(path: str, names: Sequence[str]) -> str | None:
    if path in names:
        return path
    holders = [n for n in names if path.startswith((n + ".", n + "["))]
    if holders:
        return max(holders, key=len)
    return next((n for n in names if n.startswith(path + ".")), None)


def place(
    error: ServiceError,
    problems: Problems,
    members: dict[str, str],
    inputs: dict[str, Sequence[str]] | None = None,
) -> None:
    """Put an operation's error beside the field it names: `members` maps an API member (``name``) to the
    form field showing it; `inputs` maps a form prefix to the input fields under it (an input named in a
    message goes beside the first prefix's field of that name). ConflictException goes beside ``name``."""
    text = f"{error.code}: {error.message}"
    if error.code == "ConflictException" and "name" in members:
        problems.add(members["name"], text)
        return
    if error.code == "ValidationException":
        for prefix, names in (inputs or {}).items():
            for path in _INPUT.findall(error.message):
                name = _field_for(path, names)
                if name is not None:
                    problems.add(prefix + name, text)
                    return
        for member in _MEMBER.findall(error.message):
            if member in members:
                problems.add(members[member], text)
                return
    problems.add(None, text)


def status_for(error: ServiceError | None) -> int:
    return 400 if error is None else page_status(error)


def _versions(view: View, prefix: str, template: str) -> list[dict[str, Any]]:
    """The latest version of each major of a template (one call), published ones first."""
    answer = view.call(f"List{prefix}TemplateVersions", {"templateName": template, "maxResults": 100})
    return sorted(answer["templateVersions"], key=lambda v: int(v["majorVersion"]))


def chosen_version(
    view: View, kind: str, template: str, major: str | None
) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """The template, its majors with a recommended minor, and the version to use: the recommended minor of
    `major` (else of the template's recommended version's major)."""
    prefix = "Environment" if kind == "environment" else "Service"
    found = view.call(f"Get{prefix}Template", {"name": template})[f"{kind}Template"]
    majors = {v["majorVersion"]: v.get("recommendedMinorVersion") for v in _versions(view, prefix, template)}
    usable = [m for m, minor in majors.items() if minor is not None]
    if not usable:
        raise ValidationException(f"The {kind} template {template} has no published version.")
    recommended = str(found.get("recommendedVersion") or "").split(".")[0]
    if major not in usable:
        major = recommended if recommended in usable else usable[-1]
    version = view.call(
        f"Get{prefix}TemplateVersion",
        {"templateName": template, "majorVersion": major, "minorVersion": majors[major]},
    )[f"{kind}TemplateVersion"]
    return found, usable, version


def _templates(view: View, operation: str) -> list[dict[str, Any]]:
    return list(view.call(operation, {"maxResults": 100})["templates"])


# --- create an environment --------------------------------------------------------------------------


ENV_MEMBERS = {
    "name": "name",
    "description": "description",
    "protonServiceRoleArn": "protonServiceRoleArn",
    "codebuildRoleArn": "codebuildRoleArn",
    "templateMajorVersion": "major",
}


def _environment_form(
    view: View,
    form: dict[str, str],
    problems: Problems | None = None,
    status: int = 200,
    submitted: bool = False,
) -> Response:
    template = form.get("template") or view.query("template")
    if not template:
        return view.render(
            "environment_form.html",
            templates=_templates(view, "ListEnvironmentTemplates"),
            template=None,
            problems=problems or Problems(),
        )
    found, majors, version = chosen_version(
        view, "environment", template, form.get("major") or view.query("major")
    )
    schema = schema_of(version.get("schema"))
    fields = spec_forms.fields(schema, ENV_ROLE)
    if submitted:
        fields = spec_forms.refilled(fields, spec_forms.subform(form, "input."))
    return view.render(
        "environment_form.html",
        status,
        template=found,
        majors=majors,
        version=version,
        fields=fields,
        form=form,
        problems=problems or Problems(),
    )


@page("/environments/new")
def new_environment(view: View) -> Response:
    return _environment_form(view, {})


@action("/environments/new")
def create_environment(view: View) -> Response:
    form = view.form
    template = form.get("template", "")
    found, _, version = chosen_version(view, "environment", template, form.get("major"))
    schema = schema_of(version.get("schema"))
    problems = Problems()
    name = form.get("name", "").strip()
    if not name:
        problems.add("name", "Enter a name for the environment.")
    inputs: dict[str, Any] = {}
    try:
        inputs = spec_forms.inputs_from_form(schema, ENV_ROLE, spec_forms.subform(form, "input."))
    except FormProblems as refused:
        problems.take(refused, "input.")
    if problems:
        return _environment_form(view, form, problems, 400, submitted=True)
    params = {
        "name": name,
        "templateName": found["name"],
        "templateMajorVersion": version["majorVersion"],
        "templateMinorVersion": version["minorVersion"],
        "spec": spec_forms.environment_spec(inputs),
        "description": form.get("description") or None,
        "protonServiceRoleArn": form.get("protonServiceRoleArn", "").strip() or None,
        "codebuildRoleArn": form.get("codebuildRoleArn", "").strip() or None,
    }
    try:
        view.call("CreateEnvironment", params)
    except ServiceError as error:
        names = [f.name for f in spec_forms.fields(schema, ENV_ROLE)]
        place(error, problems, ENV_MEMBERS, {"input.": names})
        return _environment_form(view, form, problems, status_for(error), submitted=True)
    return view.done(f"/console/environments/{name}", f"Environment {name} is being created.")


# --- create a service ----------------------------------------------------------------------------------


@dataclass
class InstanceRow:
    index: int
    name: str
    environment: str
    fields: list[Field]
    problems: dict[str, list[str]]
    name_problems: list[str]
    environment_problems: list[str]


SERVICE_MEMBERS = {
    "name": "name",
    "description": "description",
    "repositoryConnectionArn": "repositoryConnectionArn",
    "repositoryId": "repositoryId",
    "branchName": "branchName",
}


def _count(form: dict[str, str]) -> int:
    raw = form.get("count", "1")
    count = int(raw) if raw.isdigit() and len(raw) < 4 else 1
    return max(1, min(MAX_INSTANCES, count))


def _service_form(
    view: View, form: dict[str, str], problems: Problems | None = None, status: int = 200, count: int = 1
) -> Response:
    problems = problems or Problems()
    template = form.get("template") or view.query("template")
    if not template:
        return view.render(
            "service_form.html",
            templates=_templates(view, "ListServiceTemplates"),
            template=None,
            problems=problems,
        )
    found, majors, version = chosen_version(
        view, "service", template, form.get("major") or view.query("major")
    )
    schema = schema_of(version.get("schema"))
    environments = view.call("ListEnvironments", {"maxResults": 100})["environments"]
    rows = []
    sent = _count(form) if form else 0  # rows the form held; a row just added shows the defaults
    for index in range(count):
        prefix = f"instance.{index}.input."
        fields = spec_forms.fields(schema, SERVICE_ROLE)
        if index < sent:
            fields = spec_forms.refilled(fields, spec_forms.subform(form, prefix))
        rows.append(
            InstanceRow(
                index,
                form.get(f"instance.{index}.name", ""),
                form.get(f"instance.{index}.environment", ""),
                fields,
                problems.part(prefix),
                problems.by_field.get(f"instance.{index}.name", []),
                problems.by_field.get(f"instance.{index}.environment", []),
            )
        )
    pipeline = spec_forms.fields(schema, PIPELINE_ROLE)
    if form and pipeline:
        pipeline = spec_forms.refilled(pipeline, spec_forms.subform(form, "pipeline."))
    return view.render(
        "service_form.html",
        status,
        template=found,
        majors=majors,
        version=version,
        environments=environments,
        rows=rows,
        count=count,
        max_instances=MAX_INSTANCES,
        pipeline=pipeline,
        form=form,
        problems=problems,
    )


def _environment_named(error: ServiceError, instances: Sequence[InstanceSpec]) -> int | None:
    """The row whose environment an operation's message is about ("Environment dev ..."), if any."""
    if error.code not in ("ValidationException", "ResourceNotFoundException"):
        return None
    for index, instance in enumerate(instances):
        wanted = re.compile(rf"[Ee]nvironment '?{re.escape(instance.environment)}\b")
        if instance.environment and wanted.search(error.message):
            return index
    return None


@page("/services/new")
def new_service(view: View) -> Response:
    return _service_form(view, {})


@action("/services/new")
def create_service(view: View) -> Response:
    form = view.form
    count = _count(form)
    if form.get("add"):
        return _service_form(view, form, count=min(MAX_INSTANCES, count + 1))
    found, _, version = chosen_version(view, "service", form.get("template", ""), form.get("major"))
    schema = schema_of(version.get("schema"))
    problems = Problems()
    name = form.get("name", "").strip()
    if not name:
        problems.add("name", "Enter a name for the service.")
    instances: list[InstanceSpec] = []
    for index in range(count):
        instance_name = form.get(f"instance.{index}.name", "").strip()
        environment = form.get(f"instance.{index}.environment", "").strip()
        if not instance_name:
            problems.add(f"instance.{index}.name", "Enter a name for the instance.")
        if not environment:
            problems.add(f"instance.{index}.environment", "Choose the instance's environment.")
        prefix = f"instance.{index}.input."
        try:
            inputs = spec_forms.inputs_from_form(schema, SERVICE_ROLE, spec_forms.subform(form, prefix))
        except FormProblems as refused:
            problems.take(refused, prefix)
            inputs = {}
        instances.append(InstanceSpec(instance_name, environment, inputs))
    names = [i.name for i in instances if i.name]
    for index, instance in enumerate(instances):
        if instance.name and names.count(instance.name) > 1:
            problems.add(f"instance.{index}.name", f"Another instance is named {instance.name}.")
    pipeline_inputs: dict[str, Any] | None = None
    if spec_forms.fields(schema, PIPELINE_ROLE):
        try:
            pipeline_inputs = spec_forms.inputs_from_form(
                schema, PIPELINE_ROLE, spec_forms.subform(form, "pipeline.")
            )
        except FormProblems as refused:
            problems.take(refused, "pipeline.")
    spec = ""
    if not problems:
        try:
            spec = spec_forms.service_spec(instances, pipeline_inputs)
        except ValidationException as error:
            problems.add(None, error.message)
    if problems:
        return _service_form(view, form, problems, 400, count)
    params = {
        "name": name,
        "templateName": found["name"],
        "templateMajorVersion": version["majorVersion"],
        "templateMinorVersion": version["minorVersion"],
        "spec": spec,
        "description": form.get("description") or None,
        "repositoryConnectionArn": form.get("repositoryConnectionArn", "").strip() or None,
        "repositoryId": form.get("repositoryId", "").strip() or None,
        "branchName": form.get("branchName", "").strip() or None,
    }
    try:
        view.call("CreateService", params)
    except ServiceError as error:
        field_names = [f.name for f in spec_forms.fields(schema, SERVICE_ROLE)]
        named = _environment_named(error, instances)
        if named is not None:  # an environment not found, or not compatible: beside its select
            problems.add(f"instance.{named}.environment", f"{error.code}: {error.message}")
        else:
            place(error, problems, SERVICE_MEMBERS, {"instance.0.input.": field_names})
        return _service_form(view, form, problems, status_for(error), count)
    return view.done(
        f"/console/services/{name}",
        f"Service {name} is being created with {len(instances)} "
        + ("instance." if len(instances) == 1 else "instances."),
    )


# --- update a service instance's inputs -----------------------------------------------------------------


def _instance_and_schema(view: View) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    service, name = view.params["service"], view.params["name"]
    found = view.call("GetServiceInstance", {"serviceName": service, "name": name})["serviceInstance"]
    version = view.call(
        "GetServiceTemplateVersion",
        {
            "templateName": found["templateName"],
            "majorVersion": found["templateMajorVersion"],
            "minorVersion": found["templateMinorVersion"],
        },
    )["serviceTemplateVersion"]
    current: dict[str, Any] = {}
    if found.get("spec"):
        try:
            current = parse_instance_spec_from_service_spec(found["spec"], name)
        except ValidationException:
            current = {}
    return found, schema_of(version.get("schema")), current


def _instance_form(
    view: View,
    found: dict[str, Any],
    fields: Iterable[Field],
    problems: Problems | None = None,
    status: int = 200,
) -> Response:
    return view.render(
        "instance_form.html", status, instance=found, fields=list(fields), problems=problems or Problems()
    )


@page("/services/{service}/instances/{name}/edit")
def edit_instance(view: View) -> Response:
    found, schema, current = _instance_and_schema(view)
    return _instance_form(view, found, spec_forms.fields(schema, SERVICE_ROLE, current))


@action("/services/{service}/instances/{name}/edit")
def update_instance(view: View) -> Response:
    found, schema, current = _instance_and_schema(view)
    submitted = spec_forms.subform(view.form, "input.")
    fields = spec_forms.fields(schema, SERVICE_ROLE, current)
    problems = Problems()
    try:
        inputs = spec_forms.inputs_from_form(schema, SERVICE_ROLE, submitted)
    except FormProblems as refused:
        problems.take(refused)
        return _instance_form(view, found, spec_forms.refilled(fields, submitted), problems, 400)
    spec = spec_forms.inputs_spec(spec_forms.with_undefined(schema, SERVICE_ROLE, inputs, current))
    try:
        view.call(
            "UpdateServiceInstance",
            {
                "serviceName": found["serviceName"],
                "name": found["name"],
                "deploymentType": "CURRENT_VERSION",
                "spec": spec,
            },
        )
    except ServiceError as error:
        place(error, problems, {}, {"": [f.name for f in fields]})
        return _instance_form(
            view, found, spec_forms.refilled(fields, submitted), problems, status_for(error)
        )
    return view.done(
        f"/console/services/{found['serviceName']}/instances/{found['name']}",
        f"Instance {found['name']} is being updated with the new inputs.",
    )
