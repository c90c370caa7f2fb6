"""`baryon up` provisioning an environment by commands: the commands reach Baryon's API at the address
`baryon up` listens on, with a credential that may only notify for their environment."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.support.awscli_contract import config_env
from tests.support.bundles import TF_ENV_SCHEMA, tar_gz
from tests.support.processes import Process, wait_for_port

pytestmark = pytest.mark.e2e

MANIFEST = """infrastructure:
  templates:
    - rendering_engine: codebuild
      settings:
        provision:
          - "aws proton get-environment --name dev > answer.txt 2>&1 || true"
          - "cat answer.txt"
          - "printf '{\\"Endpoint\\": \\"%s\\"}' \\"$AWS_ENDPOINT_URL_PROTON\\" > proton-outputs.json"
"""


def _exports(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            values[key] = shlex.split(value)[0]
    return values


def test_up_runs_the_commands_against_its_own_api(tmp_path: Path) -> None:
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
        aws_env = {**env, **_exports(data / "baryon.env"), **config_env(tmp_path)}

        def aws(*args: str) -> Any:
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
        bundle.write_bytes(
            tar_gz({"schema/schema.yaml": TF_ENV_SCHEMA, "infrastructure/manifest.yaml": MANIFEST}, "env/")
        )
        aws("s3", "mb", "s3://cb-bundles")
        aws("s3", "cp", str(bundle), "s3://cb-bundles/env.tar.gz")
        aws("proton", "create-environment-template", "--name", "cb")
        aws(
            "proton", "create-environment-template-version", "--template-name", "cb",
            "--source", "s3={bucket=cb-bundles,key=env.tar.gz}",
        )  # fmt: skip
        aws(
            "proton", "wait", "environment-template-version-registered", "--template-name", "cb",
            "--major-version", "1", "--minor-version", "0",
        )  # fmt: skip
        aws(
            "proton", "update-environment-template-version", "--template-name", "cb",
            "--major-version", "1", "--minor-version", "0", "--status", "PUBLISHED",
        )  # fmt: skip
        spec = tmp_path / "spec.yaml"
        spec.write_text("proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.0.0.0/16\n")
        aws(
            "proton", "create-environment", "--name", "dev", "--template-name", "cb",
            "--template-major-version", "1", "--spec", f"file://{spec}",
            "--codebuild-role-arn", "arn:aws:iam::123456789012:role/codebuild",
        )  # fmt: skip
        aws("proton", "wait", "environment-deployed", "--name", "dev")
        outputs = aws("proton", "list-environment-outputs", "--environment-name", "dev")["outputs"]
        assert outputs == [{"key": "Endpoint", "valueString": f"http://127.0.0.1:{port}"}]
        deployment_id = aws("proton", "get-environment", "--name", "dev")["environment"][
            "lastSucceededDeploymentId"
        ]
        logs = subprocess.run(
            [shutil.which("baryon") or "baryon", "logs", deployment_id, "--data-dir", str(data)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert logs.returncode == 0, logs.stderr
        assert "AccessDeniedException" in logs.stdout
        assert "is not authorized to perform: proton:GetEnvironment on resource:" not in logs.stdout
        assert "is not authorized to perform: proton:GetEnvironment because" in logs.stdout
    finally:
        up.stop()
