"""Job rows: enqueue in the caller's transaction, claim with a lease, settle with an outcome (the table
access behind the engine's worker loop; the outcomes themselves are `baryon.domain.outcomes` values).

Invariants: a job is created in the same transaction as the API change that needs it; at most one worker
holds a job's lease at a time (FOR UPDATE SKIP LOCKED on PostgreSQL, the single SQLite writer otherwise);
a job whose lease expired is claimable again, and so is one whose owner released its leases on
restart (`release_leases`); settling checks the lease owner so a worker that lost its
lease cannot overwrite another's result; every claim is counted (`Job.claims`), so a step knows whether
an earlier lease on its job may have acted; `hasten` brings a waiting job's time forward only while no
worker holds it (a running step's outcome would overwrite the new time); a job created while a traced
request runs keeps that request's trace context in its payload (`tracing.TRACEPARENT`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon import tracing
from baryon.domain.outcomes import Done, Failed, Outcome, Retry, RetryPolicy, Wait
from baryon.store import prepared
from baryon.store.db import Database
from baryon.store.schema import jobs

J = jobs.c
QUEUED = "queued"
DONE = "done"
FAILED = "failed"


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    retry_policy: RetryPolicy
    progress: dict[str, Any]
    cancel_requested: bool
    #: Leases taken on this job so far, this one included: 1 means no worker ever ran a step of it.
    claims: int = 1


def enqueue(
    connection: Connection,
    *,
    job_id: str,
    kind: str,
    payload: dict[str, Any],
    now: float,
    policy: RetryPolicy | None = None,
) -> None:
    carried = tracing.traceparent()
    if carried is not None:
        payload = {**payload, tracing.TRACEPARENT: carried}
    if payload.get("deployment_id"):
        tracing.note_deployment(str(payload["deployment_id"]))
    prepared.insert(jobs).run(
        connection,
        {
            "id": job_id,
            "kind": kind,
            "payload": orjson.dumps(payload).decode(),
            "state": QUEUED,
            "run_at": now,
            "lease_owner": None,
            "lease_expires_at": None,
            "attempts": 0,
            "claims": 0,
            "retry_policy": orjson.dumps((policy or RetryPolicy()).to_dict()).decode(),
            "progress": None,
            "cancel_requested": False,
            "outcome_message": None,
            "created_at": now,
            "updated_at": now,
        },
    )


def _due(now: Any) -> Any:
    return sa.and_(
        J.state == QUEUED,
        J.run_at <= now,
        sa.or_(J.lease_expires_at.is_(None), J.lease_expires_at < now),
    )


_NEXT_DUE_QUERY = sa.select(jobs).where(_due(sa.bindparam("now"))).order_by(J.run_at).limit(1)
_NEXT_DUE = prepared.Prepared(_NEXT_DUE_QUERY)
_NEXT_DUE_LOCKED = prepared.Prepared(_NEXT_DUE_QUERY.with_for_update(skip_locked=True))


def claim(database: Database, owner: str, now: float, lease_seconds: float) -> Job | None:
    """Take the lease of one due job, oldest first."""
    with database.write() as connection:
        query = _NEXT_DUE if database.is_sqlite else _NEXT_DUE_LOCKED
        row = query.first(connection, {"now": now})
        if row is None:
            return None
        prepared.update(jobs, ("id",), ("lease_owner", "lease_expires_at", "claims", "updated_at")).run(
            connection,
            {
                "where_id": row.id,
                "lease_owner": owner,
                "lease_expires_at": now + lease_seconds,
                "claims": row.claims + 1,
                "updated_at": now,
            },
        )
    return Job(
        id=row.id,
        kind=row.kind,
        payload=orjson.loads(row.payload),
        attempts=row.attempts,
        retry_policy=RetryPolicy.from_dict(orjson.loads(row.retry_policy)),
        progress=orjson.loads(row.progress) if row.progress else {},
        cancel_requested=bool(row.cancel_requested),
        claims=row.claims + 1,
    )


def renew(database: Database, job_id: str, owner: str, now: float, lease_seconds: float) -> bool:
    with database.write() as connection:
        count = prepared.update(jobs, ("id", "lease_owner"), ("lease_expires_at", "updated_at")).run(
            connection,
            {
                "where_id": job_id,
                "where_lease_owner": owner,
                "lease_expires_at": now + lease_seconds,
                "updated_at": now,
            },
        )
    return bool(count)


def release_leases(database: Database, owner: str, now: float) -> int:
    """Give back every lease `owner` holds, so that its jobs are due at once: a worker starting under the
    identity of one that ended without settling them (a crash, a kill) takes them back without waiting
    for the leases to expire. Returns how many were released."""
    with database.write() as connection:
        count: int = connection.execute(
            sa.update(jobs)
            .where(J.lease_owner == owner, J.state == QUEUED)
            .values(lease_owner=None, lease_expires_at=None, updated_at=now)
        ).rowcount
    return count


def save_progress(connection: Connection, job_id: str, progress: dict[str, Any], now: float) -> None:
    connection.execute(
        sa.update(jobs).where(J.id == job_id).values(progress=orjson.dumps(progress).decode(), updated_at=now)
    )


#: Progress member a caller sets (see `request_run`) to ask that the job run again now, also while a worker
#: holds it: a step that ends with `Wait` then runs again at once instead of at its own time.
REQUESTED_AT = "run_requested_at"


def request_run(connection: Connection, job_id: str, now: float) -> bool:
    """Ask for a run of a queued job now: due at once when no worker holds it; when one does, recorded
    in its progress so that the step's `Wait` (settled in a later transaction) yields to it. False when
    there is no such job."""
    row = connection.execute(sa.select(J.progress).where(J.id == job_id)).first()
    if row is None:
        return False
    progress: dict[str, Any] = orjson.loads(row.progress) if row.progress else {}
    progress[REQUESTED_AT] = now
    connection.execute(
        sa.update(jobs).where(J.id == job_id).values(progress=orjson.dumps(progress).decode(), updated_at=now)
    )
    _make_due(connection, job_id, now)
    return True


def requested_at(progress: dict[str, Any]) -> float | None:
    value = progress.get(REQUESTED_AT)
    return None if value is None else float(value)


def _requested_during(connection: Connection, job: Job) -> bool:
    """Whether a run was requested after the job was claimed (its progress then differs from the claim's)."""
    row = connection.execute(sa.select(J.progress).where(J.id == job.id)).first()
    if row is None or not row.progress:
        return False
    now_requested = requested_at(orjson.loads(row.progress))
    return now_requested is not None and now_requested != requested_at(job.progress)


def settle(database: Database, job: Job, owner: str, outcome: Outcome, now: float) -> str:
    """Record a step's outcome; returns the job's new state. A `Wait` yields to a run requested while
    the step ran (`request_run`): the job is due at once."""
    values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None, "updated_at": now}
    if isinstance(outcome, Done):
        values.update(state=DONE, outcome_message=outcome.message or None)
    elif isinstance(outcome, Failed):
        values.update(state=FAILED, outcome_message=outcome.message)
    elif isinstance(outcome, Wait):
        values.update(state=QUEUED, run_at=outcome.at)
    elif isinstance(outcome, Retry):
        attempts = job.attempts + 1
        if attempts >= job.retry_policy.max_attempts:
            values.update(state=FAILED, attempts=attempts, outcome_message=outcome.reason)
        else:
            values.update(
                state=QUEUED,
                attempts=attempts,
                run_at=now + job.retry_policy.delay(attempts),
                outcome_message=outcome.reason,
            )
    with database.write() as connection:
        if isinstance(outcome, Wait) and outcome.at > now and _requested_during(connection, job):
            values["run_at"] = now
        prepared.update(jobs, ("id", "lease_owner"), tuple(sorted(values))).run(
            connection, {"where_id": job.id, "where_lease_owner": owner, **values}
        )
    return str(values.get("state", QUEUED))


def _make_due(connection: Connection, job_id: str, now: float) -> int:
    """Make the job due now if it is queued for later and no live lease holds it; 1 when it was."""
    return connection.execute(
        sa.update(jobs)
        .where(
            J.id == job_id,
            J.state == QUEUED,
            J.run_at > now,
            sa.or_(J.lease_owner.is_(None), J.lease_expires_at < now),
        )
        .values(run_at=now, updated_at=now)
    ).rowcount


def hasten(database: Database, job_id: str, now: float) -> str:
    """Make a waiting job due now, so that it runs before its scheduled time. Answers "done" when the
    job was made due (or already was, or has finished), "busy" while a worker holds its lease (its step's
    outcome would overwrite the new time: ask again once the step has settled)."""
    with database.write() as connection:
        if _make_due(connection, job_id, now):
            return DONE
        row = connection.execute(
            sa.select(J.state, J.lease_owner, J.lease_expires_at).where(J.id == job_id)
        ).first()
    if row is None or row.state != QUEUED or row.lease_owner is None or row.lease_expires_at < now:
        return DONE
    return "busy"


#: The state `counts` reports for a queued job a worker holds the lease of.
RUNNING = "running"


def counts(connection: Connection, now: float) -> tuple[dict[str, int], float | None]:
    """Jobs by state (queued jobs under a live lease counted as RUNNING) and the age of the oldest job
    due and not leased (None when none is)."""
    leased = sa.and_(J.state == QUEUED, J.lease_expires_at.is_not(None), J.lease_expires_at >= now)
    state = sa.case((leased, sa.literal(RUNNING)), else_=J.state)
    found: dict[str, int] = {QUEUED: 0, RUNNING: 0, DONE: 0, FAILED: 0}
    for name, count in connection.execute(sa.select(state, sa.func.count()).group_by(state)):
        found[str(name)] = int(count)
    oldest = connection.execute(sa.select(sa.func.min(J.run_at)).where(_due(now))).scalar()
    return found, (None if oldest is None else max(now - float(oldest), 0.0))
