"""Fixtures of the console's browser tests: one real `baryon server` and `baryon worker` per module, with
data made through real boto3 clients (two accounts), and headless Chromium (Debian's package) driven by
Playwright. Screenshots go to BARYON_TEST_ARTIFACTS, else <repo>/test-artifacts/console/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from baryon.protocol.sigv4 import Credential
from tests.conftest import ACCOUNT, OTHER_ACCOUNT, SECRET_KEY, free_port
from tests.support import publishing
from tests.support.bundles import SERVICE_SCHEMA_NO_PIPELINE, TF_ENV_SCHEMA, tar_gz
from tests.support.clients import http_client
from tests.support.databases import MigratedTemplates
from tests.support.processes import Process, baryon_env, create_credential, wait_for_port
from tests.support.waiting import wait_for

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("BARYON_TEST_ARTIFACTS") or REPO / "test-artifacts") / "console"
#: What the command runs leave as an output and the environment's description: both must show as text.
HOSTILE = "<script>window.pwned=1</script>"
ENV_SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.1.0.0/16\n  subnets: [a, b]\n"
SERVICE_SPEC = """proton: ServiceSpec
instances:
  - name: front
    environment: dev
    spec:
      port: 8080
  - name: back
    environment: dev
"""
BUSY = ("IN_PROGRESS", "CANCELLING", "DELETE_IN_PROGRESS")


def manifest(provision: list[str]) -> str:
    commands = [f"          - {orjson.dumps(command).decode()}" for command in provision]
    head = """infrastructure:
  templates:
    - rendering_engine: codebuild
      settings:
        image: aws/codebuild/standard:6.0
        env:
          variables:
            STAGE: dev
        provision:
"""
    return head + "\n".join(commands) + '\n        deprovision:\n          - "echo bye"\n'


OUTPUTS = [
    "echo provisioning $STAGE",
    "printf '%s' '{\"Banner\": \"" + HOSTILE.replace('"', '\\"') + '", "VpcId": "vpc-0abc"}\' '
    "> proton-outputs.json",
]


def env_bundle(provision: list[str]) -> bytes:
    files: dict[str, str | bytes] = {
        "schema/schema.yaml": TF_ENV_SCHEMA,
        "infrastructure/manifest.yaml": manifest(provision),
    }
    return tar_gz(files, "environment/")


def service_bundle() -> bytes:
    files: dict[str, str | bytes] = {
        "schema/schema.yaml": SERVICE_SCHEMA_NO_PIPELINE,
        "instance_infrastructure/manifest.yaml": manifest(["echo instance ready"]),
    }
    return tar_gz(files, "service/")


@dataclass
class ConsoleServer:
    url: str
    env: dict[str, str]
    alice: Credential
    bob: Credential
    processes: list[Process] = field(default_factory=list)

    def proton(self, credential: Credential) -> Any:
        return http_client(self.url, credential)

    def credential(self, account: str = ACCOUNT) -> Credential:
        return create_credential(self.env, account)


def settled(proton: Any, getter: str, **key: str) -> dict[str, Any]:
    member = {"get_environment": "environment", "get_service_instance": "serviceInstance"}[getter]

    def probe() -> dict[str, Any] | None:
        found: dict[str, Any] = getattr(proton, getter)(**key)[member]
        return found if found["deploymentStatus"] not in BUSY else None

    return wait_for(probe, timeout=120, interval=0.2, what=f"{getter} {key} to settle")


def create_environment(proton: Any, name: str, template: str = "vpc-env", **extra: Any) -> None:
    proton.create_environment(
        name=name,
        templateName=template,
        templateMajorVersion="1",
        spec=ENV_SPEC,
        codebuildRoleArn="arn:aws:iam::111111111111:role/proton-codebuild",
        **extra,
    )


@pytest.fixture(scope="module")
def console_server(
    tmp_path_factory: pytest.TempPathFactory,
    migrated_templates: MigratedTemplates,
    moto_endpoint: str,
    s3: Any,
) -> Iterator[ConsoleServer]:
    tmp = tmp_path_factory.mktemp("console")
    database = tmp / "baryon.db"
    migrated_templates.sqlite_copy(database)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = baryon_env(
        tmp / "data",
        f"sqlite:///{database}",
        SECRET_KEY,
        {
            "AWS_ENDPOINT_URL_S3": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "BARYON_ADVERTISE_URL": url,
        },
    )
    server = ConsoleServer(url, env, create_credential(env, ACCOUNT), create_credential(env, OTHER_ACCOUNT))
    server.processes.append(
        Process(["server", "--host", "127.0.0.1", "--port", str(port)], env, tmp / "s.log")
    )
    wait_for_port(port, process=server.processes[0].popen)
    server.processes.append(Process(["worker", "--concurrency", "2"], env, tmp / "worker.log"))
    try:
        _populate(server, s3)
        yield server
    finally:
        for process in server.processes:
            process.stop()


def _populate(server: ConsoleServer, s3: Any) -> None:
    alice, bob = server.proton(server.alice), server.proton(server.bob)
    for proton in (alice, bob):
        publishing.publish_environment_template(
            proton, s3, "vpc-env", env_bundle(OUTPUTS), displayName="VPC environment"
        )
    publishing.publish_environment_template(
        alice, s3, "slow-env", env_bundle(["echo started", "sleep 4", "echo finished"])
    )
    publishing.publish_service_template(alice, s3, "web-svc", service_bundle(), pipeline=False)
    create_environment(alice, "dev", description=HOSTILE)
    create_environment(bob, "b-secret")
    settled(alice, "get_environment", name="dev")
    settled(bob, "get_environment", name="b-secret")
    alice.create_service(
        name="web",
        templateName="web-svc",
        templateMajorVersion="1",
        spec=SERVICE_SPEC,
        description="The web tier",
    )
    for instance in ("front", "back"):
        wait_for(
            lambda i=instance: _instance(alice, i), timeout=60, interval=0.2, what=f"instance {instance}"
        )
        settled(alice, "get_service_instance", serviceName="web", name=instance)
    # A newer minor version of vpc-env: `dev` is now behind its template's recommended version.
    publishing.publish_environment_version(alice, s3, "vpc-env", env_bundle(OUTPUTS), majorVersion="1")


def _instance(proton: Any, name: str) -> bool:
    names = [i["name"] for i in proton.list_service_instances(serviceName="web")["serviceInstances"]]
    return name in names


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert shutil.which("chromium") or Path(CHROMIUM).exists(), (
        "The console tests need Debian's chromium (apt-get install -y chromium)."
    )
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def sign_in(page: Page, url: str, credential: Credential, target: str = "/console/") -> None:
    page.goto(f"{url}{target}")
    page.get_by_label("Access key ID").fill(credential.access_key_id)
    page.get_by_label("Secret access key").fill(credential.secret_access_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}{target}")


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
