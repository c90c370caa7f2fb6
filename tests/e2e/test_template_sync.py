"""Template sync end to end: real `baryon server` and `baryon worker` processes follow a git repository
served from a local path, by polling and by a signed push webhook, across a worker restart."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from baryon.store import sync_jobs
from baryon.store.schema import jobs
from tests.conftest import ACCOUNT, SECRET_KEY, free_port
from tests.support.clients import http_client
from tests.support.git_repos import bare
from tests.support.processes import Process, baryon_env, create_credential, run, wait_for_port
from tests.support.template_sync import REPOSITORY, env_files, push, service_files, versions
from tests.support.waiting import poll

pytestmark = pytest.mark.e2e
SECRET = "end-to-end-webhook-secret"


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


def _versions_reach(proton: Any, kind: str, name: str, expected: list[tuple[str, str, str]]) -> None:
    poll(
        lambda: versions(proton, kind, name),
        lambda found: found == expected,
        timeout=60,
        interval=0.2,
        what=f"versions {expected} of {name}",
    )


def test_push_polling_and_webhook(
    database_url: str, tmp_path: Path, processes: list[Process], moto_endpoint: str
) -> None:
    repo = bare(tmp_path / "git", REPOSITORY)
    env = baryon_env(
        tmp_path / "data", database_url, SECRET_KEY, {"HOOK": SECRET, "BARYON_SYNC_POLL_SECONDS": "1"}
    )
    credential = create_credential(env, ACCOUNT)
    created = run(
        [
            "connections", "create", "--account-id", ACCOUNT, "--region", "us-east-1", "--name", "local",
            "--provider", "GITHUB", "--url-template", f"file://{tmp_path / 'git'}/{{repository}}.git",
            "--mode", "direct", "--webhook-secret-env", "HOOK",
        ],
        env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    connection_arn = created.stdout.strip()
    port = free_port()
    processes.append(
        Process(["server", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "server.log")
    )
    wait_for_port(port, process=processes[-1].popen)
    worker = Process(["worker", "--concurrency", "2"], env, tmp_path / "worker.log")
    processes.append(worker)
    endpoint = f"http://127.0.0.1:{port}"
    proton = http_client(endpoint, credential)

    proton.create_repository(name=REPOSITORY, provider="GITHUB", connectionArn=connection_arn)
    proton.create_environment_template(name="env")
    proton.create_service_template(name="svc")
    for name, kind in (("env", "ENVIRONMENT"), ("svc", "SERVICE")):
        proton.create_template_sync_config(
            templateName=name,
            templateType=kind,
            repositoryName=REPOSITORY,
            repositoryProvider="GITHUB",
            branch="main",
        )

    # Polling: an environment template and a service template compatible with it, in one commit.
    head = push(repo, {**env_files("env/v1"), **service_files("svc/v1", ["env:1"])}, "templates")
    _versions_reach(proton, "ENVIRONMENT", "env", [("1", "0", "DRAFT")])
    _versions_reach(proton, "SERVICE", "svc", [("1", "0", "DRAFT")])
    status = proton.get_template_sync_status(templateName="svc", templateType="SERVICE", templateVersion="1")
    assert status["latestSync"]["status"] == "SUCCEEDED"
    assert status["desiredState"]["sha"] == head
    events = proton.get_repository_sync_status(
        repositoryName=REPOSITORY, repositoryProvider="GITHUB", branch="main", syncType="TEMPLATE_SYNC"
    )["latestSync"]["events"]
    assert {"type": "STARTING_SYNC", "externalId": head} in [
        {"type": e["type"], "externalId": e.get("externalId")} for e in events
    ]

    # A worker restarted with an hour between polls: nothing is synced twice, and a push is seen at once
    # through the webhook.
    worker.stop()
    env_slow = {**env, "BARYON_SYNC_POLL_SECONDS": "3600"}
    processes.append(Process(["worker", "--concurrency", "2"], env_slow, tmp_path / "worker-2.log"))
    engine = sa.create_engine(database_url)
    job_id = sync_jobs.poll_job_id(ACCOUNT, "us-east-1", "GITHUB", REPOSITORY, "main")

    def next_look() -> float:
        with engine.connect() as db:
            return float(db.execute(sa.select(jobs.c.run_at).where(jobs.c.id == job_id)).scalar_one())

    poll(next_look, lambda at: at > time.time() + 1000, timeout=60, what="the slow worker's first look")
    engine.dispose()
    changed = push(repo, env_files("env/v1", cidr="10.7.0.0/16"), "wider")
    body = json.dumps(
        {"ref": "refs/heads/main", "after": changed, "repository": {"full_name": REPOSITORY}}
    ).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"{endpoint}/webhooks/git/{connection_arn.rsplit('/', 1)[1]}",
        data=body,
        method="POST",
        headers={
            "X-GitHub-Event": "push",
            "X-Hub-Signature-256": signature,
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
    _versions_reach(proton, "ENVIRONMENT", "env", [("1", "0", "DRAFT"), ("1", "1", "DRAFT")])
    assert versions(proton, "SERVICE", "svc") == [("1", "0", "DRAFT")]
