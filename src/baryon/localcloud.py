"""The local cloud: moto's server beside `baryon up`, standing in for S3, CloudFormation, STS, IAM, ….

Invariants: it runs as a child process of `baryon up` (so its request handling does not compete with
Baryon's threads for one interpreter), listens only on the given host and port, and ends with its parent
(on Linux it is told to when the parent dies, even by SIGKILL); while it runs, the parent's outgoing AWS
calls go to it (`AWS_ENDPOINT_URL`), unless a per-service endpoint variable says otherwise. Its state
lives in memory and is gone after a restart.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

LOCAL_ACCOUNT_ID = "123456789012"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalCloud:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.endpoint = f"http://{host}:{port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        deadline = time.monotonic() + 60
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"the local cloud exited at start (status {self._process.returncode})")
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    message = f"the local cloud did not listen on {self.endpoint} within 60 s"
                    raise RuntimeError(message) from None
                time.sleep(0.1)
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "baryon-local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "baryon-local")

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
