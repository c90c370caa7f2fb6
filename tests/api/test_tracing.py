"""Request spans recorded in process (the SDK's in-memory exporter), and tracing off by default."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from baryon import tracing
from baryon.api.dispatch import Dispatcher
from tests.conftest import ACCOUNT


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    try:
        yield exporter
    finally:
        tracing.use_provider(None)
        provider.shutdown()


def test_each_request_is_a_span_with_its_ids_and_result(proton: Any, spans: InMemorySpanExporter) -> None:
    created = proton.create_environment_template(name="net")
    with pytest.raises(ClientError):
        proton.get_environment_template(name="missing")
    ok, failed = spans.get_finished_spans()
    assert ok.name == "CreateEnvironmentTemplate"
    assert dict(ok.attributes or {}) == {
        "baryon.request_id": created["ResponseMetadata"]["RequestId"],
        "baryon.account": ACCOUNT,
        "baryon.region": "us-east-1",
        "http.response.status_code": 200,
        "baryon.code": "200",
    }
    assert failed.name == "GetEnvironmentTemplate"
    assert (failed.attributes or {})["baryon.code"] == "ResourceNotFoundException"
    assert (failed.attributes or {})["http.response.status_code"] == 400


def test_a_console_call_is_a_span_too(dispatcher: Dispatcher, spans: InMemorySpanExporter) -> None:
    principal = f"arn:aws:iam::{ACCOUNT}:user/console"
    dispatcher.invoke(ACCOUNT, "us-east-1", principal, "CreateEnvironmentTemplate", {"name": "net"})
    (span,) = spans.get_finished_spans()
    assert span.name == "CreateEnvironmentTemplate"
    attributes = dict(span.attributes or {})
    assert attributes["baryon.account"] == ACCOUNT and attributes["baryon.code"] == "200"
    assert attributes["http.response.status_code"] == 200 and len(str(attributes["baryon.request_id"])) == 36


def test_without_the_endpoint_nothing_of_opentelemetry_is_loaded() -> None:
    script = (
        "import sys\n"
        "from baryon import tracing\n"
        "with tracing.request_span('CreateEnvironment') as span:\n"
        "    assert span is None\n"
        "    assert tracing.traceparent() is None\n"
        "with tracing.step_span('j', 'deploy', 1, {'traceparent': 'x'}) as span:\n"
        "    assert span is None\n"
        "assert not tracing.enabled()\n"
        "assert not [name for name in sys.modules if name.startswith('opentelemetry')]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
