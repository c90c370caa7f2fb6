"""Push webhooks of git hosts: `POST /webhooks/git/<connection id>` makes the followed branch's poll due.

GitHub and GitHub Enterprise sign the body with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>` and name
the event in `X-GitHub-Event` (`push`, `ping`); Bitbucket Cloud signs with `X-Hub-Signature: sha256=<hex>`
and names the event in `X-Event-Key` (`repo:push`, `diagnostics:ping`). The key is the connection's
webhook secret (`baryon connections create --webhook-secret-env`, `baryon connections set-webhook-secret`).

Invariants: nothing is parsed or done before the signature is checked (over the exact bytes received,
with `hmac.compare_digest`); an unknown connection is a plain 404 that tells nothing more; a missing
signature is 401, a wrong one (or a connection without a secret) 403; bodies above `MAX_WEBHOOK_BODY`
are refused with 413; a verified push only makes the poll jobs of the branches it names due now
(`baryon.store.sync_jobs.poll_now`), so a replayed or duplicated delivery, or the same push reaching
several server processes, makes at most one worker look at the branch, and the look finds nothing new
the second time; the answer is a short JSON document `{"message": ...}`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from baryon.runtime import Runtime
from baryon.store import connections as connection_store
from baryon.store import sync_jobs
from baryon.store.schema import repositories

#: Largest webhook body read (GitHub caps push payloads at 25 MB; a push of a branch is far smaller).
MAX_WEBHOOK_BODY = 5 * 1024 * 1024
PREFIX = "/webhooks/git/"
_ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class Answer:
    status: int
    message: str
    queued: int | None = None

    def body(self) -> bytes:
        document: dict[str, Any] = {"message": self.message}
        if self.queued is not None:
            document["queued"] = self.queued
        return orjson.dumps(document)


def _pushes(provider: str, document: Any) -> tuple[str, list[str]] | None:
    """(repository full name, branches) of a push payload, or None when it is not one."""
    if not isinstance(document, dict):
        return None
    repository = document.get("repository")
    full_name = repository.get("full_name") if isinstance(repository, dict) else None
    if not isinstance(full_name, str) or not full_name or len(full_name) > 200:
        return None
    branches: list[str] = []
    if provider == "BITBUCKET":
        push = document.get("push")
        changes = push.get("changes") if isinstance(push, dict) else None
        if not isinstance(changes, list):
            return None
        for change in changes[:100]:
            new = change.get("new") if isinstance(change, dict) else None
            if isinstance(new, dict) and new.get("type") == "branch" and isinstance(new.get("name"), str):
                branches.append(new["name"])
    else:
        ref, after = document.get("ref"), document.get("after")
        if not isinstance(ref, str) or not isinstance(after, str):
            return None
        if ref.startswith("refs/heads/") and after != _ZERO_SHA:
            branches.append(ref[len("refs/heads/") :])
    return full_name, [branch for branch in branches if 0 < len(branch) <= 200]


def handle(runtime: Runtime, connection_id: str, headers: dict[str, str], body: bytes) -> Answer:
    """Check and act on one webhook delivery (runs in a worker thread: it touches the database)."""
    with runtime.database.read() as connection:
        record = connection_store.by_id(connection, connection_id)
        secret = (
            None
            if record is None
            else connection_store.webhook_secret(connection, runtime.secrets, record.arn)
        )
    if record is None:
        return Answer(404, "Not found.")
    bitbucket = record.provider == "BITBUCKET"
    signature = headers.get("x-hub-signature" if bitbucket else "x-hub-signature-256")
    if not signature:
        return Answer(401, "The request is not signed.")
    if secret is None:
        return Answer(403, "The signature does not match.")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().encode("latin-1")):
        return Answer(403, "The signature does not match.")
    event = headers.get("x-event-key" if bitbucket else "x-github-event", "")
    if event in ("ping", "diagnostics:ping"):
        return Answer(200, "pong")
    if event not in ("push", "repo:push"):
        return Answer(200, f"The event {event[:64]!r} is ignored; only pushes are acted on.")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return Answer(400, "The body is not a JSON document.")
    found = _pushes(record.provider, document)
    if found is None:
        return Answer(400, "The body is not a push event of this provider.")
    full_name, branches = found
    queued = 0
    now = runtime.clock.now()
    with runtime.database.write() as connection:
        links = connection.execute(
            sa.select(repositories.c.name).where(
                repositories.c.connection_arn == record.arn, repositories.c.provider == record.provider
            )
        ).all()
        for link in links:
            if link.name.lower() != full_name.lower():
                continue
            for branch in dict.fromkeys(branches):
                job_id = sync_jobs.poll_job_id(
                    record.account_id, record.region, record.provider, link.name, branch
                )
                if sync_jobs.poll_now(connection, job_id, now):
                    queued += 1
    if queued:
        runtime.wake()
        return Answer(202, "The push is queued for sync.", queued)
    return Answer(200, "No sync follows the pushed branch.", 0)
