"""The console in headless Chromium against a real server and worker: sign-in, every page as a user sees
it, what is refused, and sessions that end. Few tests, one server per module (see conftest)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import HOSTILE, ConsoleServer, create_environment, screenshot, sign_in
from tests.support.processes import run
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


def test_every_page_as_a_user_sees_it(page: Page, console_server: ConsoleServer) -> None:
    url = console_server.url
    page.goto(f"{url}/")  # a browser opening the server lands on the console's sign-in page
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=%2Fconsole%2F$"))
    expect(page.get_by_role("heading", name="Sign in to Baryon")).to_be_visible()
    screenshot(page, "sign-in")
    sign_in(page, url, console_server.alice)

    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    counts = page.locator("table").first
    # Resource, total, up to date, behind minor, behind major, failed.
    expect(counts.get_by_role("row", name="Environments 1 0 1 0 0")).to_be_visible()
    expect(counts.get_by_role("row", name="Service instances 2 2 0 0 0")).to_be_visible()
    expect(counts.get_by_role("row", name=re.compile("^Environment templates 2"))).to_be_visible()
    expect(page.get_by_text("Nothing failed.")).to_be_visible()
    expect(page.get_by_text("Environment dev on vpc-env 1.0 (recommended 1.1)")).to_be_visible()
    latest = page.locator("section", has=page.get_by_role("heading", name="Latest deployments"))
    expect(latest.get_by_role("row")).to_have_count(4)  # heading row, dev, front, back
    screenshot(page, "dashboard")

    page.get_by_role("navigation").get_by_role("link", name="Templates").click()
    expect(page.get_by_role("row", name=re.compile(r"^vpc-env VPC environment 1\.1"))).to_be_visible()
    screenshot(page, "templates")
    page.get_by_role("link", name="vpc-env").click()
    expect(page.get_by_role("heading", name="vpc-env environment template")).to_be_visible()
    expect(
        page.get_by_role("row", name=re.compile(r"^1\.0 PUBLISHED .* 1: Select dev dev Delete version 1\.0$"))
    ).to_be_visible()
    expect(
        page.get_by_role("row", name=re.compile(r"^1\.1 recommended PUBLISHED .* 0 Delete version 1\.1$"))
    ).to_be_visible()
    page.goto(f"{url}/console/templates/service/web-svc")
    version_row = page.get_by_role("row", name=re.compile(r"^1\.0 recommended"))
    expect(version_row).to_contain_text("PUBLISHED")
    expect(version_row).to_contain_text("2: web/back, web/front")
    screenshot(page, "template")

    page.goto(f"{url}/console/environments")
    row = page.get_by_role("row", name=re.compile("^Select dev dev "))
    expect(row).to_have_text(re.compile(r"dev\s*vpc-env\s*1\.0\s*SUCCEEDED"))
    expect(page.get_by_role("link", name="b-secret")).to_have_count(0)
    row.get_by_role("link", name="dev").click()
    expect(page.get_by_role("heading", name="dev environment")).to_be_visible()
    expect(page.get_by_text("vpc_cidr: 10.1.0.0/16")).to_be_visible()
    outputs = page.locator("section", has=page.get_by_role("heading", name="Outputs"))
    expect(outputs.get_by_role("row", name="VpcId vpc-0abc")).to_be_visible()
    # User-controlled text (the description, an output) shows as text and never runs.
    expect(outputs.get_by_text(HOSTILE)).to_be_visible()
    expect(page.get_by_text(HOSTILE)).to_have_count(2)
    assert page.evaluate("window.pwned") is None
    screenshot(page, "environment")

    page.locator("dl a[href^='/console/deployments/']").click()
    expect(page.get_by_role("heading", name=re.compile("^Deployment "))).to_be_visible()
    expect(page.locator("#deployment-status")).to_have_text("SUCCEEDED")
    expect(page.locator("#log")).to_contain_text("provisioning dev")
    expect(page.get_by_text('"templateName": "vpc-env"')).to_be_visible()
    deployment_outputs = page.locator("section", has=page.get_by_role("heading", name="Outputs"))
    expect(deployment_outputs.get_by_role("row", name="VpcId vpc-0abc")).to_be_visible()
    screenshot(page, "deployment")

    page.get_by_role("navigation").get_by_role("link", name="Services").click()
    expect(page.get_by_role("row", name="web web-svc ACTIVE The web tier")).to_be_visible()
    screenshot(page, "services")
    page.get_by_role("link", name="web", exact=True).click()
    for instance in ("front", "back"):
        expect(
            page.get_by_role("row", name=f"Select {instance} {instance} dev 1.0 SUCCEEDED")
        ).to_be_visible()
    expect(page.get_by_text("This service has no pipeline that Baryon provisions.")).to_be_visible()
    screenshot(page, "service")
    page.get_by_role("link", name="front").click()
    expect(page.get_by_role("heading", name="front instance of web")).to_be_visible()
    expect(page.get_by_text("port: 8080")).to_be_visible()
    screenshot(page, "instance")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{url}/console/sign-in")
    assert [c for c in page.context.cookies() if c["name"] == "baryon_console"] == []
    page.goto(f"{url}/console/environments/dev")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=%2Fconsole%2Fenvironments%2Fdev$"))


def test_what_is_refused(page: Page, console_server: ConsoleServer) -> None:
    url = console_server.url
    # A wrong secret: one clear message, 401, no session.
    page.goto(f"{url}/console/sign-in")
    page.get_by_label("Access key ID").fill(console_server.alice.access_key_id)
    page.get_by_label("Secret access key").fill("not-the-secret")
    with page.expect_response(lambda r: r.url.endswith("/console/sign-in")) as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
    expect(page.get_by_role("alert")).to_have_text("The access key ID or secret access key is not valid.")
    expect(page.get_by_role("navigation")).to_have_count(0)
    assert page.context.cookies() == []
    screenshot(page, "sign-in-refused")

    sign_in(page, url, console_server.alice, "/console/environments")
    (cookie,) = page.context.cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
        "baryon_console",
        True,
        "Strict",
        "/console",
    )
    assert cookie["expires"] > 0

    # Account B's environment, by URL: not found, and nothing of it shown.
    response = page.goto(f"{url}/console/environments/b-secret")
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("ResourceNotFoundException")
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"
    screenshot(page, "not-found")
    missing = page.goto(f"{url}/console/no-such-page")
    assert missing is not None and missing.status == 404
    expect(page.get_by_role("alert")).to_have_text("NotFound: This page does not exist.")
    expect(page.get_by_role("navigation")).to_be_visible()

    # A form without its CSRF token: 403, and nothing changes.
    page.goto(f"{url}/console/")
    region = page.get_by_label("Region")
    expect(region).to_have_value("us-east-1")
    page.locator("form[action='/console/region'] input[name=csrf_token]").evaluate("e => e.remove()")
    region.select_option("eu-west-1")
    with page.expect_response(lambda r: r.url.endswith("/console/region")) as refused:
        page.get_by_role("button", name="Change region").click()
    assert refused.value.status == 403
    expect(page.get_by_role("alert")).to_contain_text("The form has expired")
    page.goto(f"{url}/console/")
    expect(page.get_by_label("Region")).to_have_value("us-east-1")
    # With its token the same form works: another region shows that region's (empty) fleet.
    page.get_by_label("Region").select_option("eu-west-1")
    page.get_by_role("button", name="Change region").click()
    expect(page.get_by_label("Region")).to_have_value("eu-west-1")
    page.goto(f"{url}/console/environments")
    expect(page.get_by_text("No environments in this region.")).to_be_visible()

    # A cross-site POST is refused before anything else.
    request = urllib.request.Request(
        f"{url}/console/sign-in",
        data=f"access_key_id={console_server.alice.access_key_id}&secret_access_key=x".encode(),
        headers={"Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 403
    # Any other client's GET / keeps the API's answer.
    with pytest.raises(urllib.error.HTTPError) as api:
        urllib.request.urlopen(f"{url}/", timeout=10)
    assert api.value.code == 404 and b"UnknownOperationException" in api.value.read()


def test_sessions_end_and_logs_follow(page: Page, console_server: ConsoleServer) -> None:
    url = console_server.url
    credential = console_server.credential()
    sign_in(page, url, credential)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    result = run(["credentials", "revoke", credential.access_key_id], console_server.env)
    assert result.returncode == 0, result.stderr
    page.goto(f"{url}/console/services")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=%2Fconsole%2Fservices$"))

    # A command-runner deployment's log, followed live while it runs.
    proton = console_server.proton(console_server.alice)
    create_environment(proton, "slow", template="slow-env")
    deployment = wait_for(
        lambda: proton.get_environment(name="slow")["environment"].get("lastAttemptedDeploymentId"),
        timeout=30,
    )
    sign_in(page, url, console_server.alice, f"/console/deployments/{deployment}")
    expect(page.locator("#log-state")).to_have_text("Following the log while the deployment runs…")
    expect(page.get_by_role("button", name="Cancel deployment")).to_have_count(1)
    expect(page.locator("#log")).to_contain_text("started", timeout=30_000)
    expect(page.locator("#log")).to_contain_text("finished", timeout=60_000)
    expect(page.locator("#log-state")).to_have_text("The deployment ended: SUCCEEDED.", timeout=30_000)
    expect(page.get_by_role("button", name="Cancel deployment")).to_have_count(0)
    expect(page.locator("#deployment-status")).to_have_text("SUCCEEDED")
    # The facts a settled deployment has (its completion time) replace those the page opened with.
    expect(page.locator("#deployment-completed")).to_have_text(
        re.compile(r"^\d{4}-\d{2}-\d{2}"), timeout=10_000
    )
    expect(page.get_by_role("button", name="Cancel deployment")).to_have_count(0)
    screenshot(page, "deployment-log")
