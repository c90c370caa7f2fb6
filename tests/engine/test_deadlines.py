"""No deployment waits forever: a CloudFormation stack stuck in CREATE_IN_PROGRESS (the local cloud leaves
one behind a CreateStack that fails on an invalid CIDR), cancels in every in-flight state, deadlines, and
an endpoint that answers with an HTML error page — through real boto3 clients, the real moto server and
the real worker, driven step by step on a clock the test moves (no sleeping)."""

from __future__ import annotations

import http.server
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from botocore.exceptions import ClientError

from baryon.config import Settings
from baryon.engine import aws
from baryon.engine.provisioners import targets
from baryon.engine.provisioners.base import duration
from baryon.engine.provisioners.stack_names import stack_name
from baryon.runtime import Runtime
from baryon.store import deployments as deployment_store
from tests.conftest import ACCOUNT
from tests.support import bundles
from tests.support.clients import as_role
from tests.support.stepping import Engine

T = TypeVar("T")
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/proton-service"
SCHEMA = bundles.environment_schema()
BAD_SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.0.0.0/33\n"
GOOD_SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.0.0.0/16\n"
STACK = stack_name("environment", "dev", account_id=ACCOUNT, region=REGION)
DEADLINE = 60.0


@pytest.fixture
def engine(runtime: Runtime, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    runtime.settings.deadlines["cloudformation"] = DEADLINE
    # The stuck stacks here come from a template the local cloud refuses (a /33 CIDR block) after it began
    # the stack; cfn-lint would refuse that template before it is sent.
    runtime.settings.cfn_lint = "off"
    # clients cached before this test may point elsewhere
    monkeypatch.setattr(aws, "_local", threading.local())
    monkeypatch.setattr(targets, "_local", threading.local())
    return Engine(runtime)


@pytest.fixture
def admin(moto_endpoint: str) -> Any:
    """CloudFormation in the environment's account (the role's, as the provisioner assumes it)."""
    return as_role("cloudformation", moto_endpoint, REGION, ROLE, "test")


@pytest.fixture(autouse=True)
def no_stack_yet(admin: Any) -> None:
    """The moto server outlives a test: start without the stack an earlier test left."""
    admin.delete_stack(StackName=STACK)


def _error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def _status(proton: Any) -> Any:
    return proton.get_environment(name="dev")["environment"]


def _settled(proton: Any) -> Callable[[], Any]:
    def probe() -> Any:
        env = _status(proton)
        return (
            env
            if env["deploymentStatus"] not in ("IN_PROGRESS", "DELETE_IN_PROGRESS", "CANCELLING")
            else None
        )

    return probe


def _gone(proton: Any) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            proton.get_environment(name="dev")
        except ClientError as error:
            return error.response["Error"]["Code"] == "ResourceNotFoundException"
        return False

    return probe


def _live_stack(admin: Any) -> str | None:
    for page in admin.get_paginator("list_stacks").paginate():
        for summary in page["StackSummaries"]:
            if summary["StackName"] == STACK and summary["StackStatus"] != "DELETE_COMPLETE":
                return str(summary["StackStatus"])
    return None


#: The template without its output: the local cloud can then describe the stack it leaves behind.
VPC_ONLY = bundles.CFN_ENV[: bundles.CFN_ENV.index("Outputs:")]


def _stuck_environment(proton: Any, s3: Any, engine: Engine, *, outputs: bool = False) -> Any:
    """An environment whose CreateStack failed and left its stack CREATE_IN_PROGRESS for good. With the
    sample template's output (`outputs`), the local cloud cannot even describe that stack any more: it
    answers DescribeStacks with an HTML error page."""
    proton.create_environment_template(name="vpc-env")
    key = f"{uuid.uuid4().hex}.tar.gz"
    files = {
        "schema/schema.yaml": SCHEMA,
        "infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
        "infrastructure/cloudformation.yaml": bundles.CFN_ENV if outputs else VPC_ONLY,
    }
    s3.put_object(Bucket="bundles", Key=key, Body=bundles.tar_gz(files, "environment/"))
    proton.create_environment_template_version(
        templateName="vpc-env", source={"s3": {"bucket": "bundles", "key": key}}
    )
    engine.run_due()
    proton.update_environment_template_version(
        templateName="vpc-env", majorVersion="1", minorVersion="0", status="PUBLISHED"
    )
    proton.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=BAD_SPEC, protonServiceRoleArn=ROLE
    )
    return engine.until(_settled(proton))


def _update(proton: Any, spec: str = GOOD_SPEC) -> Any:
    return proton.update_environment(name="dev", deploymentType="CURRENT_VERSION", spec=spec)["environment"]


def test_a_stack_left_creating_fails_a_corrective_update_at_the_deadline_and_is_deleted(
    proton: Any, s3: Any, engine: Engine, admin: Any
) -> None:
    failed = _stuck_environment(proton, s3, engine)
    assert failed["deploymentStatus"] == "FAILED"
    assert failed["deploymentStatusMessage"] == (
        f"CreateStack {STACK} failed: InvalidParameterValue: Value (10.0.0.0/33) for parameter cidrBlock is "
        "invalid. This is not a valid CIDR block."
    )
    assert _live_stack(admin) == "CREATE_IN_PROGRESS"

    # A corrective update waits for the stack, and gives up at the deadline saying what it waited for.
    assert _update(proton)["deploymentStatus"] == "IN_PROGRESS"
    updated = engine.until(_settled(proton))
    assert updated["deploymentStatus"] == "FAILED"
    assert updated["deploymentStatusMessage"] == (
        f"CloudFormation stack {STACK} stayed CREATE_IN_PROGRESS for 65 s, past the deadline of 60 s "
        "(BARYON_DEADLINE_CLOUDFORMATION_SECONDS)."
    )
    deployment = proton.get_deployment(id=updated["lastAttemptedDeploymentId"])["deployment"]
    assert deployment["deploymentStatus"] == "FAILED"
    assert deployment["deploymentStatusMessage"] == updated["deploymentStatusMessage"]

    # The environment can still be deleted: DeleteStack stops the creation that never ends.
    assert proton.delete_environment(name="dev")["environment"]["deploymentStatus"] == "DELETE_IN_PROGRESS"
    assert engine.until(_gone(proton))
    assert _live_stack(admin) is None


def test_cancel_while_waiting_for_a_busy_stack_ends_cancelled_even_when_the_stack_disappears(
    proton: Any, s3: Any, engine: Engine, admin: Any
) -> None:
    _stuck_environment(proton, s3, engine)
    _update(proton)
    engine.run_due()  # the deployment waits for the stack being created
    assert _status(proton)["deploymentStatus"] == "IN_PROGRESS"

    cancelled = proton.cancel_environment_deployment(environmentName="dev")["environment"]
    assert cancelled["deploymentStatus"] == "CANCELLING"
    admin.delete_stack(StackName=STACK)  # the stack it waited on disappears before its next step
    env = engine.until(_settled(proton))
    assert (env["deploymentStatus"], env["deploymentStatusMessage"]) == (
        "CANCELLED",
        "User initiated cancellation.",
    )
    assert _live_stack(admin) is None  # no CreateStack after the cancel

    # and the environment deploys again afterwards
    _update(proton)
    assert engine.until(_settled(proton))["deploymentStatus"] == "SUCCEEDED"
    assert _live_stack(admin) == "CREATE_COMPLETE"


def test_cancel_a_deletion_then_delete_again(proton: Any, s3: Any, engine: Engine, admin: Any) -> None:
    _stuck_environment(proton, s3, engine)
    assert proton.delete_environment(name="dev")["environment"]["deploymentStatus"] == "DELETE_IN_PROGRESS"

    cancelled = proton.cancel_environment_deployment(environmentName="dev")["environment"]
    assert cancelled["deploymentStatus"] == "CANCELLING"
    assert _error(proton.delete_environment, name="dev") == (
        "ConflictException",
        "Environment dev has a deployment in progress (CANCELLING); wait for it to finish or cancel it.",
    )
    env = engine.until(_settled(proton))
    assert (env["deploymentStatus"], env["deploymentStatusMessage"]) == (
        "CANCELLED",
        "User initiated cancellation.",
    )
    deployment = proton.get_deployment(id=env["lastAttemptedDeploymentId"])["deployment"]
    assert deployment["deploymentStatus"] == "CANCELLED"
    assert _live_stack(admin) == "CREATE_IN_PROGRESS"  # nothing was done to it
    assert _error(proton.cancel_environment_deployment, environmentName="dev") == (
        "ConflictException",
        "Environment dev has no deployment in progress to cancel (CANCELLED).",
    )

    proton.delete_environment(name="dev")
    assert engine.until(_gone(proton))
    assert _live_stack(admin) is None


def test_a_stack_the_local_cloud_cannot_describe_fails_updates_and_is_deleted(
    proton: Any, s3: Any, engine: Engine, admin: Any, moto_endpoint: str
) -> None:
    failed = _stuck_environment(proton, s3, engine, outputs=True)
    assert failed["deploymentStatus"] == "FAILED"
    assert _live_stack(admin) == "CREATE_IN_PROGRESS"

    # A corrective update ends at once: the stack cannot be read.
    _update(proton)
    updated = engine.until(_settled(proton))
    assert updated["deploymentStatus"] == "FAILED"
    assert updated["deploymentStatusMessage"].startswith(
        f"DescribeStacks {STACK} failed: the endpoint {moto_endpoint} answered with something that is not an "
        "AWS reply: Unable to parse response"
    )

    # A cancel before the deployment's first step ends it CANCELLED without touching the stack.
    _update(proton)
    assert proton.cancel_environment_deployment(environmentName="dev")["environment"]["deploymentStatus"] == (
        "CANCELLING"
    )
    env = engine.until(_settled(proton))
    assert (env["deploymentStatus"], env["deploymentStatusMessage"]) == (
        "CANCELLED",
        "User initiated cancellation.",
    )

    # The deletion asks CloudFormation to delete the stack it cannot describe.
    proton.delete_environment(name="dev")
    assert engine.until(_gone(proton))
    assert _live_stack(admin) is None


def test_cancel_during_our_creation_deletes_the_stack(
    proton: Any, s3: Any, engine: Engine, admin: Any, runtime: Runtime
) -> None:
    """CloudFormation has no cancel for a creation: the cancel deletes the stack being created. (The local
    cloud creates stacks at once, so the deployment is given the progress its first step leaves while our
    CreateStack runs: the stuck stack as the one it created.)"""
    _stuck_environment(proton, s3, engine)
    deployment_id = _update(proton)["lastAttemptedDeploymentId"]
    stack_id = admin.describe_stacks(StackName=STACK)["Stacks"][0]["StackId"]
    with runtime.database.write() as connection:
        progress = {"method": "jinja", "stack_id": stack_id, "action": "CREATE"}
        deployment_store.save_progress(connection, deployment_id, progress, runtime.clock.now())
    proton.cancel_environment_deployment(environmentName="dev")

    env = engine.until(_settled(proton))
    assert (env["deploymentStatus"], env["deploymentStatusMessage"]) == (
        "CANCELLED",
        "User initiated cancellation.",
    )
    assert _live_stack(admin) is None
    assert admin.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


# --- an endpoint that does not speak the protocol -----------------------------------------------------


class _BadGateway(http.server.BaseHTTPRequestHandler):
    PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
    requests = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).requests += 1
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.PAGE)))
        self.end_headers()
        self.wfile.write(self.PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def bad_gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real HTTP server that answers every request with a proxy's HTML 502 page, as CloudFormation."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BadGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint)
    _BadGateway.requests = 0
    yield endpoint
    server.shutdown()
    server.server_close()


def test_an_html_error_page_fails_the_deployment_at_once_naming_the_endpoint(
    proton: Any, s3: Any, engine: Engine, bad_gateway: str
) -> None:
    env = _stuck_environment(proton, s3, engine)  # CloudFormation is the HTML page here: no stack at all
    assert env["deploymentStatus"] == "FAILED"
    assert env["deploymentStatusMessage"] == (
        f"DescribeStacks {STACK} failed: the endpoint {bad_gateway} answered HTTP 502 (Bad Gateway) with a "
        "page that is not an AWS reply; check the endpoint and any proxy in front of it"
    )
    # botocore's own few retries, and no retries of the job on top
    assert _BadGateway.requests == 4


# --- settings ---------------------------------------------------------------------------------------------


def test_deadlines_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("BARYON_DEADLINE_CLOUDFORMATION_SECONDS", "900")
    monkeypatch.setenv("BARYON_DEADLINE_TERRAFORM_GIT_SECONDS", "0")
    settings = Settings(data_dir=tmp_path)
    assert settings.deadline("cloudformation", 7200.0) == 900.0
    assert settings.deadline("terraform_git", 3600.0) is None  # zero: no deadline
    assert settings.deadline("command_runner", 3600.0) == 3600.0  # not set: the provisioner's default
    assert settings.deadline("customer_managed", None) is None
    assert [duration(s) for s in (45, 119.9, 120, 7199, 7200, 7500)] == [
        "45 s",
        "119 s",
        "2 min",
        "119 min",
        "2 h",
        "2 h 5 min",
    ]
