"""`baryon up` in a test, as a user runs it: its own data dir on free ports, its exports read from the
`baryon.env` it writes, and the `aws` CLI pointed at it as a shell is after sourcing that file (with the
contract plugin that checks every Proton answer against the model)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.support.awscli_contract import config_env
from tests.support.processes import Process, read_exports, wait_for_port


@dataclass
class Up:
    process: Process
    data: Path
    env: dict[str, str]
    port: int
    cloud_port: int
    tmp: Path

    @property
    def exports(self) -> dict[str, str]:
        return read_exports(self.data / "baryon.env")

    def aws_env(self) -> dict[str, str]:
        return {**self.env, **self.exports, **config_env(self.tmp)}

    def aws(self, *args: str) -> Any:
        """Run `aws …` with the exports; it must succeed. Its JSON answer, or {} when it printed none."""
        result = subprocess.run(
            [shutil.which("aws") or "aws", *args],
            env=self.aws_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (args, result.stderr)
        return json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}


def clean_env() -> dict[str, str]:
    """This process's environment without AWS or Baryon settings, as a new user's shell has it."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}


@contextmanager
def running_up(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[Up]:
    """`baryon up` on free ports with its data dir in `tmp_path`, stopped with Ctrl-C afterwards."""
    data = tmp_path / "data"
    port, cloud_port = free_port(), free_port()
    given = env if env is not None else clean_env()
    process = Process(
        ["up", "--port", str(port), "--cloud-port", str(cloud_port), "--data-dir", str(data), *extra],
        given,
        tmp_path / "up.log",
    )
    try:
        wait_for_port(port, process=process.popen)
        yield Up(process, data, given, port, cloud_port, tmp_path)
    finally:
        process.stop(signal.SIGINT)
