"""`baryon up` (the embedded default) driven with the `aws` CLI, as a new user would."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.support import bundles
from tests.support.awscli_contract import config_env
from tests.support.processes import Process, wait_for_port

pytestmark = pytest.mark.e2e


def _exports(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            values[key] = shlex.split(value)[0]
    return values


def test_up_with_aws_cli(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port, cloud_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}
    up = Process(
        ["up", "--port", str(port), "--cloud-port", str(cloud_port), "--data-dir", str(data)],
        env,
        tmp_path / "up.log",
    )
    try:
        wait_for_port(port, process=up.popen)
        env_file = data / "baryon.env"
        assert env_file.stat().st_mode & 0o777 == 0o600
        exports = _exports(env_file)
        assert exports["AWS_ENDPOINT_URL_PROTON"] == f"http://127.0.0.1:{port}"
        assert exports["AWS_ENDPOINT_URL_S3"] == f"http://127.0.0.1:{cloud_port}"
        assert "export AWS_SECRET_ACCESS_KEY=" in up.output()
        aws_env = {**env, **exports, **config_env(tmp_path)}

        def aws(*args: str) -> dict[str, object]:
            result = subprocess.run(
                [shutil.which("aws") or "aws", *args],
                env=aws_env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, (args, result.stderr)
            return json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}

        bundle = tmp_path / "env.tar.gz"
        bundle.write_bytes(bundles.environment_bundle())
        aws("s3", "mb", "s3://my-bundles")
        aws("s3", "cp", str(bundle), "s3://my-bundles/env.tar.gz")
        created = aws("proton", "create-environment-template", "--name", "my-env", "--display-name", "My env")
        assert created["environmentTemplate"]["name"] == "my-env"  # type: ignore[index]
        version = aws(
            "proton",
            "create-environment-template-version",
            "--template-name",
            "my-env",
            "--source",
            "s3={bucket=my-bundles,key=env.tar.gz}",
        )
        assert version["environmentTemplateVersion"]["status"] == "REGISTRATION_IN_PROGRESS"  # type: ignore[index]
        aws(
            "proton",
            "wait",
            "environment-template-version-registered",
            "--template-name",
            "my-env",
            "--major-version",
            "1",
            "--minor-version",
            "0",
        )
        aws(
            "proton",
            "update-environment-template-version",
            "--template-name",
            "my-env",
            "--major-version",
            "1",
            "--minor-version",
            "0",
            "--status",
            "PUBLISHED",
        )
        listed = aws("proton", "list-environment-template-versions", "--template-name", "my-env")
        assert [(v["majorVersion"], v["minorVersion"], v["status"]) for v in listed["templateVersions"]] == [  # type: ignore[index]
            ("1", "0", "PUBLISHED")
        ]
        got = aws("proton", "get-environment-template", "--name", "my-env")
        assert got["environmentTemplate"]["recommendedVersion"] == "1.0"  # type: ignore[index]
        assert up.stop(signal.SIGINT, timeout=20) == 0
    finally:
        up.stop(signal.SIGKILL)

    again = Process(
        ["up", "--port", str(port), "--cloud-port", str(cloud_port), "--data-dir", str(data)],
        env,
        tmp_path / "up2.log",
    )
    try:
        wait_for_port(port, process=again.popen)
        assert _exports(data / "baryon.env")["AWS_ACCESS_KEY_ID"] == exports["AWS_ACCESS_KEY_ID"]
    finally:
        assert again.stop(signal.SIGINT) == 0


CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "checks" / "cli-contract.py"


@pytest.mark.skipif(not CONTRACT.exists(), reason="the shared contract checks are not beside this checkout")
def test_shared_cli_contract() -> None:
    result = subprocess.run(
        ["python3", str(CONTRACT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cli contract: holds" in result.stdout
