"""The engine job that delivers one event to one webhook target: an HTTP POST of the event's JSON,
signed, with its own backoff.

Request: `content-type: application/json`; `X-Baryon-Event-Id` (receivers dedupe on it) and
`X-Baryon-Delivery-Id`; `X-Baryon-Signature: sha256=<hex HMAC-SHA256 of the exact body with the target's
secret>` when the target has a secret. Redirects are not followed and no proxy is used.

Invariants: a 2xx answer within the policy's timeout marks the delivery delivered; anything else (another
status, a timeout, a refused connection) counts an attempt, records its status code or error and waits
the policy's delay (`Wait`), until the policy gives up and the delivery is failed; a target whose host
is or resolves to a link-local address fails at once unless it allows one. Delivery is at least once: the
attempt is recorded after the POST, so a worker that dies between the two leaves the job to another
worker, which sends again. Each delivery is its own job, so a slow or dead target holds up only its own
deliveries, never another target's or another event's. A delivery whose target was deleted ends.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from baryon.domain.outcomes import Done, Outcome, Wait
from baryon.events import targets
from baryon.events.outbox import DELIVERED, FAILED, PENDING
from baryon.events.policy import DeliveryPolicy
from baryon.runtime import Runtime
from baryon.store.jobs import Job
from baryon.store.schema import event_deliveries, events

D, E = event_deliveries.c, events.c
SIGNATURE = "X-Baryon-Signature"
EVENT_ID = "X-Baryon-Event-Id"
DELIVERY_ID = "X-Baryon-Delivery-Id"
#: Most characters of a target's answer or error kept on the delivery.
ERROR_CHARS = 500


def signature(secret: str, body: bytes) -> str:
    """The X-Baryon-Signature value of `body` under `secret`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """POST `body`; (status code, None) for any answer, (None, error) when there was none."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status), None
    except urllib.error.HTTPError as error:
        text = error.read(ERROR_CHARS).decode(errors="replace")
        error.close()
        return int(error.code), text or error.reason or None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        return None, f"{type(reason).__name__}: {reason}"[:ERROR_CHARS]


def step(runtime: Runtime, job: Job) -> Outcome:
    delivery_id = str(job.payload["delivery_id"])
    policy = DeliveryPolicy.from_dict(job.payload.get("policy"))
    with runtime.database.read() as connection:
        delivery = connection.execute(sa.select(event_deliveries).where(D.id == delivery_id)).first()
        if delivery is None or delivery.state != PENDING:
            return Done("the delivery is no longer pending")
        event = connection.execute(sa.select(E.body, E.created_at).where(E.id == delivery.event_id)).one()
        target = targets.find(connection, delivery.target_id)
    if target is None:
        return Done("the target was deleted")
    body = event.body.encode()
    parts = urlsplit(target.url)
    if not target.allow_link_local and targets.resolves_to_link_local(parts.hostname or "", parts.port):
        refused = f"refused: {parts.hostname} is a link-local address and the target does not allow one"
        _record(runtime, delivery, FAILED, None, refused, None)
        return Done(refused)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Baryon-Webhooks",
        EVENT_ID: delivery.event_id,
        DELIVERY_ID: delivery.id,
    }
    if target.secret_ciphertext is not None:
        headers[SIGNATURE] = signature(runtime.secrets.decrypt(target.secret_ciphertext), body)
    code, error = post(target.url, body, headers, policy.timeout)
    now = runtime.clock.now()
    if code is not None and 200 <= code < 300:
        _record(runtime, delivery, DELIVERED, code, None, now)
        return Done()
    attempts = delivery.attempts + 1
    message = (error or "no answer") if code is None else f"HTTP {code}" + (f": {error}" if error else "")
    if policy.gives_up(attempts, now - float(event.created_at)):
        _record(runtime, delivery, FAILED, code, message, None)
        return Done(f"gave up after {attempts} attempt(s): {message}")
    at = now + policy.delay(delivery.id, attempts)
    _record(runtime, delivery, PENDING, code, message, at)
    return Wait(at)


def _record(
    runtime: Runtime,
    delivery: Any,
    state: str,
    code: int | None,
    error: str | None,
    at: float | None,
) -> None:
    """Record one attempt (its state, status code, error; `at`: the delivery time when delivered, the next
    attempt's time while pending)."""
    now = runtime.clock.now()
    values: dict[str, Any] = {
        "state": state,
        "attempts": delivery.attempts + 1,
        "last_status_code": code,
        "last_error": error,
        "updated_at": now,
        "next_attempt_at": at if state == PENDING else None,
    }
    if state == DELIVERED:
        values["delivered_at"] = at
    with runtime.database.write() as connection:
        connection.execute(
            sa.update(event_deliveries)
            .where(D.id == delivery.id, D.state == PENDING, D.attempts == delivery.attempts)
            .values(**values)
        )


def give_up(runtime: Runtime, job: Job, reason: str) -> None:
    """The job's own retries ran out (its step kept raising): the delivery is failed."""
    with runtime.database.write() as connection:
        connection.execute(
            sa.update(event_deliveries)
            .where(D.id == str(job.payload["delivery_id"]), D.state == PENDING)
            .values(state=FAILED, last_error=reason[:ERROR_CHARS], updated_at=runtime.clock.now())
        )
