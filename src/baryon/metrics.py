"""Prometheus metrics of the API and the engine, and their text exposition.

Invariants: the metric objects are module globals created once per process; when PROMETHEUS_MULTIPROC_DIR is
set (before this module is imported) prometheus_client keeps their values in files under that directory and
`exposition` merges the files of every process (so `baryon server --workers N` answers with the sum of its
workers); the job table metrics are read from the database at scrape time by `JobsCollector`, never kept.
API requests are counted by operation and by result code: "200" for a success, the AWS error code otherwise
(e.g. "ResourceNotFoundException"). With `BARYON_METRICS=off` (read once, at import) nothing is
recorded and `enabled()` is false, so the callers stop serving metrics. This module imports nothing of
Baryon's.
"""

from __future__ import annotations

import bisect
import itertools
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Values of BARYON_METRICS that turn metrics off (`baryon.config` refuses any but these and the on ones).
OFF = frozenset({"off", "0", "false", "no"})
_ENABLED = os.environ.get("BARYON_METRICS", "on").strip().lower() not in OFF


def enabled() -> bool:
    """Whether this process records and serves metrics (BARYON_METRICS, default on)."""
    return _ENABLED


_REQUESTS_HELP = "API requests, by operation and result code."
_DURATION_HELP = "Time to answer an API request, by operation."
#: The default buckets of a prometheus_client Histogram, "+Inf" last.
_BUCKETS = Histogram.DEFAULT_BUCKETS
_MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
#: Requests one process keeps before adding them to its request metrics.
_BACKLOG = 1024


def _bound(value: float) -> str:
    """A bucket's `le` label as prometheus_client writes it ("0.005", "1.0", "+Inf")."""
    return "+Inf" if value == float("inf") else repr(float(value))


class _RequestStats(Collector):
    """`baryon_api_requests_total` and `baryon_api_request_duration_seconds` for one process, counted in plain
    Python under one lock and turned into metric families at scrape time: prometheus_client's own counter and
    histogram take a lock per value and walk every bucket, which costs a tenth of a small request. (Several
    processes sharing their metrics, `--workers N`, use prometheus_client's objects instead.)"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: (operation, code) -> [requests, sum of seconds, requests per bucket…]
        self._entries: dict[tuple[str, str], list[float]] = {}
        #: Requests not yet added to `_entries`: a request only appends here; they are added in one go at
        #: scrape time or every `_BACKLOG` requests, which costs a fraction of adding each in its request.
        self._backlog: list[tuple[str, str, float]] = []

    def record(self, operation: str, code: str, seconds: float) -> None:
        with self._lock:
            self._backlog.append((operation, code, seconds))
            if len(self._backlog) >= _BACKLOG:
                self._add_backlog()

    def _add_backlog(self) -> None:
        """Add the backlog to the entries (the lock is held)."""
        entries = self._entries
        width = len(_BUCKETS) + 2
        for operation, code, seconds in self._backlog:
            entry = entries.get((operation, code))
            if entry is None:
                entry = entries[(operation, code)] = [0.0] * width
            entry[0] += 1
            entry[1] += seconds
            entry[bisect.bisect_left(_BUCKETS, seconds) + 2] += 1
        self._backlog.clear()

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            self._add_backlog()
            entries = {key: list(entry) for key, entry in self._entries.items()}
        requests = CounterMetricFamily("baryon_api_requests", _REQUESTS_HELP, labels=["operation", "code"])
        #: operation -> [sum of seconds, requests per bucket…], over every code
        durations: dict[str, list[float]] = {}
        for (operation, code), entry in sorted(entries.items()):
            requests.add_metric([operation, code], entry[0])
            found = durations.setdefault(operation, [0.0] * (len(_BUCKETS) + 1))
            for position, value in enumerate(entry[1:]):
                found[position] += value
        yield requests
        timing = HistogramMetricFamily(
            "baryon_api_request_duration_seconds", _DURATION_HELP, labels=["operation"]
        )
        for operation, found in sorted(durations.items()):
            cumulative = list(itertools.accumulate(found[1:]))
            buckets = [(_bound(bound), n) for bound, n in zip(_BUCKETS, cumulative, strict=True)]
            timing.add_metric([operation], buckets, found[0])
        yield timing


if _MULTIPROCESS:
    _API_REQUESTS = Counter("baryon_api_requests", _REQUESTS_HELP, ["operation", "code"])
    _API_DURATION = Histogram("baryon_api_request_duration_seconds", _DURATION_HELP, ["operation"])
    _REQUEST_STATS: _RequestStats | None = None
else:
    _REQUEST_STATS = _RequestStats()
    REGISTRY.register(_REQUEST_STATS)
DEPLOYMENTS = Counter(
    "baryon_deployments",
    "Deployments settled, by kind, provisioner and result.",
    ["kind", "provisioner", "result"],
)
DEPLOYMENT_DURATION = Histogram(
    "baryon_deployment_duration_seconds",
    "Time from a deployment's creation to its settling, by provisioner.",
    ["provisioner"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, float("inf")),
)


#: The label children of each (operation, code) seen (several processes only). Both are bounded: the caller
#: passes only model operation names (or "") and Baryon's own error codes.
_REQUEST_CHILDREN: dict[tuple[str, str], tuple[Any, Any]] = {}


def record_request(operation: str, code: str, seconds: float) -> None:
    """Count and time one API request. `operation` must be an operation of the model or "" (any other
    value would let a client mint label values); "" is counted as "unknown"."""
    if not _ENABLED:
        return
    if _REQUEST_STATS is not None:
        _REQUEST_STATS.record(operation or "unknown", code, seconds)
        return
    children = _REQUEST_CHILDREN.get((operation, code))
    if children is None:
        label = operation or "unknown"
        children = (_API_REQUESTS.labels(operation=label, code=code), _API_DURATION.labels(operation=label))
        _REQUEST_CHILDREN[(operation, code)] = children
    children[0].inc()
    children[1].observe(seconds)


def record_deployment(kind: str, provisioner: str, result: str, seconds: float) -> None:
    if not _ENABLED:
        return
    DEPLOYMENTS.labels(kind=kind, provisioner=provisioner, result=result).inc()
    DEPLOYMENT_DURATION.labels(provisioner=provisioner).observe(max(seconds, 0.0))


#: (counts by state, age in seconds of the oldest waiting job or None)
JobCounts = tuple[dict[str, int], float | None]


class JobsCollector(Collector):
    """`baryon_jobs{state}` and `baryon_oldest_waiting_job_age_seconds`, read by `read` at scrape time."""

    def __init__(self, read: Callable[[], JobCounts]) -> None:
        self.read = read

    def collect(self) -> Iterable[Metric]:
        counts, oldest = self.read()
        by_state = GaugeMetricFamily("baryon_jobs", "Jobs in the job table, by state.", labels=["state"])
        for state, count in sorted(counts.items()):
            by_state.add_metric([state], count)
        yield by_state
        yield GaugeMetricFamily(
            "baryon_oldest_waiting_job_age_seconds",
            "How long the oldest due, unclaimed job has waited (0 when none waits).",
            value=oldest or 0.0,
        )


class _WithExtra(Collector):
    """This process's metrics followed by `extra`'s."""

    def __init__(self, extra: Collector) -> None:
        self.extra = extra

    def collect(self) -> Iterable[Metric]:
        yield from REGISTRY.collect()
        yield from self.extra.collect()


def serve(host: str, port: int, extra: Collector) -> Callable[[], None]:
    """Serve this process's metrics and `extra`'s over HTTP at host:port (any path) in a thread of its own;
    the function returned stops it."""
    registry = CollectorRegistry()
    registry.register(_WithExtra(extra))
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop


def exposition(extra: Collector | None = None) -> bytes:
    """The metrics of this process (of every process, in multiprocess mode) and of `extra`."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    if extra is not None:
        own = CollectorRegistry()
        own.register(extra)
        text += generate_latest(own)
    return text
