"""The local cloud's own process (`python -m baryon.localcloud.server`), started and stopped by tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import free_port
from tests.support.processes import wait_for_port


class Cloud:
    """One local cloud process on a state file; `start` returns its report line."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.popen: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def start(self) -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        command = [sys.executable, "-m", "baryon.localcloud.server", "--port", str(self.port)]
        self._log = open(self.state.with_suffix(".log"), "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            [*command, "--state", str(self.state)], env=env, stdout=subprocess.PIPE, stderr=self._log
        )
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline()
        wait_for_port(self.port, process=self.popen)
        report: dict[str, Any] = json.loads(line)
        return report

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.popen is not None
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        code = self.popen.wait(60)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self._log.close()
        self.popen = None
        return code

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    running = Cloud(tmp_path / "local-cloud.state")
    yield running
    if running.popen is not None:
        running.stop(signal.SIGKILL)
