"""The stored output of command runs: ordered text chunks per deployment, readable from any process.

Invariants: the chunks of a deployment are numbered 1, 2, 3, ... in the order they were appended, and a
reader never sees a gap; writers of one deployment take turns (the deployment's row is locked FOR UPDATE
on PostgreSQL before the next number is picked; SQLite has one writer), since the API's notify handler,
the settling step and a run's copier may append at once; should two still pick the same number, they
collide on the primary key and one fails instead of both landing out of order; each chunk names its
source (one started run) and the byte offset in that run's output where it ends, so a copier resumes
exactly after the last committed chunk; chunk text never holds NUL (PostgreSQL text cannot), which
becomes U+FFFD; the chunks of a deployment go with it (foreign key, ON DELETE CASCADE).

The same chunks tell a deployment's whole story: besides a command run's output, `note` appends one line
`[SOURCE] <UTC time> message` written by Baryon's steps (`baryon`), copied from the stack's events
(`cloudformation`), from the git provisioner (`terraform`) or from NotifyResourceDeploymentStatusChange
(`notify`), under that source name (never a run's key, so a run's copy offset is not disturbed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.store.schema import deployments, run_logs

L = run_logs.c

#: The sources of story lines (`note`).
BARYON = "baryon"
CLOUDFORMATION = "cloudformation"
TERRAFORM = "terraform"
NOTIFY = "notify"


@dataclass(frozen=True)
class LogChunk:
    seq: int
    text: str
    created_at: float


def append(
    connection: Connection,
    deployment_id: str,
    text: str,
    *,
    now: float,
    source: str = "",
    end_offset: int = 0,
) -> int:
    """Add a chunk after the deployment's last one; returns its number."""
    connection.execute(sa.select(deployments.c.id).where(deployments.c.id == deployment_id).with_for_update())
    last = connection.execute(
        sa.select(sa.func.max(L.seq)).where(L.deployment_id == deployment_id)
    ).scalar_one_or_none()
    seq = int(last or 0) + 1
    connection.execute(
        sa.insert(run_logs).values(
            deployment_id=deployment_id,
            seq=seq,
            source=source,
            end_offset=end_offset,
            chunk=text.replace("\0", "\ufffd"),
            created_at=now,
        )
    )
    return seq


def read(connection: Connection, deployment_id: str, after_seq: int = 0, limit: int = 500) -> list[LogChunk]:
    """The deployment's chunks numbered above `after_seq`, in order, at most `limit`."""
    rows = connection.execute(
        sa.select(L.seq, L.chunk, L.created_at)
        .where(L.deployment_id == deployment_id, L.seq > after_seq)
        .order_by(L.seq)
        .limit(limit)
    )
    return [LogChunk(int(row.seq), row.chunk, float(row.created_at)) for row in rows]


def source_offset(connection: Connection, deployment_id: str, source: str) -> int:
    """Where the copy of `source` stands: the end offset of its last chunk, 0 before the first."""
    value = connection.execute(
        sa.select(sa.func.max(L.end_offset)).where(L.deployment_id == deployment_id, L.source == source)
    ).scalar_one_or_none()
    return int(value or 0)


def story_line(source: str, message: str, at: float) -> str:
    """`[source] 2026-01-02T03:04:05.678Z message` and a newline (newlines in `message` become spaces)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"
    flat = " ".join(message.splitlines())
    return f"[{source}] {stamp} {flat}\n"


def note(
    connection: Connection,
    deployment_id: str,
    source: str,
    message: str,
    *,
    now: float,
    at: float | None = None,
) -> int:
    """Append one line of the deployment's story from `source`, stamped `at` (default `now`)."""
    line = story_line(source, message, now if at is None else at)
    return append(connection, deployment_id, line, now=now, source=source)


def has_source(connection: Connection, deployment_id: str, source: str) -> bool:
    """Whether the deployment has a chunk from `source`."""
    found = connection.execute(
        sa.select(L.seq).where(L.deployment_id == deployment_id, L.source == source).limit(1)
    ).first()
    return found is not None
