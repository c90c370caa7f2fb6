"""Checks a serving command makes before it says anything: its ports are free, its data dir is its own.

Invariants: a port counts as free when this process can bind it as the server will (SO_REUSEADDR, the
host given); the data dir lock of `baryon up` is an OS lock (flock) on `<data dir>/baryon.lock`, so it is
released when the process ends in any way, a crash included; the file names the holder's pid.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from baryon.cli.errors import SettingError
from baryon.filelock import FileLock

LOCK_FILE = "baryon.lock"
MAX_PORT = 65535


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
        if not 1 <= port <= MAX_PORT:
            raise SettingError(
                f"Port {port} for {role} is not a port number (1-{MAX_PORT}); choose another with {flag}."
            )
        error = _bindable(host, port)
        if error is not None:
            taken = error.errno == errno.EADDRINUSE
            reason = "is in use by another program" if taken else f"cannot be used ({error.strerror})"
            raise SettingError(
                f"Port {port} on {host} for {role} {reason}; stop that program or choose another port with "
                f"{flag}."
            )


def derived_port(host: str, preferred: int) -> int:
    """`preferred` when it is free, else a free port the system picks: for a port the user did not choose
    (the local cloud's default, the API's port + 1), which reaches clients through the exports."""
    if not 1 <= preferred <= MAX_PORT:
        return preferred  # refused by require_free_ports, naming the flag
    error = _bindable(host, preferred)
    if error is None or error.errno != errno.EADDRINUSE:
        return preferred
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host.strip("[]"), 0))
        return int(sock.getsockname()[1])


class DataDirLock:
    """Held while one `baryon up` uses a data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._lock = FileLock(data_dir / LOCK_FILE)

    def acquire(self) -> None:
        if not self._lock.try_acquire():
            holder = self._lock.noted()
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise SettingError(
                f"Another baryon up{who} is already using the data dir {self.data_dir}; stop it first, "
                "or give this one another --data-dir."
            )
        self._lock.note(str(os.getpid()))

    def release(self) -> None:
        self._lock.release()
