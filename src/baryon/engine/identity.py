"""A worker's identity: the name its leases carry, the same when the worker restarts.

Invariants: two running workers never share an identity that Baryon derived itself: the derived one is
the host name, a digest of the data dir and the first free slot of that data dir, and a slot is held by an
OS lock (flock on `<data dir>/workers/<slot>.lock`) for as long as the process lives, so a worker that
restarts on the same host with the same data dir gets its old slot, hence its old identity, back.
`BARYON_WORKER_ID` replaces the derived identity (for containers whose host name changes); the operator
then keeps it unique among running workers. An identity fits the jobs table's `lease_owner` column.
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass, field
from pathlib import Path

from baryon.filelock import FileLock

#: Longest identity (the jobs table's lease_owner column holds 128 characters).
MAX_LENGTH = 100
#: Workers that can run at once on one host with one data dir without a configured identity.
SLOTS = 256


class IdentityError(ValueError):
    """No identity can be had (a bad BARYON_WORKER_ID, or every slot of the data dir is taken)."""


@dataclass
class WorkerIdentity:
    name: str
    _slot: FileLock | None = field(default=None, repr=False)

    def release(self) -> None:
        if self._slot is not None:
            self._slot.release()


def claim_identity(data_dir: Path, configured: str | None = None) -> WorkerIdentity:
    """The configured identity, else the derived one of the first slot of `data_dir` no process holds."""
    if configured is not None:
        name = configured.strip()
        if not name or len(name) > MAX_LENGTH or not name.isprintable():
            raise IdentityError(
                f"BARYON_WORKER_ID must be 1 to {MAX_LENGTH} printable characters, not {configured!r}."
            )
        return WorkerIdentity(name)
    directory = data_dir / "workers"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    host = socket.gethostname()[:64]
    for slot in range(SLOTS):
        lock = FileLock(directory / f"{slot}.lock")
        if lock.try_acquire():
            return WorkerIdentity(f"{host}:{digest}:{slot}", lock)
    raise IdentityError(
        f"{SLOTS} workers already run with the data dir {data_dir}; give this one BARYON_WORKER_ID."
    )
