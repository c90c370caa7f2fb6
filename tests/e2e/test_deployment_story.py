"""A deployment's story as a user sees it: `baryon up` prints a line when a deployment starts and one when
it ends (with the result and the reason), and `baryon logs ID` prints Baryon's steps and the stack's
events of a CloudFormation deployment, read from the database without AWS credentials."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.bundles import CFN_MANIFEST, ENV_SCHEMA, environment_bundle, tar_gz
from tests.support.up import running_up
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

BROKEN_ENV = """Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: '{{ environment.inputs.no_such_input }}'
"""


def test_up_prints_each_deployment_and_logs_tell_the_cloudformation_story(tmp_path: Path) -> None:
    with running_up(tmp_path) as running:
        up, env, data, aws = running.process, running.env, running.data, running.aws

        def template(name: str, bundle: bytes) -> None:
            path = tmp_path / f"{name}.tar.gz"
            path.write_bytes(bundle)
            aws("s3", "cp", str(path), f"s3://story-bundles/{name}.tar.gz")
            aws("proton", "create-environment-template", "--name", name)
            aws(
                "proton", "create-environment-template-version", "--template-name", name,
                "--source", f"s3={{bucket=story-bundles,key={name}.tar.gz}}",
            )  # fmt: skip
            aws(
                "proton", "wait", "environment-template-version-registered", "--template-name", name,
                "--major-version", "1", "--minor-version", "0",
            )  # fmt: skip
            aws(
                "proton", "update-environment-template-version", "--template-name", name,
                "--major-version", "1", "--minor-version", "0", "--status", "PUBLISHED",
            )  # fmt: skip

        aws("s3", "mb", "s3://story-bundles")
        template("net", environment_bundle())
        broken = {
            "schema/schema.yaml": ENV_SCHEMA,
            "infrastructure/manifest.yaml": CFN_MANIFEST,
            "infrastructure/cloudformation.yaml": BROKEN_ENV,
        }
        template("broken", tar_gz(broken, "environment/"))
        spec = tmp_path / "spec.yaml"
        spec.write_text("proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.0.0.0/16\n")
        trust = tmp_path / "trust.json"
        trust.write_text(
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", '
            '"Principal": {"Service": "cloudformation.amazonaws.com"}}]}'
        )
        aws("iam", "create-role", "--role-name", "proton", "--assume-role-policy-document", f"file://{trust}")
        role = "arn:aws:iam::123456789012:role/proton"
        for name, template_name in (("dev", "net"), ("bad", "broken")):
            aws(
                "proton", "create-environment", "--name", name, "--template-name", template_name,
                "--template-major-version", "1", "--spec", f"file://{spec}",
                "--proton-service-role-arn", role,
            )  # fmt: skip
        aws("proton", "wait", "environment-deployed", "--name", "dev")
        dev = aws("proton", "get-environment", "--name", "dev")["environment"]
        good = dev["lastSucceededDeploymentId"]
        wait_for(
            lambda: (
                aws("proton", "get-environment", "--name", "bad")["environment"]["deploymentStatus"]
                == "FAILED"
            )
        )
        bad = aws("proton", "get-environment", "--name", "bad")["environment"]
        failed = bad["lastAttemptedDeploymentId"]

        # `baryon up` told the start and the end of each deployment.
        wait_for(lambda: f"deployment {failed} environment bad (cloudformation) FAILED" in up.output())
        printed = up.output()
        assert f"deployment {good} environment dev (cloudformation) started\n" in printed
        assert re.search(
            rf"deployment {good} environment dev \(cloudformation\) SUCCEEDED in \d+\.\d s\n", printed
        )
        assert f"deployment {failed} environment bad (cloudformation) started\n" in printed
        ended = re.search(
            rf"deployment {failed} environment bad \(cloudformation\) FAILED in \d+\.\d s: (.*)\n", printed
        )
        assert ended is not None, printed
        assert ended.group(1) == bad["deploymentStatusMessage"]

        # `baryon logs` tells the CloudFormation deployment's story, without AWS credentials.
        plain = {k: v for k, v in env.items() if not k.startswith("AWS_")}
        logs = subprocess.run(
            [shutil.which("baryon") or "baryon", "logs", good, "--data-dir", str(data)],
            env=plain,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert logs.returncode == 0, logs.stderr
        lines = logs.stdout.splitlines()
        stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
        assert all(re.match(rf"\[(baryon|cloudformation)\] {stamp} ", line) for line in lines), lines
        steps = [line.split(" ", 2)[2] for line in lines if line.startswith("[baryon]")]
        assert steps[0].startswith("CREATE of arn:aws:proton:") and steps[0].endswith(
            ":environment/dev (template version 1.0) through cloudformation"
        )
        assert steps[1].startswith("Rendered the stack template (")
        assert steps[2].startswith("CreateStack ") and steps[2].endswith("waiting for the stack")
        assert re.fullmatch(r"Stack \S+ is CREATE_COMPLETE: read 1 output\(s\) and 1 resource\(s\)", steps[3])
        assert re.fullmatch(r"SUCCEEDED \(\d+\.\d s after the deployment began\)", steps[4])
        assert len(steps) == 5
        events = [line.split(" ", 2)[2] for line in lines if line.startswith("[cloudformation]")]
        # The local cloud records the stack's own events (in time order: the creation, then its end).
        assert re.fullmatch(
            r"AWSProton-dev-\w+ AWS::CloudFormation::Stack CREATE_IN_PROGRESS.*", events[0]
        ), events
        assert re.fullmatch(r"AWSProton-dev-\w+ AWS::CloudFormation::Stack CREATE_COMPLETE", events[-1]), (
            events
        )
        assert len(events) == len(set(events)), "an event was copied twice"
        # The stack events come between the stack's creation and the outputs read.
        first_event = lines.index(next(line for line in lines if line.startswith("[cloudformation]")))
        assert lines.index(next(line for line in lines if "CreateStack" in line)) < first_event

        failed_logs = subprocess.run(
            [shutil.which("baryon") or "baryon", "logs", failed, "--data-dir", str(data)],
            env=plain,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert failed_logs.returncode == 0, failed_logs.stderr
        last = failed_logs.stdout.splitlines()[-1]
        assert re.fullmatch(
            rf"\[baryon\] \S+ FAILED: {re.escape(bad['deploymentStatusMessage'])} "
            r"\(\d+\.\d s after the deployment began\)",
            last,
        ), last
