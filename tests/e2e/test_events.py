"""Events end to end: a real `baryon server` and `baryon worker`, a webhook target made with `baryon
webhooks create`, a receiver on 127.0.0.1. A deployment's events reach the receiver, signed; a worker
killed with SIGKILL loses none of them (the next worker delivers them)."""

from __future__ import annotations

import hashlib
import hmac
import signal
from typing import Any

import pytest

from tests.conftest import ACCOUNT
from tests.e2e.conftest import Deployment
from tests.support import bundles
from tests.support.clients import http_client
from tests.support.processes import Process, run
from tests.support.publishing import publish_environment_template
from tests.support.receiver import receiver
from tests.support.waiters import FAST
from tests.support.waiting import poll

pytestmark = pytest.mark.e2e
SECRET = "an-end-to-end-webhook-secret"
ENV_ARN = f"arn:aws:proton:us-east-1:{ACCOUNT}:environment/legacy"


def test_a_deployment_delivers_its_events_and_a_killed_worker_loses_none(
    deployment: Deployment, s3: Any
) -> None:
    env = {**deployment.env, "HOOK_SECRET": SECRET}
    with receiver() as hook:
        created = run(
            ["webhooks", "create", "--account-id", ACCOUNT, "--url", hook.url, "--secret-env", "HOOK_SECRET"],
            env,
        )
        assert created.returncode == 0, created.stderr
        proton = http_client(deployment.endpoint, deployment.credential)
        publish_environment_template(
            proton, s3, "imported", bundles.customer_managed_bundle(), provisioning="CUSTOMER_MANAGED"
        )
        # Kill the worker (SIGKILL: nothing is settled or given back) with the environment's deployment and
        # events written but not yet worked on; another worker takes over.
        worker = deployment.processes[1]
        worker.stop(signal.SIGKILL)
        proton.create_environment(
            name="legacy",
            templateName="imported",
            templateMajorVersion="1",
            spec="proton: EnvironmentSpec\nspec:\n  vpc_id: vpc-123\n",
        )
        deployment.processes.append(
            Process(["worker", "--concurrency", "2"], deployment.env, deployment.tmp / "worker-2.log")
        )
        proton.get_waiter("environment_deployed").wait(name="legacy", WaiterConfig=FAST)

        def environment_events() -> list[dict[str, Any]]:
            return [e for e in hook.events() if e["resources"] == [ENV_ARN]]

        poll(lambda: len({e["id"] for e in environment_events()}) >= 2, timeout=120, what="both events")
        for got in hook.received:
            expected = "sha256=" + hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
            assert got.headers["x-baryon-signature"] == expected
            assert got.headers["x-baryon-event-id"] == got.event["id"]
    # At least once: a receiver dedupes on the event id.
    unique = {e["id"]: e for e in environment_events()}
    changes = sorted(
        ((e["detail"].get("previousStatus"), e["detail"]["status"]) for e in unique.values()),
        key=lambda change: change[1] != "IN_PROGRESS",
    )
    assert changes == [(None, "IN_PROGRESS"), ("IN_PROGRESS", "SUCCEEDED")]
    deployment_ids = {e["detail"]["deploymentId"] for e in unique.values()}
    assert deployment_ids == {
        proton.get_environment(name="legacy")["environment"]["lastAttemptedDeploymentId"]
    }
    versions = {
        e["detail"]["status"]
        for e in hook.events()
        if e["detail-type"] == "AWS Proton Environment Template Version Status Change"
    }
    assert versions == {"REGISTRATION_IN_PROGRESS", "DRAFT", "PUBLISHED"}
    shown = run(["webhooks", "deliveries", "--output", "json"], env)
    assert shown.returncode == 0, shown.stderr
    assert '"status": "pending"' not in shown.stdout and '"status": "failed"' not in shown.stdout
