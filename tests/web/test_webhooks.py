"""Push webhooks over real HTTP: signatures checked over every byte, pushes make the followed branch's poll
due, and everything else is refused without effect."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from baryon.engine.worker import Worker
from baryon.runtime import Runtime
from baryon.store import connections as connection_store
from baryon.store import sync_jobs
from baryon.store.schema import jobs
from baryon.web.webhooks import MAX_WEBHOOK_BODY
from tests.conftest import ACCOUNT
from tests.support.api_server import ApiServer
from tests.support.template_sync import REGION, REPOSITORY, env_files, linked_repository, push, versions

SECRET = "a-webhook-secret-of-some-length"


@pytest.fixture
def server(runtime: Runtime) -> Iterator[ApiServer]:
    api = ApiServer(runtime).start()
    yield api
    api.stop()


def _sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _github_push(branch: str = "main", after: str = "1" * 40) -> bytes:
    return json.dumps(
        {"ref": f"refs/heads/{branch}", "after": after, "repository": {"full_name": REPOSITORY}}
    ).encode()


def _poll_job(runtime: Runtime) -> Any:
    job_id = sync_jobs.poll_job_id(ACCOUNT, REGION, "GITHUB", REPOSITORY, "main")
    with runtime.database.read() as db:
        return db.execute(sa.select(jobs.c.run_at, jobs.c.progress).where(jobs.c.id == job_id)).one()


def _followed(proton: Any, runtime: Runtime, tmp_path: Path, provider: str = "GITHUB") -> tuple[Path, str]:
    repo, arn = linked_repository(
        proton, runtime, tmp_path, env_files("env/v1"), secret=SECRET, provider=provider
    )
    proton.create_environment_template(name="env")
    proton.create_template_sync_config(
        templateName="env",
        templateType="ENVIRONMENT",
        repositoryName=REPOSITORY,
        repositoryProvider=provider,
        branch="main",
    )
    worker = Worker(runtime)
    while worker.run_once():
        pass
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT")]
    return repo, connection_store.connection_id(arn)


def _run_due(runtime: Runtime) -> None:
    worker = Worker(runtime)
    while worker.run_once():
        pass


def test_signed_github_push_syncs_and_a_replay_changes_nothing(
    proton: Any, runtime: Runtime, tmp_path: Path, server: ApiServer
) -> None:
    repo, connection_id = _followed(proton, runtime, tmp_path)
    url = f"{server.url}/webhooks/git/{connection_id}"
    waiting = _poll_job(runtime)
    assert waiting.run_at > runtime.clock.now() + 30

    head = push(repo, env_files("env/v1", cidr="10.5.0.0/16"))
    body = _github_push(after=head)
    headers = {
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": _sign(body),
        "Content-Type": "application/json",
    }
    assert _post(url, body, headers) == (202, {"message": "The push is queued for sync.", "queued": 1})
    assert _poll_job(runtime).run_at <= runtime.clock.now()
    _run_due(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT"), ("1", "1", "DRAFT")]

    # The same delivery again: queued, but the look finds nothing new.
    assert _post(url, body, headers)[0] == 202
    _run_due(runtime)
    assert len(versions(proton, "ENVIRONMENT", "env")) == 2


def test_bad_signatures_and_bodies_do_nothing(
    proton: Any, runtime: Runtime, tmp_path: Path, server: ApiServer
) -> None:
    _, connection_id = _followed(proton, runtime, tmp_path)
    url = f"{server.url}/webhooks/git/{connection_id}"
    before = _poll_job(runtime)
    body = _github_push()
    good = _sign(body)
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert _post(url, body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": wrong}) == (
        403,
        {"message": "The signature does not match."},
    )
    assert _post(url, body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": good[:-1]}) == (
        403,
        {"message": "The signature does not match."},
    )
    assert _post(url, body, {"X-GitHub-Event": "push"}) == (401, {"message": "The request is not signed."})
    # A body changed by one byte under the signature of the original.
    tampered = body.replace(b"main", b"mail")
    assert _post(url, tampered, {"X-GitHub-Event": "push", "X-Hub-Signature-256": good})[0] == 403
    # Signed with another secret.
    assert (
        _post(url, body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": _sign(body, "x" * 20)})[0] == 403
    )
    assert _poll_job(runtime) == before

    malformed = b'{"ref": "refs/heads/main", '
    assert _post(url, malformed, {"X-GitHub-Event": "push", "X-Hub-Signature-256": _sign(malformed)}) == (
        400,
        {"message": "The body is not a JSON document."},
    )
    odd = json.dumps({"ref": 5, "repository": []}).encode()
    assert _post(url, odd, {"X-GitHub-Event": "push", "X-Hub-Signature-256": _sign(odd)}) == (
        400,
        {"message": "The body is not a push event of this provider."},
    )
    big = b" " * (MAX_WEBHOOK_BODY + 1)
    assert _post(url, big, {"X-GitHub-Event": "push", "X-Hub-Signature-256": _sign(big)}) == (
        413,
        {"message": f"The body is larger than {MAX_WEBHOOK_BODY} bytes."},
    )
    assert _poll_job(runtime) == before

    ping = b'{"zen": "Keep it logically awesome."}'
    assert _post(url, ping, {"X-GitHub-Event": "ping", "X-Hub-Signature-256": _sign(ping)}) == (
        200,
        {"message": "pong"},
    )
    other = _github_push(branch="feature")
    assert _post(url, other, {"X-GitHub-Event": "push", "X-Hub-Signature-256": _sign(other)}) == (
        200,
        {"message": "No sync follows the pushed branch.", "queued": 0},
    )
    assert _poll_job(runtime) == before


def test_unknown_connections_are_not_found(
    proton: Any, runtime: Runtime, tmp_path: Path, server: ApiServer
) -> None:
    body = _github_push()
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": _sign(body)}
    for connection_id in ("00000000-0000-4000-8000-000000000000", "not-an-id", "%2e%2e"):
        assert _post(f"{server.url}/webhooks/git/{connection_id}", body, headers) == (
            404,
            {"message": "Not found."},
        )
    # A connection without a webhook secret refuses every delivery.
    linked = linked_repository(proton, runtime, tmp_path / "plain")
    plain_id = connection_store.connection_id(linked[1])
    assert _post(f"{server.url}/webhooks/git/{plain_id}", body, headers) == (
        403,
        {"message": "The signature does not match."},
    )


def test_bitbucket_push(proton: Any, runtime: Runtime, tmp_path: Path, server: ApiServer) -> None:
    repo, connection_id = _followed(proton, runtime, tmp_path, provider="BITBUCKET")
    url = f"{server.url}/webhooks/git/{connection_id}"
    head = push(repo, env_files("env/v2"))
    body = json.dumps(
        {
            "repository": {"full_name": REPOSITORY},
            "push": {"changes": [{"new": {"type": "branch", "name": "main", "target": {"hash": head}}}]},
        }
    ).encode()
    # Bitbucket's header is X-Hub-Signature; GitHub's header name is not accepted for it.
    assert _post(url, body, {"X-Event-Key": "repo:push", "X-Hub-Signature-256": _sign(body)})[0] == 401
    assert _post(url, body, {"X-Event-Key": "repo:push", "X-Hub-Signature": _sign(body)}) == (
        202,
        {"message": "The push is queued for sync.", "queued": 1},
    )
    _run_due(runtime)
    assert versions(proton, "ENVIRONMENT", "env")[-1] == ("2", "0", "DRAFT")


def test_a_push_announced_as_a_look_ends_is_not_lost(
    proton: Any, runtime: Runtime, tmp_path: Path, server: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A push whose webhook arrives while a worker finishes a look at the branch (after the look read the
    branch, before its next time is stored) is synced at once, not after a whole poll interval."""
    from baryon.domain.outcomes import Wait
    from baryon.sync import follow

    repo, connection_id = _followed(proton, runtime, tmp_path)
    url = f"{server.url}/webhooks/git/{connection_id}"

    def announce(head: str) -> None:
        body = _github_push(after=head)
        headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": _sign(body)}
        assert _post(url, body, headers)[0] == 202

    announce(push(repo, env_files("env/v1", cidr="10.5.0.0/16")))
    late: list[str] = []

    def next_look(at: float) -> Wait:
        # The look has read the branch and decided when to look again; a second push lands now and its
        # webhook is delivered while the worker still holds the job.
        if not late:
            late.append(push(repo, env_files("env/v1", cidr="10.6.0.0/16")))
            announce(late[0])
        return Wait(at)

    monkeypatch.setattr(follow, "Wait", next_look)
    assert Worker(runtime).run_once()
    assert late, "the look ran"
    monkeypatch.undo()
    _run_due(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [
        ("1", "0", "DRAFT"),
        ("1", "1", "DRAFT"),
        ("1", "2", "DRAFT"),
    ], "the second push waits for the next poll"
