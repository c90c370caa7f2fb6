"""The console in headless Chromium against a real server: sign-in, every page, isolation, CSRF, sessions."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import HOSTILE, ConsoleServer, create_environment, screenshot, sign_in
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


def test_sign_in_every_page_and_sign_out(page: Page, console_server: ConsoleServer) -> None:
    url = console_server.url
    page.goto(f"{url}/")  # a browser opening the server lands on the console's sign-in page
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=%2Fconsole%2F$"))
    expect(page.get_by_role("heading", name="Sign in to Baryon")).to_be_visible()
    screenshot(page, "sign-in")
    sign_in(page, url, console_server.alice)

    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    counts = page.locator("table").first
    expect(counts.get_by_role("row", name=re.compile("^Environments 1 1"))).to_be_visible()
    expect(counts.get_by_role("row", name=re.compile("^Service instances 2 2"))).to_be_visible()
    expect(page.get_by_text("Nothing failed.")).to_be_visible()
    screenshot(page, "dashboard")

    page.get_by_role("navigation").get_by_role("link", name="Templates").click()
    expect(page.get_by_role("link", name="vpc-env")).to_be_visible()
    expect(page.get_by_role("cell", name="VPC environment")).to_be_visible()
    screenshot(page, "templates")
    page.get_by_role("link", name="web-svc").click()
    expect(page.get_by_role("heading", name="web-svc service template")).to_be_visible()
    version_row = page.get_by_role("row", name=re.compile(r"^1\.0 recommended"))
    expect(version_row).to_contain_text("PUBLISHED")
    expect(version_row).to_contain_text("2:")
    expect(version_row.get_by_role("link", name="web/front")).to_be_visible()
    screenshot(page, "template")

    page.goto(f"{url}/console/environments")
    row = page.get_by_role("row", name=re.compile("^dev "))
    expect(row).to_contain_text("vpc-env")
    expect(row).to_contain_text("1.0")
    expect(row).to_contain_text("SUCCEEDED")
    expect(page.get_by_role("link", name="b-secret")).to_have_count(0)
    row.get_by_role("link", name="dev").click()
    expect(page.get_by_role("heading", name="dev environment")).to_be_visible()
    expect(page.get_by_text("vpc_cidr: 10.1.0.0/16")).to_be_visible()
    outputs = page.locator("section", has=page.get_by_role("heading", name="Outputs"))
    expect(outputs.get_by_role("row", name="VpcId vpc-0abc")).to_be_visible()
    # User-controlled text (a description, an output) shows as text and never runs.
    expect(outputs.get_by_text(HOSTILE)).to_be_visible()
    expect(page.get_by_text(HOSTILE)).to_have_count(2)
    assert page.evaluate("window.pwned") is None
    screenshot(page, "environment")

    page.locator("dl a[href^='/console/deployments/']").click()
    expect(page.get_by_role("heading", name=re.compile("^Deployment "))).to_be_visible()
    expect(page.locator("#deployment-status")).to_have_text("SUCCEEDED")
    expect(page.locator("#log")).to_contain_text("provisioning dev")
    expect(page.get_by_text('"templateName": "vpc-env"')).to_be_visible()
    screenshot(page, "deployment")

    page.get_by_role("navigation").get_by_role("link", name="Services").click()
    expect(page.get_by_role("row", name=re.compile("^web web-svc ACTIVE The web tier"))).to_be_visible()
    screenshot(page, "services")
    page.get_by_role("link", name="web", exact=True).click()
    for instance in ("front", "back"):
        expect(page.get_by_role("row", name=re.compile(f"^{instance} dev 1.0 SUCCEEDED"))).to_be_visible()
    expect(page.get_by_text("This service has no pipeline that Baryon provisions.")).to_be_visible()
    screenshot(page, "service")
    page.get_by_role("link", name="front").click()
    expect(page.get_by_role("heading", name=re.compile("^front instance of web"))).to_be_visible()
    expect(page.get_by_text("port: 8080")).to_be_visible()
    screenshot(page, "instance")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{url}/console/sign-in")
    assert [c for c in page.context.cookies() if c["name"] == "baryon_console"] == []
    page.goto(f"{url}/console/environments/dev")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=%2Fconsole%2Fenvironments%2Fdev$"))


def test_a_wrong_key_gets_one_clear_message(page: Page, console_server: ConsoleServer) -> None:
    page.goto(f"{console_server.url}/console/sign-in")
    page.get_by_label("Access key ID").fill(console_server.alice.access_key_id)
    page.get_by_label("Secret access key").fill("not-the-secret")
    with page.expect_response(lambda r: r.url.endswith("/console/sign-in")) as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
    expect(page.get_by_role("alert")).to_have_text("The access key ID or secret access key is not valid.")
    expect(page.get_by_role("navigation")).to_have_count(0)
    assert page.context.cookies() == []
    screenshot(page, "sign-in-refused")


def test_cookie_flags_isolation_and_not_found(page: Page, console_server: ConsoleServer) -> None:
    url = console_server.url
    sign_in(page, url, console_server.alice, "/console/environments")
    (cookie,) = page.context.cookies()
    assert cookie["name"] == "baryon_console"
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console"
    assert cookie["expires"] > 0
    answer = page.goto(f"{url}/console/environments/b-secret")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("alert")).to_contain_text("ResourceNotFoundException")
    expect(page.get_by_text("b-secret")).to_have_count(1)  # only in the error message
    headers = answer.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"
    screenshot(page, "not-found")


def test_a_form_without_its_csrf_token_is_refused(page: Page, console_server: ConsoleServer) -> None:
    url = console_server.url
    sign_in(page, url, console_server.alice)
    region = page.get_by_label("Region")
    expect(region).to_have_value("us-east-1")
    page.locator("form[action='/console/region'] input[name=csrf_token]").evaluate("e => e.remove()")
    region.select_option("eu-west-1")
    with page.expect_response(lambda r: r.url.endswith("/console/region")) as answer:
        page.get_by_role("button", name="Change region").click()
    assert answer.value.status == 403
    expect(page.get_by_role("alert")).to_contain_text("The form has expired")
    page.goto(f"{url}/console/")
    expect(page.get_by_label("Region")).to_have_value("us-east-1")  # nothing changed
    # With its token the same form works: another region shows that region's (empty) fleet.
    page.get_by_label("Region").select_option("eu-west-1")
    page.get_by_role("button", name="Change region").click()
    expect(page.get_by_label("Region")).to_have_value("eu-west-1")
    page.goto(f"{url}/console/environments")
    expect(page.get_by_text("No environments in this region.")).to_be_visible()


def test_a_cross_site_post_is_refused(console_server: ConsoleServer) -> None:
    request = urllib.request.Request(
        f"{console_server.url}/console/sign-in",
        data=b"access_key_id=x&secret_access_key=y",
        headers={"Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 403


def test_revoking_the_credential_ends_the_session(page: Page, console_server: ConsoleServer) -> None:
    credential = console_server.credential()
    sign_in(page, console_server.url, credential)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    from tests.support.processes import run

    result = run(["credentials", "revoke", credential.access_key_id], console_server.env)
    assert result.returncode == 0, result.stderr
    page.goto(f"{console_server.url}/console/services")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=%2Fconsole%2Fservices$"))


def test_the_log_follows_a_running_deployment(page: Page, console_server: ConsoleServer) -> None:
    proton = console_server.proton(console_server.alice)
    create_environment(proton, "slow", template="slow-env")
    environment = wait_for(
        lambda: proton.get_environment(name="slow")["environment"].get("lastAttemptedDeploymentId"),
        timeout=30,
    )
    sign_in(page, console_server.url, console_server.alice, f"/console/deployments/{environment}")
    expect(page.locator("#log-state")).to_have_text("Following the log while the deployment runs…")
    expect(page.locator("#log")).to_contain_text("started", timeout=30_000)
    expect(page.locator("#log")).to_contain_text("finished", timeout=60_000)
    expect(page.locator("#log-state")).to_have_text("The deployment ended: SUCCEEDED.", timeout=30_000)
    screenshot(page, "deployment-log")
