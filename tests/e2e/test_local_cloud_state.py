"""`baryon up`'s local cloud as a template author meets it: its state survives restarts (SIGTERM and
SIGKILL), `--reset-local-cloud` says what it forgets and Baryon's records follow, a missing role fails a
deployment as AWS would, updates change what they describe, and the exports reach every service."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from baryon.protocol.sigv4 import Credential
from tests.conftest import free_port
from tests.support import bundles
from tests.support.awscli_contract import config_env
from tests.support.bundles import QUEUE_ENV, QUEUE_SCHEMA
from tests.support.clients import http_client
from tests.support.processes import Process, read_exports, wait_for_port
from tests.support.publishing import publish_environment_template, publish_environment_version
from tests.support.waiters import FAST
from tests.support.waiting import poll

pytestmark = pytest.mark.e2e

QUEUE_ENV_RENAMED = """Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: {{ environment.inputs.retention }}
Outputs:
  WorkQueueUrl:
    Value: !Ref Queue
  WorkQueueArn:
    Value: !GetAtt Queue.Arn
"""

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "proton.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def _spec(retention: int) -> str:
    return f"proton: EnvironmentSpec\nspec:\n  retention: {retention}\n"


def _queue_bundle(template: str) -> bytes:
    return bundles.tar_gz(
        {
            "schema/schema.yaml": QUEUE_SCHEMA,
            "infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
            "infrastructure/cloudformation.yaml": template,
        },
        "environment/",
    )


class Up:
    """`baryon up` on a data dir, started and stopped as a user does, with clients from its exports."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.data = tmp / "data"
        self.port, self.cloud_port = free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}
        self.process: Process | None = None
        self.runs = 0

    def start(self, *extra: str) -> str:
        self.runs += 1
        log = self.tmp / f"up-{self.runs}.log"
        args = [
            "up",
            "--port",
            str(self.port),
            "--cloud-port",
            str(self.cloud_port),
            "--data-dir",
            str(self.data),
        ]
        self.process = Process([*args, *extra], self.env, log)
        wait_for_port(self.port, process=self.process.popen)
        return self.process.output()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        assert self.process is not None
        code = self.process.stop(sig)
        # uvicorn ends by raising the signal it stopped for again (so SIGTERM ends in -SIGTERM).
        assert code in (0, -sig), self.process.output()
        if sig != signal.SIGKILL:
            assert "Baryon stopped." in self.process.output()
        self.process = None

    @property
    def exports(self) -> dict[str, str]:
        return read_exports(self.data / "baryon.env")

    def client(self, service: str) -> Any:
        exports = self.exports
        if service == "proton":
            credential = Credential(exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"], "", "")
            return http_client(exports["AWS_ENDPOINT_URL_PROTON"], credential)
        return boto3.client(
            service,
            endpoint_url=exports["AWS_ENDPOINT_URL"],
            region_name=exports["AWS_DEFAULT_REGION"],
            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
        )


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    running = Up(tmp_path)
    yield running
    if running.process is not None:
        running.process.stop(signal.SIGKILL)


def _deployed(proton: Any, name: str) -> dict[str, Any]:
    proton.get_waiter("environment_deployed").wait(name=name, WaiterConfig=FAST)
    environment: dict[str, Any] = proton.get_environment(name=name)["environment"]
    return environment


def _settled(proton: Any, name: str) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        found: dict[str, Any] = proton.get_environment(name=name)["environment"]
        return found

    return poll(read, lambda e: not e["deploymentStatus"].endswith("IN_PROGRESS"), timeout=60, interval=0.3)


def _role(iam: Any, name: str) -> str:
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])


def _stack_names(cloudformation: Any) -> list[str]:
    return [stack["StackName"] for stack in cloudformation.describe_stacks()["Stacks"]]


def _saved_after(state: Path, moment: float) -> None:
    poll(lambda: state.exists() and state.stat().st_mtime > moment, timeout=30, interval=0.1)


def test_state_survives_restarts_and_reset_forgets_it(up: Up) -> None:
    assert "The local cloud starts empty." in up.start()
    proton, s3 = up.client("proton"), up.client("s3")
    s3.create_bucket(Bucket="bundles")
    role = _role(up.client("iam"), "provisioning")
    publish_environment_template(proton, s3, "queue-env", _queue_bundle(QUEUE_ENV))
    proton.create_environment(
        name="dev",
        templateName="queue-env",
        templateMajorVersion="1",
        spec=_spec(300),
        protonServiceRoleArn=role,
    )
    first = _deployed(proton, "dev")
    stacks = _stack_names(up.client("cloudformation"))
    assert len(stacks) == 1
    up.stop(signal.SIGTERM)

    output = up.start()
    assert "The local cloud restored 1 stack, 1 bucket, 1 role, 1 queue" in output
    proton, s3 = up.client("proton"), up.client("s3")
    assert _stack_names(up.client("cloudformation")) == stacks
    assert up.client("iam").get_role(RoleName="provisioning")["Role"]["Arn"] == role
    assert s3.list_objects_v2(Bucket="bundles")["KeyCount"] == 1
    again = proton.get_environment(name="dev")["environment"]
    assert again["deploymentStatus"] == "SUCCEEDED" and "deploymentStatusMessage" not in again
    assert again["lastSucceededDeploymentId"] == first["lastSucceededDeploymentId"]

    # A change moments before a crash of the whole process group survives too.
    before = time.time()
    s3.put_object(Bucket="bundles", Key="late", Body=b"written just before the crash")
    _saved_after(up.data / "local-cloud.state", before)
    up.stop(signal.SIGKILL)
    up.start()
    body = up.client("s3").get_object(Bucket="bundles", Key="late")["Body"].read()
    assert body == b"written just before the crash"
    up.stop(signal.SIGTERM)

    output = up.start("--reset-local-cloud")
    assert "Resetting the local cloud: forgetting 1 stack, 1 bucket, 1 role, 1 queue" in output
    assert "environment dev (stack" in output
    proton = up.client("proton")
    assert _stack_names(up.client("cloudformation")) == []
    assert up.client("s3").list_buckets()["Buckets"] == []
    lost = proton.get_environment(name="dev")["environment"]
    assert lost["deploymentStatus"] == "FAILED"
    assert f"The local cloud has no stack {stacks[0]} for this environment" in lost["deploymentStatusMessage"]

    # The role went with the reset: deploying again fails as AWS would, until the role exists again.
    proton.update_environment(name="dev", deploymentType="CURRENT_VERSION", spec=_spec(300))
    refused = _settled(proton, "dev")
    assert refused["deploymentStatus"] == "FAILED"
    assert refused["deploymentStatusMessage"] == f"Role {role} is invalid or cannot be assumed"
    assert _role(up.client("iam"), "provisioning") == role
    proton.update_environment(name="dev", deploymentType="CURRENT_VERSION", spec=_spec(300))
    assert _deployed(proton, "dev")["deploymentStatus"] == "SUCCEEDED"
    assert _stack_names(up.client("cloudformation")) == stacks
    up.stop(signal.SIGTERM)


def test_updates_change_properties_and_outputs(up: Up) -> None:
    up.start()
    proton, s3, sqs = up.client("proton"), up.client("s3"), up.client("sqs")
    s3.create_bucket(Bucket="bundles")
    role = _role(up.client("iam"), "provisioning")
    publish_environment_template(proton, s3, "queue-env", _queue_bundle(QUEUE_ENV))
    proton.create_environment(
        name="dev",
        templateName="queue-env",
        templateMajorVersion="1",
        spec=_spec(300),
        protonServiceRoleArn=role,
    )
    _deployed(proton, "dev")
    (url,) = sqs.list_queues()["QueueUrls"]

    def retention() -> str:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])
        return str(attributes["Attributes"]["MessageRetentionPeriod"])

    assert retention() == "300"
    proton.update_environment(name="dev", deploymentType="CURRENT_VERSION", spec=_spec(600))
    _deployed(proton, "dev")
    assert retention() == "600"

    publish_environment_version(proton, s3, "queue-env", _queue_bundle(QUEUE_ENV_RENAMED), majorVersion="1")
    proton.update_environment(
        name="dev",
        deploymentType="MINOR_VERSION",
        templateMajorVersion="1",
        templateMinorVersion="1",
        spec=_spec(900),
    )
    updated = _deployed(proton, "dev")
    assert updated["templateMinorVersion"] == "1"
    assert retention() == "900"
    outputs = {
        o["key"]: o["valueString"] for o in proton.list_environment_outputs(environmentName="dev")["outputs"]
    }
    assert set(outputs) == {"WorkQueueUrl", "WorkQueueArn"}
    assert outputs["WorkQueueUrl"].endswith(url.rsplit("/", 1)[-1])
    assert sqs.list_queues()["QueueUrls"] == [url]
    up.stop(signal.SIGTERM)


def test_exports_reach_every_service_of_the_local_cloud(up: Up, tmp_path: Path) -> None:
    up.start()
    config = config_env(tmp_path)
    # The tests' contract plugin, and Baryon's plugin for the services AWS CLI v1 sends elsewhere itself.
    Path(config["AWS_CONFIG_FILE"]).write_text(
        "[plugins]\nproton_contract = tests.support.awscli_contract\n"
        "baryon_local_cloud = baryon.localcloud.awscli\n"
    )
    aws_env = {**up.env, **up.exports, **config}

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
        return json.loads(result.stdout) if result.stdout.strip() else {}

    aws("sqs", "create-queue", "--queue-name", "orders")
    assert [u.rsplit("/", 1)[-1] for u in aws("sqs", "list-queues")["QueueUrls"]] == ["orders"]
    aws("ssm", "put-parameter", "--name", "/app/colour", "--value", "blue", "--type", "String")
    assert aws("ssm", "get-parameter", "--name", "/app/colour")["Parameter"]["Value"] == "blue"
    assert aws("lambda", "list-functions")["Functions"] == []
    # boto3 reaches the same services through the exports alone, and Proton still reaches Baryon.
    script = (
        "import boto3, json; print(json.dumps([boto3.client('sqs').list_queues()['QueueUrls'], "
        "boto3.client('ssm').get_parameter(Name='/app/colour')['Parameter']['Value'], "
        "boto3.client('lambda').list_functions()['Functions'], "
        "[t['name'] for t in boto3.client('proton').list_environment_templates()['templates']]]))"
    )
    result = subprocess.run(
        ["python3", "-c", script],
        env={**up.env, **up.exports},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    queues, colour, functions, templates = json.loads(result.stdout)
    assert [u.rsplit("/", 1)[-1] for u in queues] == ["orders"]
    assert (colour, functions, templates) == ("blue", [], [])
    up.stop(signal.SIGTERM)
