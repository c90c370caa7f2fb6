"""OpenTelemetry traces: a span per API request and per job step, exported over OTLP/HTTP when
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set.

Job: `request_span` wraps one API request (name: the operation); `note_deployment` names on the current
span the deployment whose job the request creates; `traceparent` gives the W3C trace context of the
current span, which `store.jobs.enqueue` keeps in the job's payload; `step_span` wraps one job step as a
child of the span that created the job (so one trace follows a deployment from its API call through
every step of its provisioner); `shutdown` flushes what is batched.

Invariants: without the endpoint variable nothing of OpenTelemetry is imported and every function here is
a cheap no-op (the first call reads the environment once); spans carry identifiers and outcomes only,
never inputs, outputs or secrets; the SDK is configured once per process (service name from
`OTEL_SERVICE_NAME`, default "baryon"; the exporter reads the other `OTEL_EXPORTER_OTLP_*` variables
itself) with a BatchSpanProcessor that is flushed and shut down at exit; a missing SDK or a tracing error
never fails a request or a step (it is logged once and tracing stays off).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("baryon.tracing")

#: Span attribute names.
DEPLOYMENT = "baryon.deployment_id"
REQUEST_ID = "baryon.request_id"
ACCOUNT = "baryon.account"
REGION = "baryon.region"
STATUS = "http.response.status_code"
CODE = "baryon.code"
JOB = "baryon.job_id"
KIND = "baryon.job_kind"
STEP = "baryon.step"
OUTCOME = "baryon.outcome"
JOB_STATE = "baryon.job_state"
#: The job payload member that keeps the trace context of the span that created the job.
TRACEPARENT = "traceparent"

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

_lock = threading.Lock()
_configured = False
_tracer: Any = None
_provider: Any = None


def enabled() -> bool:
    """Whether spans are recorded in this process (configuring tracing on first use)."""
    return _get_tracer() is not None


def _get_tracer() -> Any:
    global _configured, _tracer, _provider
    if _configured:
        return _tracer
    with _lock:
        if _configured:
            return _tracer
        _configured = True
        if not any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
            return None
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as error:
            log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed (%s)", error)
            return None
        resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or "baryon"})
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        _provider = provider
        _tracer = provider.get_tracer("baryon")
        atexit.register(shutdown)
        return _tracer


def use_provider(provider: Any) -> None:
    """Record spans through `provider` (an SDK TracerProvider, e.g. with an in-memory exporter in tests)
    instead of the one the environment configures; None turns tracing off again."""
    global _configured, _tracer, _provider
    with _lock:
        _configured = True
        _provider = provider
        _tracer = provider.get_tracer("baryon") if provider is not None else None


def shutdown() -> None:
    """Flush the spans still batched and stop exporting (at exit, and when a server stops)."""
    provider = _provider
    if provider is not None:
        try:
            provider.shutdown()
        except Exception:  # exporting is best effort; stopping must go on
            log.exception("flushing the traces failed")


@contextmanager
def request_span(operation: str) -> Iterator[Any]:
    """The span of one API request, current inside the block; None when tracing is off."""
    tracer = _get_tracer()
    if tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    with tracer.start_as_current_span(operation or "(no operation)", kind=SpanKind.SERVER) as span:
        yield span


@contextmanager
def step_span(job_id: str, kind: str, step: int, payload: dict[str, Any]) -> Iterator[Any]:
    """The span of one job step, current inside the block, a child of the span that created the job
    (its payload's `traceparent`) where there was one; None when tracing is off."""
    tracer = _get_tracer()
    if tracer is None:
        yield None
        return
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carried = payload.get(TRACEPARENT)
    parent = TraceContextTextMapPropagator().extract({TRACEPARENT: str(carried)}) if carried else None
    attributes: dict[str, Any] = {JOB: job_id, KIND: kind, STEP: step}
    deployment = payload.get("deployment_id")
    if deployment:
        attributes[DEPLOYMENT] = str(deployment)
    with tracer.start_as_current_span(f"job {kind}", context=parent, attributes=attributes) as span:
        yield span


def set_attributes(span: Any, **attributes: str | int | None) -> None:
    """Set the attributes that have a value on `span` (nothing when it is None)."""
    if span is None:
        return
    for key, value in attributes.items():
        if value is not None:
            span.set_attribute(key, value)


def annotate_current(**attributes: str | int | None) -> None:
    """Set the attributes that have a value on the current span, when tracing is on."""
    if _get_tracer() is None:
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        set_attributes(span, **attributes)


def note_deployment(deployment_id: str) -> None:
    """Name `deployment_id` on the current span (the request that creates the deployment's job)."""
    if _get_tracer() is None:
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(DEPLOYMENT, deployment_id)


def traceparent() -> str | None:
    """The W3C traceparent of the current span, None when tracing is off or no span is current."""
    if _get_tracer() is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get(TRACEPARENT)
