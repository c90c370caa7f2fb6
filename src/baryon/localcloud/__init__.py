"""The local cloud: moto's server beside `baryon up`, standing in for S3, CloudFormation, STS, IAM, ….

Invariants: it runs as a child process of `baryon up` (so its request handling does not compete with
Baryon's threads for one interpreter), listens only on the given host and port, and ends with its parent
(on Linux it is told to when the parent dies, even by SIGKILL); while it runs, the parent's outgoing AWS
calls go to it (`AWS_ENDPOINT_URL`), unless a per-service endpoint variable says otherwise, and
`BARYON_LOCAL_CLOUD_URL` names its endpoint (`endpoint_in_use`), so that the engine knows which calls reach
the local cloud.

State: with a `state` file (`baryon up` gives `<data dir>/local-cloud.state`) the child restores it at
start and keeps it up to date while it runs (`server`, `persist`, `snapshot`); what it restored, or why it
set a snapshot aside, is the `Started` that `start` returns. `forget` removes the snapshot and says what
it held (`--reset-local-cloud`). The child's own log (moto's warnings and errors) is `local-cloud.log`
beside the state.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baryon.localcloud import snapshot

LOCAL_ACCOUNT_ID = "123456789012"
STATE_FILE = "local-cloud.state"
#: Names the local cloud's endpoint in the processes `baryon up` runs (and in itself).
ENDPOINT_VARIABLE = "BARYON_LOCAL_CLOUD_URL"
_PR_SET_PDEATHSIG = 1
_START_SECONDS = 60.0
_STOP_SECONDS = 60.0


def endpoint_in_use() -> str | None:
    """The local cloud's endpoint when this process runs beside one (`baryon up`), else None."""
    return os.environ.get(ENDPOINT_VARIABLE) or None


def _die_with_parent() -> None:
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True)
class Started:
    """What the local cloud found at start: the counts it restored (None: it started empty), when they
    were saved, and the place a snapshot it could not use was moved to, with the reason."""

    restored: dict[str, int] | None = None
    saved_at: float | None = None
    set_aside: str | None = None
    reason: str | None = None

    def describe(self, state: Path | None) -> str:
        if self.set_aside is not None:
            return (
                f"The local cloud could not restore its saved state: {self.reason}. It starts empty; the old "
                f"snapshot was moved to {self.set_aside}."
            )
        if self.restored is not None:
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.saved_at or 0))
            held = snapshot.describe_counts(self.restored)
            return f"The local cloud restored {held} (saved {when}) from {state}."
        return "The local cloud starts empty." if state is not None else ""


def state_file(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def forget(state: Path) -> str:
    """Remove the snapshot at `state`; a sentence saying what was forgotten."""
    if not state.exists():
        return "Resetting the local cloud: it has no saved state to forget."
    try:
        held = snapshot.describe_counts(snapshot.read_header(state).counts)
    except (snapshot.SnapshotProblem, OSError):
        held = "a snapshot whose contents cannot be read"
    state.unlink()
    return f"Resetting the local cloud: forgetting {held} ({state}); it starts empty."


def _report(line: bytes) -> dict[str, Any] | None:
    """The child's report when `line` is one (a JSON object naming what it restored or set aside)."""
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    if isinstance(parsed, dict) and {"empty", "restored", "setAside"} & set(parsed):
        return parsed
    return None


class LocalCloud:
    def __init__(self, host: str, port: int, state: Path | None = None) -> None:
        self.host = host
        self.port = port
        self.endpoint = f"http://{host}:{port}"
        self.state = state
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Started:
        command = [sys.executable, "-m", "baryon.localcloud.server", "--host", self.host]
        command += ["--port", str(self.port)]
        log: Any = subprocess.DEVNULL
        if self.state is not None:
            command += ["--state", str(self.state)]
            log = open(self.state.with_suffix(".log"), "wb")  # noqa: SIM115 - closed below
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        report = self._wait_for_report()
        self._wait_for_port()
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        os.environ[ENDPOINT_VARIABLE] = self.endpoint
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "baryon-local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "baryon-local")
        return Started(
            restored=report.get("restored"),
            saved_at=report.get("savedAt"),
            set_aside=report.get("setAside"),
            reason=report.get("reason"),
        )

    def _wait_for_report(self) -> dict[str, Any]:
        """The child's report, one line of JSON sent once it listens, within the start deadline (other
        lines before it, such as a library's notice, are skipped)."""
        assert self._process is not None and self._process.stdout is not None
        stream = self._process.stdout
        deadline = time.monotonic() + _START_SECONDS
        buffer = b""
        try:
            while True:
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    report = _report(line)
                    if report is not None:
                        return report
                left = deadline - time.monotonic()
                if left <= 0:
                    self.stop()
                    raise RuntimeError(f"the local cloud did not listen on {self.endpoint} within 60 s")
                ready, _, _ = select.select([stream], [], [], min(left, 1.0))
                if not ready:
                    continue
                chunk = os.read(stream.fileno(), 4096)
                if not chunk:
                    status = self._process.wait()
                    raise RuntimeError(f"the local cloud exited at start (status {status})")
                buffer += chunk
        finally:
            stream.close()

    def _wait_for_port(self) -> None:
        deadline = time.monotonic() + _START_SECONDS
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    message = f"the local cloud did not listen on {self.endpoint} within 60 s"
                    raise RuntimeError(message) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop the child; it saves its state first (given up to a minute)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
