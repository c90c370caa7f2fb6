"""The README's walkthrough works exactly as written, against `baryon up`."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.support.awscli_contract import config_env
from tests.support.processes import Process, wait_for_port

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "README.md"


def _walkthrough() -> str:
    """The shell blocks of the README's walkthrough sections, in order."""
    text = README.read_text()
    section = text.split("## A first template", 1)[1].split("## Documentation", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2, "the README walkthrough has two shell blocks"
    return "\n".join(blocks)


def test_readme_walkthrough(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}
    env["HOME"] = str(home)
    env.update(config_env(tmp_path))
    port, cloud_port = free_port(), free_port()
    up = Process(["up", "--port", str(port), "--cloud-port", str(cloud_port)], env, tmp_path / "up.log")
    try:
        wait_for_port(port, process=up.popen)
        workdir = tmp_path / "work"
        workdir.mkdir()
        shutil.copytree(README.parent / "examples", workdir / "examples")
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", _walkthrough()],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert '"status": "PUBLISHED"' in result.stdout
        assert '"key": "DeadLetterQueueArn"' in result.stdout
        assert '"name": "production"' in result.stdout and '"name": "staging"' in result.stdout
        assert '"key": "WorkQueueUrl"' in result.stdout
        assert '"valueString": "production,staging"' in result.stdout
    finally:
        assert up.stop(signal.SIGINT) == 0
