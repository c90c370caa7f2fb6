"""Checks a serving command makes before it says anything: its ports are free, its data dir is its own.

Invariants: a port counts as free when this process can bind it as the server will (SO_REUSEADDR, the
host given); the data dir lock of `baryon up` is an OS lock (flock) on `<data dir>/baryon.lock`, so it is
released when the process ends in any way, a crash included; the file names the holder's pid.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from baryon.cli.errors import SettingError

LOCK_FILE = "baryon.lock"


def _bindable(host: str, port: int) -> OSError | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as error:
            return error
    return None


def require_free_ports(host: str, ports: dict[str, tuple[int, str]]) -> None:
    """Refuse when a port is taken. `ports` maps a role ("the API") to the port and the flag that sets it."""
    if len({port for port, _flag in ports.values()}) < len(ports):
        flags = ", ".join(flag for _port, flag in ports.values())
        raise SettingError(f"{' and '.join(ports)} cannot share one port; give each its own ({flags}).")
    for role, (port, flag) in ports.items():
        error = _bindable(host, port)
        if error is not None:
            taken = error.errno == errno.EADDRINUSE
            reason = "is in use by another program" if taken else f"cannot be used ({error.strerror})"
            raise SettingError(
                f"Port {port} on {host} for {role} {reason}; stop that program or choose another port with "
                f"{flag}."
            )


class DataDirLock:
    """Held while one `baryon up` uses a data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        handle = open(self.path, "a+")  # noqa: SIM115 - held until release() or the end of the process
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise SettingError(
                f"Another baryon up{who} is already using the data dir {self.path.parent}; stop it first, "
                "or give this one another --data-dir."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
