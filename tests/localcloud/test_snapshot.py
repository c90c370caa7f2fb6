"""The local cloud's snapshot: what it restores after a restart or a crash, and what it refuses."""

from __future__ import annotations

import json
import signal
import stat
import time
from pathlib import Path

import pytest

from baryon.localcloud import forget, snapshot
from tests.localcloud.conftest import Cloud
from tests.support.waiting import poll

TEMPLATE = json.dumps(
    {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 300}},
            "Bucket": {"Type": "AWS::S3::Bucket"},
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {}}},
            "Parameter": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/from/stack", "Type": "String", "Value": "v"},
            },
        },
        "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}},
    }
)


def test_a_restart_finds_stacks_objects_roles_parameters_and_keys(cloud: Cloud) -> None:
    assert cloud.start() == {"empty": True}
    cloudformation = cloud.client("cloudformation")
    stack_id = cloudformation.create_stack(StackName="app", TemplateBody=TEMPLATE)["StackId"]
    cloud.client("s3").create_bucket(Bucket="bundles")
    cloud.client("s3").put_object(Bucket="bundles", Key="env.tar.gz", Body=b"bundle bytes")
    role = cloud.client("iam").create_role(RoleName="deployer", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    cloud.client("ssm").put_parameter(Name="/app/colour", Value="blue", Type="String")
    outputs = cloudformation.describe_stacks(StackName="app")["Stacks"][0]["Outputs"]
    assert cloud.stop(signal.SIGTERM) == 0

    header = snapshot.read_header(cloud.state)
    assert header.counts == {
        "stacks": 1, "buckets": 2, "roles": 1, "parameters": 2, "queues": 1, "topics": 0, "functions": 0
    }  # fmt: skip
    assert stat.S_IMODE(cloud.state.stat().st_mode) == 0o600

    report = cloud.start()
    assert report["restored"] == header.counts and report["savedAt"] == header.saved_at
    cloudformation = cloud.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName="app")["Stacks"][0]
    assert (stack["StackId"], stack["StackStatus"], stack["Outputs"]) == (
        stack_id,
        "CREATE_COMPLETE",
        outputs,
    )
    assert cloud.client("s3").get_object(Bucket="bundles", Key="env.tar.gz")["Body"].read() == b"bundle bytes"
    assert cloud.client("iam").get_role(RoleName="deployer")["Role"]["Arn"] == role
    assert cloud.client("ssm").get_parameter(Name="/app/colour")["Parameter"]["Value"] == "blue"
    assert cloud.client("ssm").get_parameter(Name="/from/stack")["Parameter"]["Value"] == "v"
    sqs = cloud.client("sqs")
    (queue,) = sqs.list_queues()["QueueUrls"]
    sqs.send_message(QueueUrl=queue, MessageBody="still works")
    assert sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"] == "still works"
    kms = cloud.client("kms")
    (key,) = kms.list_keys()["Keys"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    # The restored stack can still change and go.
    cloudformation.delete_stack(StackName="app")
    assert cloudformation.describe_stacks()["Stacks"] == []


def test_a_crash_loses_at_most_the_last_moments(cloud: Cloud) -> None:
    cloud.start()
    before = time.time()
    cloud.client("s3").create_bucket(Bucket="kept")
    poll(lambda: cloud.state.exists() and cloud.state.stat().st_mtime > before, timeout=30, interval=0.05)
    assert cloud.stop(signal.SIGKILL) == -signal.SIGKILL
    assert cloud.start()["restored"]["buckets"] == 1
    assert [b["Name"] for b in cloud.client("s3").list_buckets()["Buckets"]] == ["kept"]


def test_reads_do_not_rewrite_the_snapshot(cloud: Cloud) -> None:
    cloud.start()
    cloud.client("s3").create_bucket(Bucket="kept")
    poll(lambda: cloud.state.exists(), timeout=30, interval=0.05)
    saved = cloud.state.stat().st_mtime_ns
    for _ in range(5):
        cloud.client("s3").list_buckets()
        cloud.client("cloudformation").describe_stacks()
    assert cloud.stop(signal.SIGTERM) == 0
    assert cloud.state.stat().st_mtime_ns == saved


def _header(moto: str) -> bytes:
    header = snapshot.Header(snapshot.FORMAT, moto, snapshot.python_version(), 1.0, {"stacks": 3})
    return header.to_json() + b"\n"


@pytest.mark.parametrize(
    ("content", "why", "reason"),
    [
        (_header("0.0.1") + b"whatever", "incompatible", "it was saved by moto 0.0.1"),
        (_header(snapshot.moto_version()) + b"not a pickle", "unreadable", "it could not be read"),
        (b"\x00\x01 not even a header", "unreadable", "does not start with a local cloud snapshot header"),
    ],
)
def test_a_snapshot_it_cannot_use_is_set_aside(cloud: Cloud, content: bytes, why: str, reason: str) -> None:
    cloud.state.write_bytes(content)
    report = cloud.start()
    moved = Path(report["setAside"])
    assert moved.parent == cloud.state.parent and moved.name.startswith(f"local-cloud.state.{why}-")
    assert moved.read_bytes() == content
    assert reason in report["reason"]
    assert cloud.client("s3").list_buckets()["Buckets"] == []
    assert not cloud.state.exists()


def test_write_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_bytes(b"old")
    header = snapshot.Header(1, "5", "3.11", 2.0, {"stacks": 1, "roles": 2})
    snapshot.write(path, header, b"body")
    assert path.read_bytes() == header.to_json() + b"\nbody"
    assert [p.name for p in tmp_path.iterdir()] == ["state"]
    assert snapshot.read_header(path) == header


def test_incompatible_names_both_versions() -> None:
    header = snapshot.Header(snapshot.FORMAT, "4.0.0", "3.9", 0.0, {})
    with pytest.raises(snapshot.Incompatible) as raised:
        snapshot.check_compatible(header)
    assert str(raised.value).startswith("it was saved by moto 4.0.0 on Python 3.9")
    assert f"runs moto {snapshot.moto_version()}" in str(raised.value)


def test_counts_read_as_a_sentence() -> None:
    assert (
        snapshot.describe_counts({"stacks": 1, "buckets": 2, "roles": 0, "queues": 1})
        == "1 stack, 2 buckets, 1 queue"
    )
    assert snapshot.describe_counts({}) == "nothing"


def test_forget_says_what_it_forgets(tmp_path: Path) -> None:
    state = tmp_path / "local-cloud.state"
    assert forget(state) == "Resetting the local cloud: it has no saved state to forget."
    snapshot.write(state, snapshot.Header(1, "5", "3.11", 0.0, {"stacks": 2, "roles": 1}), b"")
    assert (
        forget(state) == f"Resetting the local cloud: forgetting 2 stacks, 1 role ({state}); it starts empty."
    )
    assert not state.exists()
    state.write_bytes(b"garbage")
    assert "a snapshot whose contents cannot be read" in forget(state)
    assert not state.exists()
