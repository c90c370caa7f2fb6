"""The console's forms and actions in headless Chromium against a real server and worker (this module's own
server, see conftest): forms generated from a template's schema (checked in the browser and again on the
server, the server's message beside its field), and actions (publish, update to recommended, cancel,
delete with confirmation) with what is refused."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import (
    BUSY,
    ConsoleServer,
    manifest,
    screenshot,
    service_bundle,
    settled,
    sign_in,
)
from tests.support import publishing
from tests.support.bundles import tar_gz
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

FORM_ENV_SCHEMA = r"""schema:
  format:
    openapi: "3.0.0"
  environment_input_type: "FormInput"
  types:
    FormInput:
      type: object
      required: [team]
      properties:
        team:
          type: string
          title: Team name
          description: The team that owns the environment, in lower case.
          pattern: "^[a-z]+$"
          maxLength: 20
        size:
          type: string
          title: Size
          enum: [small, medium, large]
          default: medium
        replicas:
          type: integer
          title: Replicas
          minimum: 1
          maximum: 5
          default: 2
        owner:
          type: string
          title: Owner address
          description: Who to call.
          pattern: "^\\S+@\\S+$"
"""
FORM_SERVICE_SCHEMA = r"""schema:
  format:
    openapi: "3.0.0"
  service_input_type: "Instance"
  types:
    Instance:
      type: object
      properties:
        port:
          type: integer
          title: Port
          minimum: 1
          maximum: 65535
          default: 8080
        path:
          type: string
          title: Health check path
          description: Starts with a slash.
          pattern: "^/\\S*$"
          default: /health
"""
ROLE = "arn:aws:iam::111111111111:role/proton-codebuild"


def _env_bundle(schema: str, provision: list[str]) -> bytes:
    return tar_gz(
        {"schema/schema.yaml": schema, "infrastructure/manifest.yaml": manifest(provision)}, "environment/"
    )


def _service_bundle(schema: str) -> bytes:
    files: dict[str, str | bytes] = {
        "schema/schema.yaml": schema,
        "instance_infrastructure/manifest.yaml": manifest(["echo instance ready"]),
    }
    return tar_gz(files, "service/")


@pytest.fixture(scope="module")
def forms_server(console_server: ConsoleServer, s3: Any) -> Iterator[ConsoleServer]:
    alice = console_server.proton(console_server.alice)
    publishing.publish_environment_template(
        alice, s3, "form-env", _env_bundle(FORM_ENV_SCHEMA, ["echo form env"]), displayName="Form env"
    )
    publishing.publish_environment_template(
        alice, s3, "sleepy-env", _env_bundle(FORM_ENV_SCHEMA, ["echo sleeping", "sleep 120"])
    )
    publishing.publish_service_template(
        alice, s3, "form-svc", _service_bundle(FORM_SERVICE_SCHEMA), pipeline=False
    )
    # What the action tests change or delete, made here so that every test can run on its own.
    alice.create_environment(
        name="later",
        templateName="form-env",
        templateMajorVersion="1",
        spec="proton: EnvironmentSpec\nspec:\n  team: later\n",
        codebuildRoleArn=ROLE,
    )
    settled(alice, "get_environment", name="later")
    alice.create_service(
        name="doomed",
        templateName="form-svc",
        templateMajorVersion="1",
        spec="proton: ServiceSpec\ninstances:\n  - name: one\n    environment: dev\n"
        "  - name: two\n    environment: dev\n",
    )
    for name in ("one", "two"):
        wait_for(
            lambda n=name: n in _instances(alice, "doomed"), timeout=60, interval=0.2, what=f"instance {name}"
        )
        settled(alice, "get_service_instance", serviceName="doomed", name=name)
    yield console_server


def _instances(proton: Any, service: str) -> list[str]:
    return [i["name"] for i in proton.list_service_instances(serviceName=service)["serviceInstances"]]


def _fill_env_form(page: Page, name: str) -> None:
    page.get_by_role("textbox", name="Name", exact=True).fill(name)
    page.get_by_label("CodeBuild role ARN").fill(ROLE)
    page.get_by_label("Team name").fill("payments")


def _valid(page: Page, label: str) -> bool:
    return bool(page.get_by_label(label).evaluate("e => e.validity.valid"))


def test_create_an_environment_through_the_generated_form(page: Page, forms_server: ConsoleServer) -> None:
    url = forms_server.url
    proton = forms_server.proton(forms_server.alice)
    sign_in(page, url, forms_server.alice, "/console/environments")
    page.get_by_role("link", name="Create an environment").click()
    page.get_by_label("Environment template").select_option("form-env")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Create an environment")).to_be_visible()
    expect(page.locator("#form-version")).to_have_text(re.compile(r"^1\.\d$"))
    # Title as label, description as help, enum as a select with its default, defaults prefilled.
    team = page.get_by_label("Team name")
    expect(team).to_have_attribute("required", "")
    expect(team).to_have_accessible_description("The team that owns the environment, in lower case.")
    size = page.get_by_label("Size")
    expect(size).to_have_value("medium")
    expect(size.locator("option")).to_have_text(["small", "medium", "large"])
    expect(page.get_by_label("Replicas")).to_have_value("2")
    expect(page.get_by_label("Owner address")).to_have_accessible_description("Who to call.")

    # The browser refuses what it can check (pattern, maximum): the form is not sent.
    _fill_env_form(page, "formed")
    team.fill("Payments!")
    page.get_by_label("Replicas").fill("9")
    assert not _valid(page, "Team name") and not _valid(page, "Replicas")
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    page.get_by_role("button", name="Create environment").click()
    expect(page).to_have_url(re.compile(r"/console/environments/new\?template=form-env$"))
    assert posted == []

    # A value only the server refuses (its pattern uses \S, which the browser does not check): the
    # message shows beside its field, the form keeps what was typed, and nothing is created.
    team.fill("payments")
    page.get_by_label("Replicas").fill("3")
    page.get_by_label("Size").select_option("large")
    page.get_by_label("Owner address").fill("nobody")
    assert _valid(page, "Owner address")
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.get_by_role("button", name="Create environment").click()
    assert refused.value.status == 400
    owner = page.get_by_label("Owner address")
    expect(owner).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#field-input\\.owner-problems")).to_contain_text("input 'owner'")
    expect(page.locator("#field-input\\.owner-problems")).to_contain_text("pattern")
    expect(owner).to_have_value("nobody")
    expect(page.get_by_label("Size")).to_have_value("large")
    expect(page.get_by_label("Replicas")).to_have_value("3")
    expect(page.get_by_role("textbox", name="Name", exact=True)).to_have_value("formed")
    screenshot(page, "environment-form-refused")
    assert [e["name"] for e in proton.list_environments()["environments"] if e["name"] == "formed"] == []

    # A name that is taken: the operation's ConflictException beside the name field.
    page.get_by_role("textbox", name="Name", exact=True).fill("dev")
    owner.fill("ops@example.com")
    with page.expect_response(lambda r: r.request.method == "POST") as conflict:
        page.get_by_role("button", name="Create environment").click()
    assert conflict.value.status == 409
    expect(page.locator("#field-name-problems")).to_contain_text("ConflictException")

    page.get_by_role("textbox", name="Name", exact=True).fill("formed")
    page.get_by_role("button", name="Create environment").click()
    expect(page).to_have_url(f"{url}/console/environments/formed")
    expect(page.locator("#flash")).to_have_text(re.compile("Environment formed is being created."))
    expect(page.get_by_role("heading", name="formed environment")).to_be_visible()
    expect(page.locator("dd .status")).to_have_text(re.compile("IN_PROGRESS|SUCCEEDED"))
    spec = proton.get_environment(name="formed")["environment"]["spec"]
    assert "team: payments" in spec and "size: large" in spec and "replicas: 3" in spec
    assert "owner: ops@example.com" in spec
    settled(proton, "get_environment", name="formed")
    page.reload()
    expect(page.locator("dd .status").first).to_have_text("SUCCEEDED")
    expect(page.locator("#flash")).to_have_count(0)  # a flash message shows once
    screenshot(page, "environment-created")


def test_create_a_service_and_update_an_instance(page: Page, forms_server: ConsoleServer) -> None:
    url = forms_server.url
    proton = forms_server.proton(forms_server.alice)
    sign_in(page, url, forms_server.alice, "/console/services/new?template=form-svc")
    page.get_by_role("textbox", name="Name", exact=True).fill("shop")
    page.get_by_label("Instance name").fill("one")
    page.get_by_label("Environment").select_option("dev")
    page.get_by_label("Port").fill("8001")
    # A second instance row, added by a round trip that keeps what was typed.
    page.get_by_role("button", name="Add an instance").click()
    rows = page.locator("fieldset.instance")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).get_by_label("Instance name")).to_have_value("one")
    expect(rows.nth(0).get_by_label("Port")).to_have_value("8001")
    second = rows.nth(1)
    expect(second.get_by_label("Port")).to_have_value("8080")
    expect(second.get_by_label("Health check path")).to_have_value("/health")
    second.get_by_label("Instance name").fill("two")
    second.get_by_label("Environment").select_option("later")
    second.get_by_label("Health check path").fill("/ready")
    screenshot(page, "service-form")
    # An environment the template is not compatible with: the server's message beside that select.
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.get_by_role("button", name="Create service").click()
    assert refused.value.status == 400
    expect(page.locator("#field-instance-1-environment-problems")).to_contain_text("not compatible")
    expect(rows.nth(1).get_by_label("Health check path")).to_have_value("/ready")
    expect(rows.nth(0).get_by_label("Port")).to_have_value("8001")
    assert "shop" not in [s["name"] for s in proton.list_services()["services"]]
    rows.nth(1).get_by_label("Environment").select_option("dev")
    page.get_by_role("button", name="Create service").click()
    expect(page).to_have_url(f"{url}/console/services/shop")
    expect(page.locator("#flash")).to_contain_text("Service shop is being created with 2 instances.")
    for name in ("one", "two"):
        wait_for(
            lambda n=name: (
                n
                in [i["name"] for i in proton.list_service_instances(serviceName="shop")["serviceInstances"]]
            ),
            timeout=60,
            interval=0.2,
            what=f"instance {name}",
        )
        settled(proton, "get_service_instance", serviceName="shop", name=name)
    page.reload()
    expect(page.get_by_role("row", name=re.compile(r"one dev 1\.0 SUCCEEDED"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"two dev 1\.0 SUCCEEDED"))).to_be_visible()

    # Update an instance's inputs: prefilled with its current values; the server's refusal beside the field.
    page.goto(f"{url}/console/services/shop/instances/two")
    page.get_by_role("link", name="Update inputs").click()
    expect(page.get_by_label("Health check path")).to_have_value("/ready")
    expect(page.get_by_label("Port")).to_have_value("8080")
    page.get_by_label("Health check path").fill("ready now")
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.get_by_role("button", name="Update instance").click()
    assert refused.value.status == 400
    expect(page.locator("#field-input\\.path-problems")).to_contain_text("input 'path'")
    expect(page.get_by_label("Health check path")).to_have_value("ready now")
    screenshot(page, "instance-form-refused")
    before = proton.get_service_instance(serviceName="shop", name="two")["serviceInstance"]
    assert before["lastAttemptedDeploymentId"] == before.get("lastSucceededDeploymentId")
    page.get_by_label("Health check path").fill("/live")
    page.get_by_label("Port").fill("9090")
    page.get_by_role("button", name="Update instance").click()
    expect(page).to_have_url(f"{url}/console/services/shop/instances/two")
    expect(page.locator("#flash")).to_contain_text("Instance two is being updated")
    found = settled(proton, "get_service_instance", serviceName="shop", name="two")
    assert found["deploymentStatus"] == "SUCCEEDED"
    assert "path: /live" in found["spec"] and "port: 9090" in found["spec"]


def test_actions(page: Page, forms_server: ConsoleServer, s3: Any) -> None:
    url = forms_server.url
    proton = forms_server.proton(forms_server.alice)
    sign_in(page, url, forms_server.alice, "/console/templates")

    # Publish a registered draft version from the template page.
    created = proton.create_environment_template_version(
        templateName="form-env",
        majorVersion="1",
        source=publishing.upload(s3, _env_bundle(FORM_ENV_SCHEMA, ["echo form env 1.1"])),
    )["environmentTemplateVersion"]
    assert created["minorVersion"] == "1"
    wait_for(
        lambda: (
            proton.get_environment_template_version(
                templateName="form-env", majorVersion="1", minorVersion="1"
            )["environmentTemplateVersion"]["status"]
            == "DRAFT"
        ),
        timeout=60,
        interval=0.2,
        what="form-env 1.1 registered",
    )
    page.goto(f"{url}/console/templates/environment/form-env")
    page.get_by_role("button", name="Publish 1.1").click()
    expect(page.locator("#flash")).to_have_text(re.compile("Version 1.1 of form-env is published."))
    expect(page.get_by_role("row", name=re.compile(r"^1\.1 recommended PUBLISHED"))).to_be_visible()
    screenshot(page, "template-published")

    # Update to recommended: several instances from the fleet view, each reported.
    publishing.publish_service_version(proton, s3, "web-svc", service_bundle(), majorVersion="1")
    page.goto(f"{url}/console/templates/service/web-svc")
    page.get_by_label("Select web/front").check()
    page.get_by_label("Select web/back").check()
    page.get_by_role("button", name="Update selected to recommended").click()
    flash = page.locator("#flash")
    expect(flash).to_contain_text("Update to recommended: 2 of 2 done.")
    expect(flash).to_contain_text("Instance web/front: moving from 1.0 to 1.1")
    expect(flash).to_contain_text("Instance web/back: moving from 1.0 to 1.1")
    screenshot(page, "update-to-recommended")
    for name in ("front", "back"):
        found = settled(proton, "get_service_instance", serviceName="web", name=name)
        assert (found["templateMinorVersion"], found["deploymentStatus"]) == ("1", "SUCCEEDED")
    # From the environments list: one moves, one is already there, one is refused (busy).
    proton.create_environment(
        name="sleeper",
        templateName="sleepy-env",
        templateMajorVersion="1",
        spec="proton: EnvironmentSpec\nspec:\n  team: night\n",
        codebuildRoleArn=ROLE,
    )
    # sleepy-env 1.1: sleeper is behind, and busy with its first deployment.
    publishing.publish_environment_version(
        proton, s3, "sleepy-env", _env_bundle(FORM_ENV_SCHEMA, ["sleep 120"]), majorVersion="1"
    )
    page.goto(f"{url}/console/environments")
    for name in ("dev", "later", "sleeper"):
        page.get_by_label(f"Select {name}", exact=True).check()
    page.get_by_role("button", name="Update to recommended").click()
    expect(flash).to_contain_text("Update to recommended: 2 of 3 done, 1 refused.")
    expect(flash).to_contain_text("Environment dev: moving from 1.0 to 1.1")
    expect(flash).to_contain_text("Environment later: moving from 1.0 to 1.1")
    expect(flash).to_contain_text("sleeper: ConflictException")

    # Cancel a running deployment from its page.
    deployment = proton.get_environment(name="sleeper")["environment"]["lastAttemptedDeploymentId"]
    page.goto(f"{url}/console/deployments/{deployment}")
    expect(page.locator("#log")).to_contain_text("sleeping", timeout=30_000)
    page.get_by_role("button", name="Cancel deployment").click()
    expect(flash).to_have_text("Cancelling the deployment.")
    wait_for(
        lambda: proton.get_deployment(id=deployment)["deployment"]["deploymentStatus"] == "CANCELLED",
        timeout=60,
        interval=0.3,
        what="the deployment cancelled",
    )
    page.reload()
    expect(page.locator("#deployment-status")).to_have_text("CANCELLED")
    expect(page.get_by_role("button", name="Cancel deployment")).to_have_count(0)
    screenshot(page, "deployment-cancelled")

    # Delete a service: the confirmation names its instances; the name must be typed.
    page.goto(f"{url}/console/services/doomed")
    page.get_by_role("link", name="Delete this service").click()
    expect(page.get_by_role("heading", name="Delete the service doomed?")).to_be_visible()
    expect(page.get_by_text("Instance one in environment dev")).to_be_visible()
    expect(page.get_by_text("Instance two in environment dev")).to_be_visible()
    screenshot(page, "confirm-delete")
    page.get_by_label("Type doomed to confirm").fill("doomed")
    page.get_by_role("button", name="Delete service").click()
    expect(page).to_have_url(f"{url}/console/services")
    expect(flash).to_have_text("Service doomed is being deleted.")
    wait_for(
        lambda: "doomed" not in [s["name"] for s in proton.list_services()["services"]],
        timeout=90,
        interval=0.3,
        what="doomed deleted",
    )

    # Delete a template version: a registered draft, from its row on the template page.
    proton.create_service_template_version(
        templateName="form-svc",
        majorVersion="1",
        compatibleEnvironmentTemplates=[{"templateName": "vpc-env", "majorVersion": "1"}],
        source=publishing.upload(s3, _service_bundle(FORM_SERVICE_SCHEMA)),
    )
    wait_for(
        lambda: (
            proton.get_service_template_version(templateName="form-svc", majorVersion="1", minorVersion="1")[
                "serviceTemplateVersion"
            ]["status"]
            == "DRAFT"
        ),
        timeout=60,
        interval=0.2,
        what="form-svc 1.1 registered",
    )
    page.goto(f"{url}/console/templates/service/form-svc")
    page.get_by_role("link", name="Delete version 1.1").click()
    expect(page.get_by_text("Version 1.1 (DRAFT) of the service template form-svc")).to_be_visible()
    page.get_by_role("button", name="Delete template version").click()
    expect(page).to_have_url(f"{url}/console/templates/service/form-svc")
    expect(flash).to_have_text("Template version form-svc 1.1 is deleted.")
    expect(page.get_by_role("row", name=re.compile(r"^1\.1 "))).to_have_count(0)
    versions = proton.list_service_template_versions(templateName="form-svc", majorVersion="1")
    assert [v["minorVersion"] for v in versions["templateVersions"]] == ["0"]


def test_refused_actions(page: Page, forms_server: ConsoleServer) -> None:
    url = forms_server.url
    proton = forms_server.proton(forms_server.alice)
    sign_in(page, url, forms_server.alice, "/console/environments/dev/delete")
    # An environment that still has service instances: the operation's ConflictException, nothing deleted.
    expect(page.get_by_text("These service instances still run in this environment")).to_be_visible()
    page.get_by_label("Type dev to confirm").fill("dev")
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.get_by_role("button", name="Delete environment").click()
    assert refused.value.status == 409
    expect(page.get_by_role("alert")).to_contain_text("ConflictException")
    expect(page.get_by_role("alert")).to_contain_text("Nothing was deleted.")
    screenshot(page, "delete-refused")
    assert proton.get_environment(name="dev")["environment"]["deploymentStatus"] not in BUSY
    # A name typed wrong deletes nothing either.
    page.get_by_label("Type dev to confirm").fill("de")
    page.get_by_role("button", name="Delete environment").click()
    expect(page.get_by_role("alert")).to_contain_text("Type dev to confirm the deletion.")

    # Without, or with a wrong, CSRF token: 403 and nothing changes.
    for token in (None, "not-the-token"):
        form = {"confirm": "later"} | ({"csrf_token": token} if token else {})
        answer = page.request.post(f"{url}/console/environments/later/delete", form=form)
        assert answer.status == 403
        assert "The form has expired" in answer.text()
    assert settled(proton, "get_environment", name="later")["deploymentStatus"] == "SUCCEEDED"
    assert proton.get_environment(name="later")["environment"]["name"] == "later"

    # Another account's resource: 404, on the confirmation page and on the action.
    missing = page.goto(f"{url}/console/environments/b-secret/delete")
    assert missing is not None and missing.status == 404
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    answer = page.request.post(
        f"{url}/console/environments/b-secret/delete", form={"csrf_token": token, "confirm": "b-secret"}
    )
    assert answer.status == 404
    bob = forms_server.proton(forms_server.bob)
    assert bob.get_environment(name="b-secret")["environment"]["deploymentStatus"] == "SUCCEEDED"

    # An oversized form is refused with a message saying so.
    big = page.request.post(
        f"{url}/console/environments/new",
        data=urllib.parse.urlencode({"csrf_token": token, "template": "form-env", "x": "y" * 300_000}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert big.status == 413
    assert "The form is larger than 256 KiB" in big.text()
