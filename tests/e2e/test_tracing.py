"""OpenTelemetry traces from real `baryon server` and `baryon worker` processes, received by an OTLP/HTTP
receiver on loopback: the request that creates a deployment and the job steps that carry it out are one
trace, and both name the deployment."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.conftest import ACCOUNT, SECRET_KEY, free_port
from tests.support import bundles
from tests.support.clients import http_client
from tests.support.databases import sqlite_only
from tests.support.processes import Process, baryon_env, create_credential, wait_for_port
from tests.support.waiters import FAST
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

ROLE = "arn:aws:iam::123456789012:role/proton"


class Receiver:
    """The spans posted to /v1/traces, as dicts (name, trace and span ids, parent, attributes)."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()

    def take(self, path: str, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self._lock:
            self.paths.append(path)
            for resource_spans in request.resource_spans:
                service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        attributes = {a.key: _value(a.value) for a in span.attributes}
                        self.spans.append(
                            {
                                "name": span.name,
                                "trace": span.trace_id.hex(),
                                "span": span.span_id.hex(),
                                "parent": span.parent_span_id.hex(),
                                "attributes": attributes,
                                "service": service.get("service.name"),
                            }
                        )

    def named(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [span for span in self.spans if span["name"] == name]


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    received = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.take(self.path, body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@sqlite_only
def test_a_deployment_is_one_trace_from_request_to_steps(
    receiver: tuple[Receiver, str], database_url: str, tmp_path: Path, moto_endpoint: str, s3: Any
) -> None:
    received, otlp = receiver
    env = baryon_env(
        tmp_path / "data",
        database_url,
        SECRET_KEY,
        {
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_SERVICE_NAME": "baryon-test",
        },
    )
    credential = create_credential(env, ACCOUNT)
    port = free_port()
    processes = [
        Process(["server", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "server.log"),
        Process(["worker", "--concurrency", "1"], env, tmp_path / "worker.log"),
    ]
    try:
        wait_for_port(port, process=processes[0].popen)
        proton = http_client(f"http://127.0.0.1:{port}", credential)
        proton.create_environment_template(name="net")
        key = f"{uuid.uuid4().hex}.tar.gz"
        s3.put_object(Bucket="bundles", Key=key, Body=bundles.environment_bundle())
        proton.create_environment_template_version(
            templateName="net", source={"s3": {"bucket": "bundles", "key": key}}
        )
        proton.get_waiter("environment_template_version_registered").wait(
            templateName="net", majorVersion="1", minorVersion="0", WaiterConfig=FAST
        )
        proton.update_environment_template_version(
            templateName="net", majorVersion="1", minorVersion="0", status="PUBLISHED"
        )
        created = proton.create_environment(
            name="dev",
            templateName="net",
            templateMajorVersion="1",
            spec="proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.0.0.0/16\n",
            protonServiceRoleArn=ROLE,
        )["environment"]
        deployment_id = created["lastAttemptedDeploymentId"]
        proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)

        def finished_steps() -> list[dict[str, Any]]:
            return [
                span
                for span in received.named("job deploy")
                if span["attributes"].get("baryon.job_state") == "done"
            ]

        wait_for(lambda: received.named("CreateEnvironment") and finished_steps(), timeout=60)
        (request,) = received.named("CreateEnvironment")
        assert request["service"] == "baryon-test"
        attributes = request["attributes"]
        assert attributes["baryon.deployment_id"] == deployment_id
        assert attributes["baryon.account"] == ACCOUNT
        assert attributes["baryon.region"] == "us-east-1"
        assert attributes["http.response.status_code"] == 200
        assert attributes["baryon.code"] == "200"
        assert len(attributes["baryon.request_id"]) == 36

        steps = [span for span in received.named("job deploy") if span["trace"] == request["trace"]]
        assert steps, received.spans
        for step in steps:
            # Every step of the deployment's job is a child of the request that created the job.
            assert step["parent"] == request["span"]
            assert step["attributes"]["baryon.deployment_id"] == deployment_id
            assert step["attributes"]["baryon.job_kind"] == "deploy"
            assert step["attributes"]["baryon.outcome"] in {"done", "wait", "retry"}
        assert finished_steps()[-1]["trace"] == request["trace"]
        assert {span["attributes"]["baryon.step"] for span in steps} >= {1}
        # A read names the deployment it returned.
        proton.get_deployment(id=deployment_id)
        wait_for(lambda: received.named("GetDeployment"), timeout=30)
        (read,) = received.named("GetDeployment")
        assert read["attributes"]["baryon.deployment_id"] == deployment_id
        assert set(received.paths) == {"/v1/traces"}
    finally:
        for process in processes:
            process.stop()
