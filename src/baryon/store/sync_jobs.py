"""The poll job of a followed git branch: one row per branch in the job table, made due on demand.

Invariants: a branch's poll job has an id derived from (account, region, provider, repository, branch)
(`poll_job_id`), so there is never more than one and at most one worker looks at a branch at a time (the
job's lease); `ensure_poll_job` (called in the transaction of a sync config change) creates the job or
brings a finished one back, due at once; `poll_now` (a verified push webhook) makes it due at once and,
when a worker holds it, notes the request in the job's progress so that the running look is followed by
another one straight away instead of waiting a whole poll interval.
"""

from __future__ import annotations

import uuid

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from baryon.domain import jobs as job_kinds
from baryon.store import jobs
from baryon.store.schema import jobs as jobs_table

J = jobs_table.c
_NAMESPACE = uuid.UUID("6f1d3c52-8a4e-4b9a-9d55-3a1f0c2b7e10")
#: The key in a poll job's progress that a push webhook sets to ask for another look.


def poll_job_id(account_id: str, region: str, provider: str, repository: str, branch: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x00".join((account_id, region, provider, repository, branch))))


def ensure_poll_job(
    connection: Connection,
    *,
    account_id: str,
    region: str,
    provider: str,
    repository: str,
    branch: str,
    now: float,
) -> str:
    """Create the branch's poll job, or make an existing one due now (bringing back a finished one)."""
    job_id = poll_job_id(account_id, region, provider, repository, branch)
    row = connection.execute(sa.select(J.state).where(J.id == job_id)).first()
    if row is None:
        try:
            with connection.begin_nested():
                jobs.enqueue(
                    connection,
                    job_id=job_id,
                    kind=job_kinds.SYNC_POLL,
                    payload={
                        "account_id": account_id,
                        "region": region,
                        "provider": provider,
                        "repository": repository,
                        "branch": branch,
                    },
                    now=now,
                    policy=job_kinds.SYNC_POLL_POLICY,
                )
            return job_id
        except IntegrityError:  # another process created it in the meantime
            pass
    poll_now(connection, job_id, now)
    return job_id


def follow(
    connection: Connection,
    *,
    account_id: str,
    region: str,
    provider: str,
    repository: str,
    branch: str,
    now: float,
) -> None:
    """Make sure the branch has a queued poll job (a claimed job is still queued, under a lease): one is
    created, or a finished one brought back, due now; a queued one keeps its time."""
    job_id = poll_job_id(account_id, region, provider, repository, branch)
    row = connection.execute(sa.select(J.state).where(J.id == job_id)).first()
    if row is None or row.state != jobs.QUEUED:
        ensure_poll_job(
            connection,
            account_id=account_id,
            region=region,
            provider=provider,
            repository=repository,
            branch=branch,
            now=now,
        )


def poll_now(connection: Connection, job_id: str, now: float) -> bool:
    """Ask for a look at the branch of poll job `job_id` now; False when there is no such job."""
    row = connection.execute(sa.select(J.state).where(J.id == job_id)).first()
    if row is None:
        return False
    if row.state != jobs.QUEUED:
        connection.execute(
            sa.update(jobs_table)
            .where(J.id == job_id)
            .values(state=jobs.QUEUED, run_at=now, attempts=0, outcome_message=None, updated_at=now)
        )
        return True
    jobs.request_run(connection, job_id, now)
    return True


def requested_at(connection: Connection, job_id: str) -> float | None:
    """When a look was last asked for (by a webhook or a config change), per the job's progress."""
    row = connection.execute(sa.select(J.progress).where(J.id == job_id)).first()
    if row is None or not row.progress:
        return None
    return jobs.requested_at(orjson.loads(row.progress))
