"""`baryon up` provisioning an environment by commands: the commands reach Baryon's API at the address
`baryon up` listens on, with a credential that may only notify for their environment."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.bundles import TF_ENV_SCHEMA, tar_gz
from tests.support.up import running_up

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


def test_up_runs_the_commands_against_its_own_api(tmp_path: Path) -> None:
    with running_up(tmp_path) as running:
        port, env, data, aws = running.port, running.env, running.data, running.aws

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
