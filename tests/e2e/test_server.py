"""boto3 against real `baryon server` and `baryon worker` processes, with moto as S3."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from baryon.protocol.sigv4 import Credential
from tests.conftest import OTHER_ACCOUNT, free_port
from tests.e2e.conftest import Deployment
from tests.support import bundles
from tests.support.clients import http_client
from tests.support.databases import sqlite_only
from tests.support.processes import Process, create_credential, run, wait_for_port
from tests.support.waiters import FAST
from tests.support.waiting import poll

pytestmark = pytest.mark.e2e


def _raw(endpoint: str, target: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any, Any]:
    request = urllib.request.Request(endpoint + "/", data=body, method="POST")
    request.add_header("X-Amz-Target", target)
    request.add_header("Content-Type", "application/x-amz-json-1.0")
    for key, value in headers.items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"{}")


def _signed_headers(
    endpoint: str, credential: Credential, target: str, body: bytes, at: datetime | None = None
) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"},
    )
    auth = SigV4Auth(
        Credentials(credential.access_key_id, credential.secret_access_key), "proton", "us-east-1"
    )
    if at is None:
        auth.add_auth(request)
    else:
        stamp = at.strftime("%Y%m%dT%H%M%SZ")
        request.context["timestamp"] = stamp
        request.headers["X-Amz-Date"] = stamp
        request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
        canonical = auth.canonical_request(request)
        string_to_sign = auth.string_to_sign(request, canonical)
        signature = auth.signature(string_to_sign, request)
        signed = ";".join(auth.headers_to_sign(request))
        scope = f"{credential.access_key_id}/{stamp[:8]}/us-east-1/proton/aws4_request"
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={signed}, Signature={signature}"
        )
    return {k: v for k, v in request.headers.items() if k.lower() not in ("x-amz-target", "content-type")}


def test_template_registry_end_to_end(deployment: Deployment, s3: Any) -> None:
    proton = http_client(deployment.endpoint, deployment.credential)
    proton.create_environment_template(name="web-env", displayName="Web environment")
    key = f"{uuid.uuid4().hex}.tar.gz"
    s3.put_object(Bucket="bundles", Key=key, Body=bundles.environment_bundle())
    created = proton.create_environment_template_version(
        templateName="web-env", source={"s3": {"bucket": "bundles", "key": key}}
    )
    assert created["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    proton.get_waiter("environment_template_version_registered").wait(
        templateName="web-env", majorVersion="1", minorVersion="0", WaiterConfig=FAST
    )
    proton.update_environment_template_version(
        templateName="web-env", majorVersion="1", minorVersion="0", status="PUBLISHED"
    )
    assert (
        proton.get_environment_template(name="web-env")["environmentTemplate"]["recommendedVersion"] == "1.0"
    )
    versions = proton.list_environment_template_versions(templateName="web-env")["templateVersions"]
    assert [v["status"] for v in versions] == ["PUBLISHED"]


@sqlite_only
def test_signature_failures_over_http(deployment: Deployment) -> None:
    endpoint = deployment.endpoint
    unknown = Credential("AKIAUNKNOWNUNKNOWN00", "x", "111111111111", "x")
    with pytest.raises(ClientError) as caught:
        http_client(endpoint, unknown).list_environment_templates()
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    wrong_secret = Credential(deployment.credential.access_key_id, "wrong", "111111111111", "x")
    with pytest.raises(ClientError) as caught:
        http_client(endpoint, wrong_secret).list_environment_templates()
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"

    target = "AwsProton20200720.ListEnvironmentTemplates"
    old = datetime.now(UTC) - timedelta(minutes=20)
    status, headers, body = _raw(
        endpoint, target, b"{}", _signed_headers(endpoint, deployment.credential, target, b"{}", old)
    )
    assert status == 400
    assert body["__type"].endswith("#InvalidSignatureException")
    assert body["message"].startswith(
        f"Signature expired: {old.strftime('%Y%m%dT%H%M%SZ')} is now earlier than"
    )
    assert headers.get("X-Amzn-ErrorType") == "InvalidSignatureException"
    assert headers.get("X-Amzn-RequestId")

    status, _, body = _raw(
        endpoint, target, b"{}", _signed_headers(endpoint, deployment.credential, target, b"{}")
    )
    assert (status, body) == (200, {"templates": []})
    status, _, body = _raw(endpoint, target, b"{}", {})
    assert status == 400 and body["__type"].endswith("#MissingAuthenticationTokenException")


@sqlite_only
def test_bad_requests_are_clear_errors_never_500(deployment: Deployment) -> None:
    endpoint, credential = deployment.endpoint, deployment.credential
    cases = [
        ("AwsProton20200720.NoSuchOperation", b"{}", "UnknownOperationException"),
        ("AwsProton20200720.CreateEnvironmentTemplate", b"{not json", "ValidationException"),
        ("AwsProton20200720.CreateEnvironmentTemplate", b"[1, 2]", "ValidationException"),
        ("AwsProton20200720.CreateEnvironmentTemplate", b'{"name": 5}', "ValidationException"),
        ("AwsProton20200720.GetEnvironmentTemplate", b'{"name": "x" }', "ResourceNotFoundException"),
        ("AwsProton20200720.ListEnvironmentTemplates", b'{"nextToken": "!!!"}', "ValidationException"),
        ("AwsProton20200720.ListEnvironmentTemplates", b'{"nextToken": "AAAA"}', "ValidationException"),
        ("AwsProton20200720.CreateEnvironment", b"{}", "ValidationException"),
    ]
    for target, body, code in cases:
        status, _headers, answer = _raw(
            endpoint, target, body, _signed_headers(endpoint, credential, target, body)
        )
        assert (status, answer["__type"].split("#")[-1]) == (400, code), (target, body, answer)
        assert answer["message"]


def test_revoked_key_and_isolation_across_processes(deployment: Deployment) -> None:
    mine = http_client(deployment.endpoint, deployment.credential)
    other_credential = create_credential(deployment.env, OTHER_ACCOUNT)
    theirs = http_client(deployment.endpoint, other_credential)
    mine.create_environment_template(name="private")
    assert theirs.list_environment_templates()["templates"] == []
    assert run(["credentials", "revoke", other_credential.access_key_id], deployment.env).returncode == 0
    with pytest.raises(ClientError) as caught:
        theirs.list_environment_templates()
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"
    listed = run(["credentials", "list"], deployment.env).stdout
    assert other_credential.access_key_id in listed and "revoked" in listed
    assert other_credential.secret_access_key not in listed


def test_page_tokens_survive_restart_and_other_processes(deployment: Deployment) -> None:
    proton = http_client(deployment.endpoint, deployment.credential)
    for index in range(5):
        proton.create_environment_template(name=f"t{index}")
    page = proton.list_environment_templates(maxResults=2)
    _, other_port = deployment.start_server()
    other = http_client(f"http://127.0.0.1:{other_port}", deployment.credential)
    second = other.list_environment_templates(maxResults=2, nextToken=page["nextToken"])
    assert [t["name"] for t in second["templates"]] == ["t2", "t3"]
    deployment.processes[0].stop()
    deployment.start_server(deployment.port)
    third = proton.list_environment_templates(maxResults=2, nextToken=second["nextToken"])
    assert [t["name"] for t in third["templates"]] == ["t4"]
    assert "nextToken" not in third


def test_multiple_server_workers(deployment: Deployment) -> None:
    _, port = deployment.start_server(None, "--workers", "2")
    proton = http_client(f"http://127.0.0.1:{port}", deployment.credential)
    for index in range(6):
        proton.create_service_template(name=f"s{index}")
    assert len(proton.list_service_templates()["templates"]) == 6
    # Whichever process answers, /metrics counts the requests of all of them.
    for _ in range(4):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
            text = response.read().decode()
        created = [
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "baryon_api_requests_total"
            and sample.labels == {"operation": "CreateServiceTemplate", "code": "200"}
        ]
        assert created == [6.0]


@sqlite_only
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_stopped_server_has_written_every_request_line(deployment: Deployment, workers: str) -> None:
    """JSON lines are written in batches; a SIGTERM right after the requests still finds them all written."""
    deployment.env.update(BARYON_LOG_LEVEL="info", BARYON_LOG_FORMAT="json")
    process, port = deployment.start_server(None, "--workers", workers)
    proton = http_client(f"http://127.0.0.1:{port}", deployment.credential)
    for index in range(5):
        proton.create_service_template(name=f"logged-{index}")
    assert process.stop() in (0, -15)
    lines = [json.loads(line) for line in process.output().splitlines() if line.startswith("{")]
    created = [line for line in lines if line.get("operation") == "CreateServiceTemplate"]
    assert [(line["status"], line["code"]) for line in created] == [(200, "200")] * 5


@sqlite_only
def test_other_paths_methods_and_huge_bodies(deployment: Deployment) -> None:
    for method, path in (("GET", "/"), ("POST", "/other"), ("PUT", "/")):
        request = urllib.request.Request(deployment.endpoint + path, data=b"{}" if method != "GET" else None)
        request.method = method
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        assert caught.value.code in (404, 405)
        assert caught.value.headers.get("x-amzn-RequestId")
        assert json.loads(caught.value.read())["__type"].endswith("#UnknownOperationException")
    huge = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    status, _, body = _raw(deployment.endpoint, "AwsProton20200720.CreateEnvironmentTemplate", huge, {})
    assert status == 413 and body["__type"].endswith("#ValidationException")
    with urllib.request.urlopen(deployment.endpoint + "/health", timeout=10) as response:
        assert json.loads(response.read()) == {"status": "ok"}


def _samples(url: str, name: str) -> dict[str, float]:
    """The samples named `name` at `url` by their labels' values, joined with commas."""
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    return {
        ",".join(sample.labels.values()): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_a_worker_serves_its_metrics(deployment: Deployment, s3: Any) -> None:
    metrics_port = free_port()
    worker = Process(
        ["worker", "--concurrency", "1", "--metrics-port", str(metrics_port)],
        deployment.env,
        deployment.tmp / "metrics-worker.log",
    )
    deployment.processes.append(worker)
    wait_for_port(metrics_port, process=worker.popen)
    proton = http_client(deployment.endpoint, deployment.credential)
    proton.create_environment_template(name="web-env")
    key = f"{uuid.uuid4().hex}.tar.gz"
    s3.put_object(Bucket="bundles", Key=key, Body=bundles.environment_bundle())
    proton.create_environment_template_version(
        templateName="web-env", source={"s3": {"bucket": "bundles", "key": key}}
    )
    proton.get_waiter("environment_template_version_registered").wait(
        templateName="web-env", majorVersion="1", minorVersion="0", WaiterConfig=FAST
    )

    # The registration job is marked done just after the version shows as registered.
    from_worker, _ = poll(
        lambda: (
            _samples(f"http://127.0.0.1:{metrics_port}/metrics", "baryon_jobs"),
            _samples(f"{deployment.endpoint}/metrics", "baryon_jobs"),
        ),
        lambda both: both[0] == both[1] and both[0].get("done", 0) >= 1 and both[0].get("queued", 1) == 0,
        what="the worker's and the API's job metrics to show the finished registration",
    )
    assert set(from_worker) == {"queued", "running", "done", "failed"}


@sqlite_only
def test_metrics_can_be_turned_off(deployment: Deployment) -> None:
    off = {**deployment.env, "BARYON_METRICS": "off"}
    port = free_port()
    server = Process(["server", "--host", "127.0.0.1", "--port", str(port)], off, deployment.tmp / "off.log")
    deployment.processes.append(server)
    wait_for_port(port, process=server.popen)
    proton = http_client(f"http://127.0.0.1:{port}", deployment.credential)
    proton.create_service_template(name="counted-nowhere")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert caught.value.code == 404
    assert json.loads(caught.value.read())["__type"].endswith("#UnknownOperationException")

    refused = run(["worker", "--metrics-port", str(free_port())], off, timeout=60)
    assert refused.returncode == 2
    assert "--metrics-port needs metrics on; BARYON_METRICS is off." in refused.stderr

    bad = run(
        ["server", "--port", str(free_port())], {**deployment.env, "BARYON_METRICS": "maybe"}, timeout=60
    )
    assert bad.returncode != 0
    assert "BARYON_METRICS must be on or off, not 'maybe'." in bad.stderr
