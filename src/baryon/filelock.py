"""An exclusive OS lock on a file: held by one open file at a time, on this machine.

Invariants: the lock is flock(2) on a file created 0600; it is held until `release()` or until the
process ends in any way (a crash or SIGKILL included), so a lock never outlives its holder; taking it never
waits.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def try_acquire(self) -> bool:
        """Take the lock; False when another open file holds it."""
        handle = os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), "r+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._handle = handle
        return True

    def note(self, text: str) -> None:
        """Write `text` into the held lock file (e.g. the holder's pid), replacing what was there."""
        assert self._handle is not None, "the lock is not held"
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(text)
        self._handle.flush()

    def noted(self) -> str:
        """What the lock file says (its holder's note), read without taking the lock."""
        with contextlib.suppress(OSError):
            return self.path.read_text(errors="replace").strip()
        return ""

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
