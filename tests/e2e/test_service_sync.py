"""Service sync end to end: real `baryon server` and `baryon worker` processes follow git repositories
served from a local path (a `file://` connection made with `baryon connections create`) and deploy
through CloudFormation in the local cloud (the moto server of the tests).

Templates pushed to git become versions, which are published; an environment and a service are created;
the service's sync config points at an ops file; pushing it and its spec file creates the missing
instance, a changed block redeploys its instance with the new inputs, a change made by hand opens a sync
blocker that stops the next commit for that instance, and once the blocker is resolved the next commit
lands. Run once with the worker polling every second, and once with an hourly poll where every push is
announced by a signed push webhook.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baryon.engine.provisioners.stack_names import stack_name
from tests.conftest import ACCOUNT, SECRET_KEY
from tests.e2e.conftest import Deployment
from tests.e2e.test_terraform_automation import AwsCli
from tests.support.clients import as_role, http_client
from tests.support.databases import sqlite_only
from tests.support.processes import Process, baryon_env, create_credential, run
from tests.support.sync_stage import (
    OPS,
    OPS_FILE,
    REGION,
    SPEC_FILE,
    Stage,
    ops_file,
    service_spec,
)

pytestmark = pytest.mark.e2e
SECRET = "end-to-end-webhook-secret"


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


def _start(
    database_url: str,
    tmp_path: Path,
    moto_endpoint: str,
    processes: list[Process],
    *,
    poll_seconds: int,
    webhook: bool,
) -> tuple[Stage, AwsCli]:
    """A connection, a server and a worker polling every `poll_seconds`; the stage of the service."""
    env = baryon_env(
        tmp_path / "data",
        database_url,
        SECRET_KEY,
        {
            "HOOK": SECRET,
            "BARYON_SYNC_POLL_SECONDS": str(poll_seconds),
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    )
    credential = create_credential(env, ACCOUNT)
    git_root = tmp_path / "git"
    created = run(
        [
            "connections", "create", "--account-id", ACCOUNT, "--region", REGION, "--name", "local",
            "--provider", "GITHUB", "--url-template", f"file://{git_root}/{{repository}}.git",
            "--mode", "direct", "--webhook-secret-env", "HOOK",
        ],
        env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    deployment = Deployment("", 0, env, credential, tmp_path, processes)
    _, port = deployment.start_server()
    deployment.port = port
    deployment.endpoint = f"http://127.0.0.1:{port}"
    processes.append(Process(["worker", "--concurrency", "2"], env, tmp_path / "worker.log"))
    proton = http_client(deployment.endpoint, credential)
    stage = Stage(
        proton, deployment.endpoint, created.stdout.strip(), git_root, secret=SECRET if webhook else None
    )
    return stage, AwsCli(deployment, tmp_path)


def _stack(cloudformation: Any, *names: str) -> tuple[str, str]:
    """(status, template body) of the stack of a service instance (names: service, instance) or of an
    environment (names: environment)."""
    kind = "service-instance" if len(names) == 2 else "environment"
    name = stack_name(kind, *names, account_id=ACCOUNT, region=REGION)
    [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
    body = cloudformation.get_template(StackName=name)["TemplateBody"]
    return str(stack["StackStatus"]), body if isinstance(body, str) else str(body)


def _service_sync_walkthrough(stage: Stage, aws: AwsCli, moto_endpoint: str) -> None:
    proton = stage.proton
    # A local-cloud account of this test's own: the stacks counted below are this test's.
    role = f"arn:aws:iam::{random.SystemRandom().randrange(10**11, 10**12)}:role/proton-service"
    cloudformation = as_role("cloudformation", moto_endpoint, REGION, role, "e2e-service-sync")
    stage.link()

    # Templates from git, published.
    stage.templates_synced()
    aws(
        "update-environment-template-version", "--template-name", "env", "--major-version", "1",
        "--minor-version", "0", "--status", "PUBLISHED",
    )  # fmt: skip
    proton.update_service_template_version(
        templateName="svc", majorVersion="1", minorVersion="0", status="PUBLISHED"
    )
    assert proton.get_service_template(name="svc")["serviceTemplate"]["recommendedVersion"] == "1.0"

    # An environment and a service with one instance, deployed by hand.
    stage.environment(role)
    stage.service("api", {"front": 8080})
    front_first = stage.instance("front")["lastSucceededDeploymentId"]

    # The service syncs from the ops file in org/ops.
    config = aws(
        "create-service-sync-config", "--service-name", "api", "--repository-name", OPS,
        "--repository-provider", "GITHUB", "--branch", "main", "--file-path", OPS_FILE,
    )  # fmt: skip
    assert config["serviceSyncConfig"] == {
        "serviceName": "api",
        "repositoryName": OPS,
        "repositoryProvider": "GITHUB",
        "branch": "main",
        "filePath": OPS_FILE,
    }
    first = stage.push(
        OPS,
        {OPS_FILE: ops_file("api", ["front", "back"]), SPEC_FILE: service_spec({"front": 8080, "back": 81})},
        "sync front and back",
    )
    status = stage.synced("back", first)
    revision = {
        "repositoryName": OPS,
        "repositoryProvider": "GITHUB",
        "branch": "main",
        "directory": SPEC_FILE,
        "sha": first,
    }
    assert status["desiredState"] == revision
    assert status["latestSync"]["targetRevision"] == revision
    assert [e["type"] for e in status["latestSync"]["events"]] == [
        "STARTING_SYNC",
        "DEPLOYMENT_STARTED",
        "DEPLOYMENT_SUCCEEDED",
    ]
    back = stage.instance("back")
    assert back["deploymentStatus"] == "SUCCEEDED" and back["environmentName"] == "dev"
    assert "port: 81" in back["spec"]
    assert stage.instance("front")["lastAttemptedDeploymentId"] == front_first, "front runs its block already"
    assert _stack(cloudformation, "dev")[0] == "CREATE_COMPLETE"
    for name, port in (("front", 8080), ("back", 81)):
        stack_status, body = _stack(cloudformation, "api", name)
        assert stack_status == "CREATE_COMPLETE" and f"api-{name}-{port}" in body

    # A changed block redeploys its instance with the new inputs; the other is left alone.
    changed = stage.push(OPS, {SPEC_FILE: service_spec({"front": 9090, "back": 81})}, "front on 9090")
    stage.synced("front", changed)
    front = stage.deployed_after("front", front_first)
    assert "port: 9090" in front["spec"]
    assert stage.instance("back")["lastAttemptedDeploymentId"] == back["lastAttemptedDeploymentId"]
    stack_status, body = _stack(cloudformation, "api", "front")
    assert stack_status == "UPDATE_COMPLETE" and "api-front-9090" in body

    # A change by hand opens a blocker on that instance.
    aws(
        "update-service-instance", "--service-name", "api", "--name", "front",
        "--deployment-type", "CURRENT_VERSION", "--spec", "port: 8085\n",
    )  # fmt: skip
    manual = stage.deployed_after("front", front["lastSucceededDeploymentId"])
    summary = aws(
        "get-service-sync-blocker-summary", "--service-name", "api", "--service-instance-name", "front"
    )["serviceSyncBlockerSummary"]
    [blocker] = summary["latestBlockers"]
    assert (blocker["type"], blocker["status"]) == ("AUTOMATED", "ACTIVE")
    assert {c["key"]: c["value"] for c in blocker["contexts"]}["Operation"] == "UpdateServiceInstance"
    assert (
        aws("get-service-sync-blocker-summary", "--service-name", "api")["serviceSyncBlockerSummary"][
            "latestBlockers"
        ]
        == []
    ), "the blocker is the instance's, not the service's"

    # The next commit for that instance is not applied, and the sync status says why.
    blocked = stage.push(OPS, {SPEC_FILE: service_spec({"front": 9100, "back": 81})}, "front on 9100")
    stage.synced("front", blocked, "FAILED")
    latest = aws(
        "get-service-instance-sync-status", "--service-name", "api", "--service-instance-name", "front"
    )["latestSync"]
    assert latest["events"][-1]["type"] == "BLOCKED"
    assert latest["events"][-1]["externalId"] == blocker["id"]
    assert f"blocked by sync blocker {blocker['id']}" in latest["events"][-1]["event"]
    front = stage.instance("front")
    assert front["lastAttemptedDeploymentId"] == manual["lastAttemptedDeploymentId"]
    assert "port: 8085" in front["spec"]
    assert "api-front-8085" in _stack(cloudformation, "api", "front")[1]

    # Resolved, the next commit lands.
    resolved = aws("update-service-sync-blocker", "--id", blocker["id"], "--resolved-reason", "git wins")
    assert resolved["serviceSyncBlocker"]["status"] == "RESOLVED"
    assert resolved["serviceSyncBlocker"]["resolvedReason"] == "git wins"
    summary = proton.get_service_sync_blocker_summary(serviceName="api", serviceInstanceName="front")
    [shown] = summary["serviceSyncBlockerSummary"]["latestBlockers"]
    assert (shown["id"], shown["status"], shown["resolvedReason"]) == (blocker["id"], "RESOLVED", "git wins")
    landed = stage.push(OPS, {SPEC_FILE: service_spec({"front": 9200, "back": 81})}, "front on 9200")
    stage.synced("front", landed)
    front = stage.deployed_after("front", manual["lastSucceededDeploymentId"])
    assert "port: 9200" in front["spec"]
    stack_status, body = _stack(cloudformation, "api", "front")
    assert stack_status == "UPDATE_COMPLETE" and "api-front-9200" in body
    assert stage.instance("back")["lastAttemptedDeploymentId"] == back["lastAttemptedDeploymentId"]
    events = proton.get_repository_sync_status(
        repositoryName=OPS, repositoryProvider="GITHUB", branch="main", syncType="SERVICE_SYNC"
    )["latestSync"]["events"]
    assert {"type": "STARTING_SYNC", "externalId": landed} in [
        {"type": e["type"], "externalId": e.get("externalId")} for e in events
    ]


def test_service_sync_with_polling(
    database_url: str, tmp_path: Path, processes: list[Process], moto_endpoint: str
) -> None:
    stage, aws = _start(database_url, tmp_path, moto_endpoint, processes, poll_seconds=1, webhook=False)
    _service_sync_walkthrough(stage, aws, moto_endpoint)


@sqlite_only
def test_service_sync_with_the_push_webhook(
    database_url: str, tmp_path: Path, processes: list[Process], moto_endpoint: str
) -> None:
    """An hour between polls: every push is seen through its webhook, so nothing waits for a poll; a
    commit that has to wait for a deployment in flight comes back by itself; a push to a spec file's own
    branch is followed as well."""
    stage, aws = _start(database_url, tmp_path, moto_endpoint, processes, poll_seconds=3600, webhook=True)
    _service_sync_walkthrough(stage, aws, moto_endpoint)

    # Two new instances in one commit: the second waits until the first has deployed (as
    # CreateServiceInstance would refuse it), then the sync applies the commit again without a push.
    both = stage.push(
        OPS,
        {
            OPS_FILE: ops_file("api", ["front", "back", "x1", "x2"]),
            SPEC_FILE: service_spec({"front": 9200, "back": 81, "x1": 1, "x2": 2}),
        },
        "x1 and x2",
    )
    stage.synced("x1", both)
    status = stage.synced("x2", both)
    assert stage.instance("x2")["deploymentStatus"] == "SUCCEEDED"
    assert [e["type"] for e in status["latestSync"]["events"]] == [
        "STARTING_SYNC",
        "DEPLOYMENT_STARTED",
        "DEPLOYMENT_SUCCEEDED",
    ]

    # A spec file on another branch: that branch is followed too, and a push to it redeploys its instance.
    before = stage.instance("x2")["lastSucceededDeploymentId"]
    canary = stage.push(OPS, {SPEC_FILE: service_spec({"x2": 21})}, "x2 on 21", branch="canary")
    stage.push(
        OPS,
        {OPS_FILE: ops_file("api", ["front", "back", "x1", "x2"], {"x2": "canary"})},
        "x2 follows canary",
    )
    status = stage.synced("x2", canary)
    assert status["latestSync"]["targetRevision"]["branch"] == "canary"
    x2 = stage.deployed_after("x2", before)
    assert "port: 21" in x2["spec"]
    on_canary = stage.push(OPS, {SPEC_FILE: service_spec({"x2": 22})}, "x2 on 22", branch="canary")
    stage.synced("x2", on_canary)
    assert "port: 22" in stage.deployed_after("x2", x2["lastSucceededDeploymentId"])["spec"]
