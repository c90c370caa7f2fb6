"""The console's read-only pages: dashboard, templates, environments, services, instances, deployments.

Invariants: every value shown comes from a Proton operation run as the signed-in credential
(`View.call`); long lists show one API page at a time with a next-page link carrying the API's nextToken;
no page makes one call per row where a list operation answers enough.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from starlette.responses import JSONResponse, Response

from baryon.console.web import View, page
from baryon.domain.deployments import FINAL
from baryon.protocol.errors import ValidationException
from baryon.store import run_logs

#: Rows per table page (the most a list operation gives in one call).
PAGE_SIZE = 100
#: Resources collected for a template's fleet view (beyond these, the counts say "or more").
FLEET_LIMIT = 1000
#: Log chunks one poll of a deployment's log returns.
LOG_CHUNKS = 200
KINDS = ("environment", "service")


def _all(
    view: View, operation: str, member: str, params: dict[str, Any], limit: int
) -> tuple[list[Any], bool]:
    """Items of a list operation over its pages, at most `limit`; and whether more were left."""
    items: list[Any] = []
    token: str | None = None
    while True:
        answer = view.call(operation, {**params, "maxResults": PAGE_SIZE, "nextToken": token})
        items.extend(answer.get(member, []))
        token = answer.get("nextToken")
        if not token or len(items) >= limit:
            return items[:limit], bool(token) or len(items) > limit


@page("/")
def dashboard(view: View) -> Response:
    counts = view.call("GetResourcesSummary")["counts"]
    failed = view.call(
        "ListServiceInstances",
        {"filters": [{"key": "deploymentStatus", "value": "FAILED"}], "maxResults": 20},
    )["serviceInstances"]
    behind = []
    for status in ("BEHIND_MAJOR", "BEHIND_MINOR"):
        behind += view.call(
            "ListServiceInstances",
            {"filters": [{"key": "deployedTemplateVersionStatus", "value": status}], "maxResults": 20},
        )["serviceInstances"]
    environments = view.call("ListEnvironments", {"maxResults": PAGE_SIZE})["environments"]
    failed_environments = [
        e for e in environments if e.get("deploymentStatus") in ("FAILED", "DELETE_FAILED")
    ]
    recommended = {
        t["name"]: t.get("recommendedVersion")
        for t in view.call("ListEnvironmentTemplates", {"maxResults": PAGE_SIZE})["templates"]
    }
    behind_environments = [
        e
        for e in environments
        if recommended.get(e["templateName"])
        and recommended[e["templateName"]] != f"{e['templateMajorVersion']}.{e['templateMinorVersion']}"
    ]
    deployments = view.call("ListDeployments", {"maxResults": 10})["deployments"]
    rows = [
        ("Environment templates", counts.get("environmentTemplates")),
        ("Service templates", counts.get("serviceTemplates")),
        ("Environments", counts.get("environments")),
        ("Services", counts.get("services")),
        ("Service instances", counts.get("serviceInstances")),
        ("Pipelines", counts.get("pipelines")),
        ("Components", counts.get("components")),
    ]
    return view.render(
        "dashboard.html",
        rows=rows,
        failed=failed,
        failed_environments=failed_environments,
        behind=behind,
        behind_environments=behind_environments,
        recommended=recommended,
        deployments=deployments,
    )


@page("/templates")
def templates(view: View) -> Response:
    lists = []
    for kind, operation in (("environment", "ListEnvironmentTemplates"), ("service", "ListServiceTemplates")):
        token = view.query(f"{kind}NextToken")
        answer = view.call(operation, {"maxResults": PAGE_SIZE, "nextToken": token})
        lists.append((kind, answer["templates"], answer.get("nextToken")))
    return view.render("templates.html", lists=lists)


@page("/templates/{kind}/{name}")
def template(view: View) -> Response:
    kind, name = view.params["kind"], view.params["name"]
    if kind not in KINDS:
        raise ValidationException("A template is an environment template or a service template.")
    prefix = "Environment" if kind == "environment" else "Service"
    found = view.call(f"Get{prefix}Template", {"name": name})[f"{kind}Template"]
    # Without a major version the list holds one version per major; each major then lists its minors.
    operation = f"List{prefix}TemplateVersions"
    latest, _ = _all(view, operation, "templateVersions", {"templateName": name}, 500)
    versions: list[dict[str, Any]] = []
    for major in sorted({v["majorVersion"] for v in latest}, key=int):
        found_versions, _ = _all(
            view, operation, "templateVersions", {"templateName": name, "majorVersion": major}, 500
        )
        versions += found_versions
    versions.sort(key=lambda v: (int(v["majorVersion"]), int(v["minorVersion"])))
    if kind == "environment":
        majors = sorted({v["majorVersion"] for v in versions}, key=int)
        filters = [{"templateName": name, "majorVersion": major} for major in majors]
        resources, more = (
            _all(view, "ListEnvironments", "environments", {"environmentTemplates": filters}, FLEET_LIMIT)
            if filters
            else ([], False)
        )
        label = "Environments"
    else:
        resources, more = _all(
            view,
            "ListServiceInstances",
            "serviceInstances",
            {"filters": [{"key": "templateName", "value": name}]},
            FLEET_LIMIT,
        )
        label = "Service instances"
    fleet: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for resource in resources:
        fleet[f"{resource.get('templateMajorVersion')}.{resource.get('templateMinorVersion')}"].append(
            resource
        )
    return view.render(
        "template.html", kind=kind, template=found, versions=versions, fleet=fleet, label=label, more=more
    )


@page("/environments")
def environments(view: View) -> Response:
    answer = view.call("ListEnvironments", {"maxResults": PAGE_SIZE, "nextToken": view.query("nextToken")})
    return view.render("environments.html", environments=answer["environments"], next=answer.get("nextToken"))


@page("/environments/{name}")
def environment(view: View) -> Response:
    name = view.params["name"]
    found = view.call("GetEnvironment", {"name": name})["environment"]
    outputs = view.call("ListEnvironmentOutputs", {"environmentName": name})["outputs"]
    resources = view.call("ListEnvironmentProvisionedResources", {"environmentName": name})[
        "provisionedResources"
    ]
    deployments = view.call(
        "ListDeployments", {"environmentName": name, "maxResults": 20, "nextToken": view.query("nextToken")}
    )
    return view.render(
        "environment.html",
        environment=found,
        outputs=outputs,
        resources=resources,
        deployments=deployments["deployments"],
        next=deployments.get("nextToken"),
    )


@page("/services")
def services(view: View) -> Response:
    answer = view.call("ListServices", {"maxResults": PAGE_SIZE, "nextToken": view.query("nextToken")})
    return view.render("services.html", services=answer["services"], next=answer.get("nextToken"))


@page("/services/{name}")
def service(view: View) -> Response:
    name = view.params["name"]
    found = view.call("GetService", {"name": name})["service"]
    instances = view.call(
        "ListServiceInstances",
        {"serviceName": name, "maxResults": PAGE_SIZE, "nextToken": view.query("nextToken")},
    )
    return view.render(
        "service.html",
        service=found,
        instances=instances["serviceInstances"],
        next=instances.get("nextToken"),
    )


@page("/services/{service}/instances/{name}")
def instance(view: View) -> Response:
    service_name, name = view.params["service"], view.params["name"]
    key = {"serviceName": service_name, "serviceInstanceName": name}
    found = view.call("GetServiceInstance", {"serviceName": service_name, "name": name})["serviceInstance"]
    outputs = view.call("ListServiceInstanceOutputs", key)["outputs"]
    resources = view.call("ListServiceInstanceProvisionedResources", key)["provisionedResources"]
    deployments = view.call(
        "ListDeployments", {**key, "maxResults": 20, "nextToken": view.query("nextToken")}
    )
    return view.render(
        "instance.html",
        instance=found,
        outputs=outputs,
        resources=resources,
        deployments=deployments["deployments"],
        next=deployments.get("nextToken"),
    )


def _outputs(view: View, deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """The outputs a deployment produced (environments and service instances have them by deployment)."""
    kind = deployment.get("targetResourceType")
    if deployment.get("deploymentStatus") != "SUCCEEDED":
        return []
    if kind == "ENVIRONMENT":
        params = {"environmentName": deployment["environmentName"], "deploymentId": deployment["id"]}
        return list(view.call("ListEnvironmentOutputs", params)["outputs"])
    if kind == "SERVICE_INSTANCE":
        params = {
            "serviceName": deployment["serviceName"],
            "serviceInstanceName": deployment["serviceInstanceName"],
            "deploymentId": deployment["id"],
        }
        return list(view.call("ListServiceInstanceOutputs", params)["outputs"])
    return []


@page("/deployments/{id}")
def deployment(view: View) -> Response:
    found = view.call("GetDeployment", {"id": view.params["id"]})["deployment"]
    with view.console.runtime.database.read() as connection:
        chunks = run_logs.read(connection, found["id"], 0, limit=LOG_CHUNKS)
    return view.render(
        "deployment.html",
        deployment=found,
        outputs=_outputs(view, found),
        log="".join(chunk.text for chunk in chunks),
        after=chunks[-1].seq if chunks else 0,
        running=found["deploymentStatus"] not in FINAL,
    )


@page("/deployments/{id}/log")
def deployment_log(view: View) -> Response:
    """New log text after the chunk `after`, and whether the deployment has settled (JSON, for the poll)."""
    found = view.call("GetDeployment", {"id": view.params["id"]})["deployment"]
    raw = view.query("after") or "0"
    after = int(raw) if raw.isdigit() and len(raw) < 12 else 0
    with view.console.runtime.database.read() as connection:
        chunks = run_logs.read(connection, found["id"], after, limit=LOG_CHUNKS)
    return JSONResponse(
        {
            "text": "".join(chunk.text for chunk in chunks),
            "after": chunks[-1].seq if chunks else after,
            "status": found["deploymentStatus"],
            "done": found["deploymentStatus"] in FINAL and len(chunks) < LOG_CHUNKS,
        }
    )
