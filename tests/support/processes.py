"""Real Baryon processes for end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

from baryon.protocol.sigv4 import Credential
from tests.support.waiting import poll

BARYON = shutil.which("baryon") or "baryon"


def wait_for_port(port: int, timeout: float = 60.0, process: subprocess.Popen[Any] | None = None) -> None:
    """Wait until something listens on 127.0.0.1:`port`; fail at once if `process` exits first."""

    def listening() -> bool:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    poll(listening, timeout=timeout, interval=0.1, what=f"a server listening on 127.0.0.1:{port}")


def read_exports(env_file: Path) -> dict[str, str]:
    """The variables a `baryon.env` written by `baryon up` exports."""
    values = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            values[key] = shlex.split(value)[0]
    return values


def baryon_env(
    data_dir: Path, database_url: str, secret_key: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BARYON_", "AWS_"))}
    env.update(
        BARYON_DATA_DIR=str(data_dir),
        BARYON_DATABASE_URL=database_url,
        BARYON_SECRET_KEY=secret_key,
        BARYON_LOG_LEVEL="warning",
    )
    env.update(extra or {})
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BARYON, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def create_credential(env: dict[str, str], account_id: str) -> Credential:
    result = run(["credentials", "create", "--account-id", account_id, "--output", "json"], env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    return Credential(data["accessKeyId"], data["secretAccessKey"], data["accountId"], data["name"])


class Process:
    """A `baryon` subcommand in its own process group, stopped on exit."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._handle = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            [BARYON, *args], env=env, stdout=self._handle, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._handle.close()
        return int(self.popen.returncode)

    def output(self) -> str:
        return self.log.read_text(errors="replace")
