"""Copying a run's output into the `run_logs` table, so it outlives the workspace and can be followed.

`copy_output` is meant to be called on every poll of a run, and with `final=True` once the run has ended
and before the deployment gets its final status (a follower of the log stops at that status, so output
stored later would not be shown to it).

Invariants: each call appends the bytes written since the last committed chunk of this run (the offset
is read back from the table, so a worker that crashed between copies resumes exactly where the committed
copy stops; nothing is stored twice, nothing skipped); a chunk never ends inside a UTF-8 sequence unless
it is the last of a final copy (then the incomplete tail is decoded with replacement); bytes that are
not UTF-8 become U+FFFD; a call copies at most `max_chunks` chunks so that a step stays short, except a
final call, which copies to the end (up to FINAL_MAX_CHUNKS).
"""

from __future__ import annotations

import sqlalchemy as sa

from baryon.engine.runners.base import RunHandle, RunnerBackend
from baryon.store import run_logs
from baryon.store.db import Database

CHUNK_BYTES = 64 * 1024
#: A final copy stops after this many chunks (1 GiB), should a process that escaped the run still write.
FINAL_MAX_CHUNKS = 16 * 1024


def complete_prefix(data: bytes) -> int:
    """Length of the longest prefix of `data` that does not end inside a UTF-8 sequence."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:  # continuation byte: keep looking for the lead byte
            continue
        if byte & 0x80 == 0:  # ASCII
            return len(data)
        needed = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4 if byte & 0xF8 == 0xF0 else 1
        return len(data) if back >= needed else len(data) - back
    return len(data)


def copy_output(
    database: Database,
    backend: RunnerBackend,
    handle: RunHandle,
    deployment_id: str,
    now: float,
    *,
    final: bool = False,
    max_chunks: int = 16,
) -> int:
    """Append the run's new output to the deployment's log; returns the number of bytes copied."""
    copied = 0
    for _ in range(FINAL_MAX_CHUNKS if final else max_chunks):
        try:
            with database.write() as connection:
                offset = run_logs.source_offset(connection, deployment_id, handle.key)
                data = backend.read_log(handle, offset, CHUNK_BYTES)
                size = len(data) if final and len(data) < CHUNK_BYTES else complete_prefix(data)
                if size == 0:
                    return copied
                text = data[:size].decode("utf-8", errors="replace")
                run_logs.append(
                    connection, deployment_id, text, now=now, source=handle.key, end_offset=offset + size
                )
        except sa.exc.IntegrityError:
            # Another worker appended the same chunk first, or the deployment is gone.
            return copied
        copied += size
        if len(data) < CHUNK_BYTES:
            return copied
    return copied
