"""The console's actions: publish a template version, move resources to their template's recommended
version, cancel a deployment, and delete (an environment, a service, a template version) after a
confirmation page naming what will go.

Invariants: every action is a POST (CSRF and Origin checked by `baryon.console.web`) answered with a 303
redirect and a flash message saying what happened, per resource for a batch (the ones that failed say
why); a deletion runs only from its confirmation form, and for an environment or a service only when the
name typed matches; a refused deletion shows the confirmation page again with the operation's message and
deletes nothing; a batch is bounded by `MAX_BATCH` resources.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from baryon.console.web import PREFIX, View, action, page, page_status, safe_next
from baryon.domain import spec_forms
from baryon.domain.specs import parse_instance_spec_from_service_spec
from baryon.protocol.errors import ServiceError, ValidationException

#: The most resources one "Update to recommended" moves.
MAX_BATCH = 200
_CANCEL = {
    "ENVIRONMENT": ("CancelEnvironmentDeployment", {"environmentName": "environmentName"}),
    "SERVICE_INSTANCE": (
        "CancelServiceInstanceDeployment",
        {"serviceName": "serviceName", "serviceInstanceName": "serviceInstanceName"},
    ),
    "SERVICE_PIPELINE": ("CancelServicePipelineDeployment", {"serviceName": "serviceName"}),
    "COMPONENT": ("CancelComponentDeployment", {"componentName": "componentName"}),
}


def _kind(view: View) -> tuple[str, str]:
    kind = view.params["kind"]
    if kind not in ("environment", "service"):
        raise ValidationException("A template is an environment template or a service template.")
    return kind, "Environment" if kind == "environment" else "Service"


def _version(view: View) -> tuple[str, str]:
    major, _, minor = view.params["version"].partition(".")
    if not major.isdigit() or not minor.isdigit():
        raise ValidationException("A template version is written MAJOR.MINOR, such as 1.0.")
    return major, minor


# --- publish a version ---------------------------------------------------------------------------------


@action("/templates/{kind}/{name}/versions/{version}/publish")
def publish_version(view: View) -> Response:
    kind, prefix = _kind(view)
    major, minor = _version(view)
    name = view.params["name"]
    target = f"{PREFIX}/templates/{kind}/{name}"
    try:
        view.call(
            f"Update{prefix}TemplateVersion",
            {"templateName": name, "majorVersion": major, "minorVersion": minor, "status": "PUBLISHED"},
        )
    except ServiceError as error:
        return view.done(
            target, f"Version {major}.{minor} was not published.", [error_line(error)], failed=True
        )
    return view.done(target, f"Version {major}.{minor} of {name} is published.")


def error_line(error: ServiceError) -> str:
    return f"{error.code}: {error.message}"


# --- update to the recommended version --------------------------------------------------------------------


def _recommended(
    view: View, cache: dict[tuple[str, str], str | None], kind: str, template: str
) -> str | None:
    key = (kind, template)
    if key not in cache:
        prefix = "Environment" if kind == "environment" else "Service"
        found = view.call(f"Get{prefix}Template", {"name": template})[f"{kind}Template"]
        cache[key] = found.get("recommendedVersion")
    return cache[key]


def _move(view: View, cache: dict[tuple[str, str], str | None], selected: str) -> tuple[bool, str]:
    """Move one selected resource (``environment:NAME`` or ``instance:SERVICE/NAME``) to its template's
    recommended version: whether it worked, and the line saying what happened."""
    kind, _, key = selected.partition(":")
    if kind == "environment":
        label = f"Environment {key}"
        found = view.call("GetEnvironment", {"name": key})["environment"]
        template_kind = "environment"
    elif kind == "instance" and "/" in key:
        label = f"Instance {key}"
        service, _, name = key.partition("/")
        found = view.call("GetServiceInstance", {"serviceName": service, "name": name})["serviceInstance"]
        template_kind = "service"
    else:
        return False, f"{selected}: not an environment or a service instance"
    recommended = _recommended(view, cache, template_kind, found["templateName"])
    current = f"{found['templateMajorVersion']}.{found['templateMinorVersion']}"
    if not recommended:
        return False, f"{label}: its template has no recommended version"
    if recommended == current:
        return True, f"{label}: already on the recommended version {current}"
    major, _, minor = recommended.partition(".")
    deployment_type = "MINOR_VERSION" if major == found["templateMajorVersion"] else "MAJOR_VERSION"
    params: dict[str, Any] = {
        "deploymentType": deployment_type,
        "templateMajorVersion": major,
        "templateMinorVersion": minor,
    }
    if kind == "environment":
        params["name"] = found["name"]
        if deployment_type == "MAJOR_VERSION" and found.get("spec"):
            params["spec"] = found["spec"]
        view.call("UpdateEnvironment", params)
    else:
        params.update(serviceName=found["serviceName"], name=found["name"])
        if deployment_type == "MAJOR_VERSION" and found.get("spec"):
            inputs = parse_instance_spec_from_service_spec(found["spec"], found["name"])
            params["spec"] = spec_forms.inputs_spec(inputs)
        view.call("UpdateServiceInstance", params)
    return True, f"{label}: moving from {current} to {recommended}"


@action("/update-to-recommended")
def update_to_recommended(view: View) -> Response:
    target = safe_next(view.form.get("next"))
    selected = [
        name[len("select:") :] for name, value in view.form.items() if name.startswith("select:") and value
    ]
    if not selected:
        return view.done(target, "Nothing was selected.", failed=True)
    if len(selected) > MAX_BATCH:
        return view.done(
            target, f"Select at most {MAX_BATCH} resources at a time; nothing was changed.", failed=True
        )
    cache: dict[tuple[str, str], str | None] = {}
    lines: list[str] = []
    failures = 0
    for one in selected:
        try:
            ok, line = _move(view, cache, one)
        except ServiceError as error:
            ok, line = False, f"{one.partition(':')[2]}: {error_line(error)}"
        failures += not ok
        lines.append(line)
    moved = len(selected) - failures
    message = f"Update to recommended: {moved} of {len(selected)} done"
    message += "." if not failures else f", {failures} refused."
    return view.done(target, message, lines, failed=bool(failures))


# --- cancel a deployment --------------------------------------------------------------------------------


@action("/deployments/{id}/cancel")
def cancel_deployment(view: View) -> Response:
    found = view.call("GetDeployment", {"id": view.params["id"]})["deployment"]
    target = f"{PREFIX}/deployments/{found['id']}"
    operation, members = _CANCEL.get(found.get("targetResourceType", ""), (None, {}))
    if operation is None:
        return view.done(target, "This deployment cannot be cancelled.", failed=True)
    try:
        view.call(operation, {param: found.get(member) for param, member in members.items()})
    except ServiceError as error:
        return view.done(target, "The deployment was not cancelled.", [error_line(error)], failed=True)
    return view.done(target, "Cancelling the deployment.")


# --- delete, after a confirmation -----------------------------------------------------------------------


def _confirm(view: View, status: int = 200, problem: str | None = None, **values: Any) -> Response:
    return view.render("confirm_delete.html", status, problem=problem, **values)


def _environment_values(view: View) -> dict[str, Any]:
    name = view.params["name"]
    found = view.call("GetEnvironment", {"name": name})["environment"]
    instances = view.call(
        "ListServiceInstances",
        {"filters": [{"key": "environmentName", "value": name}], "maxResults": 20},
    )
    return {
        "what": "environment",
        "name": found["name"],
        "typed": True,
        "goes": [
            f"Environment {found['name']} ({found['templateName']} "
            f"{found['templateMajorVersion']}.{found['templateMinorVersion']}) and the resources "
            "it provisioned"
        ],
        "blockers": [f"{i['serviceName']}/{i['name']}" for i in instances["serviceInstances"]],
        "action": f"{PREFIX}/environments/{found['name']}/delete",
        "back": f"{PREFIX}/environments/{found['name']}",
    }


@page("/environments/{name}/delete")
def confirm_environment_deletion(view: View) -> Response:
    return _confirm(view, **_environment_values(view))


@action("/environments/{name}/delete")
def delete_environment(view: View) -> Response:
    values = _environment_values(view)
    if view.form.get("confirm", "").strip() != values["name"]:
        return _confirm(view, 400, f"Type {values['name']} to confirm the deletion.", **values)
    try:
        view.call("DeleteEnvironment", {"name": values["name"]})
    except ServiceError as error:
        return _confirm(view, page_status(error), error_line(error), **values)
    return view.done(f"{PREFIX}/environments", f"Environment {values['name']} is being deleted.")


def _service_values(view: View) -> dict[str, Any]:
    name = view.params["name"]
    found = view.call("GetService", {"name": name})["service"]
    instances = view.call("ListServiceInstances", {"serviceName": name, "maxResults": 100})
    goes = [f"Service {found['name']}"]
    goes += [
        f"Instance {i['name']} in environment {i['environmentName']}" for i in instances["serviceInstances"]
    ]
    if instances.get("nextToken"):
        goes.append("and its other instances")
    if found.get("pipeline"):
        goes.append("Its pipeline")
    return {
        "what": "service",
        "name": found["name"],
        "typed": True,
        "goes": goes,
        "blockers": [],
        "action": f"{PREFIX}/services/{found['name']}/delete",
        "back": f"{PREFIX}/services/{found['name']}",
    }


@page("/services/{name}/delete")
def confirm_service_deletion(view: View) -> Response:
    return _confirm(view, **_service_values(view))


@action("/services/{name}/delete")
def delete_service(view: View) -> Response:
    values = _service_values(view)
    if view.form.get("confirm", "").strip() != values["name"]:
        return _confirm(view, 400, f"Type {values['name']} to confirm the deletion.", **values)
    try:
        view.call("DeleteService", {"name": values["name"]})
    except ServiceError as error:
        return _confirm(view, page_status(error), error_line(error), **values)
    return view.done(f"{PREFIX}/services", f"Service {values['name']} is being deleted.")


def _template_version_values(view: View) -> dict[str, Any]:
    kind, prefix = _kind(view)
    major, minor = _version(view)
    name = view.params["name"]
    found = view.call(
        f"Get{prefix}TemplateVersion", {"templateName": name, "majorVersion": major, "minorVersion": minor}
    )[f"{kind}TemplateVersion"]
    return {
        "what": "template version",
        "name": f"{name} {major}.{minor}",
        "typed": False,
        "goes": [f"Version {major}.{minor} ({found['status']}) of the {kind} template {name}"],
        "blockers": [],
        "action": f"{PREFIX}/templates/{kind}/{name}/versions/{major}.{minor}/delete",
        "back": f"{PREFIX}/templates/{kind}/{name}",
        "call": (
            f"Delete{prefix}TemplateVersion",
            {"templateName": name, "majorVersion": major, "minorVersion": minor},
        ),
    }


@page("/templates/{kind}/{name}/versions/{version}/delete")
def confirm_version_deletion(view: View) -> Response:
    return _confirm(view, **_template_version_values(view))


@action("/templates/{kind}/{name}/versions/{version}/delete")
def delete_version(view: View) -> Response:
    values = _template_version_values(view)
    operation, params = values["call"]
    try:
        view.call(operation, params)
    except ServiceError as error:
        return _confirm(view, page_status(error), error_line(error), **values)
    return view.done(values["back"], f"Template version {values['name']} is deleted.")
