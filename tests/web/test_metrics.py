"""GET /metrics over real HTTP: API requests counted by operation and result code and timed, settled
deployments counted by kind, provisioner and result, and the job table read at scrape time."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from baryon.runtime import Runtime
from baryon.store.credentials import Credential
from baryon.store.schema import jobs
from tests.api.test_environments import ROLE, SPEC, _published_env_template
from tests.support.api_server import ApiServer
from tests.support.clients import http_client
from tests.support.signed import send_http, sign
from tests.support.waiters import FAST

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def server(runtime: Runtime) -> Iterator[ApiServer]:
    api = ApiServer(runtime).start()
    yield api
    api.stop()


def _scrape(server: ApiServer) -> tuple[str, Samples]:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=30) as response:
        content_type = response.headers["content-type"]
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return content_type, samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_operation_and_code(server: ApiServer, credential: Credential) -> None:
    client = http_client(server.url, credential)
    _, before = _scrape(server)
    client.list_environments()
    client.list_environments()
    with pytest.raises(ClientError):
        client.get_environment(name="missing")
    content_type, after = _scrape(server)

    assert content_type.startswith("text/plain")
    requests = "baryon_api_requests_total"
    ok = {"operation": "ListEnvironments", "code": "200"}
    missing = {"operation": "GetEnvironment", "code": "ResourceNotFoundException"}
    assert _value(after, requests, **ok) - _value(before, requests, **ok) == 2
    assert _value(after, requests, **missing) - _value(before, requests, **missing) == 1
    count = "baryon_api_request_duration_seconds_count"
    assert (
        _value(after, count, operation="ListEnvironments")
        - _value(before, count, operation="ListEnvironments")
        == 2
    )
    assert (
        _value(after, count, operation="GetEnvironment") - _value(before, count, operation="GetEnvironment")
        == 1
    )


def test_a_deployment_is_counted_and_jobs_are_read_from_the_table(
    server: ApiServer, credential: Credential, runtime: Runtime, worker: Any, s3: Any
) -> None:
    client = http_client(server.url, credential)
    _published_env_template(client, s3)
    _, before = _scrape(server)
    client.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    client.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    _, after = _scrape(server)

    labels = {"kind": "ENVIRONMENT", "provisioner": "cloudformation", "result": "SUCCEEDED"}
    assert (
        _value(after, "baryon_deployments_total", **labels)
        - _value(before, "baryon_deployments_total", **labels)
        == 1
    )
    duration = "baryon_deployment_duration_seconds_count"
    assert (
        _value(after, duration, provisioner="cloudformation")
        - _value(before, duration, provisioner="cloudformation")
        == 1
    )

    worker.stop()  # its last step settles the job after the deployment: let it finish
    with runtime.database.read() as db:
        done = db.execute(sa.select(sa.func.count()).where(jobs.c.state == "done")).scalar_one()
    assert done >= 1
    _, now = _scrape(server)
    assert _value(now, "baryon_jobs", state="done") == done
    assert ("baryon_jobs", frozenset({("state", "failed")})) in now
    assert ("baryon_oldest_waiting_job_age_seconds", frozenset()) in now


def test_a_target_that_is_no_operation_is_counted_as_unknown(
    server: ApiServer, credential: Credential
) -> None:
    made_up = "NoSuchOperationZq7"
    body = b"{}"
    headers = sign(credential, made_up, body, endpoint=server.url)
    status, answer = send_http(server.url, headers, body)
    assert (status, answer["__type"].rsplit("#", 1)[-1]) == (400, "UnknownOperationException")
    _, after = _scrape(server)
    assert (
        _value(after, "baryon_api_requests_total", operation="unknown", code="UnknownOperationException") >= 1
    )
    assert not [key for key in after if ("operation", made_up) in key[1]]


def test_queued_requests_are_all_counted_at_scrape_time() -> None:
    """A request only queues its count; every queued one, over and under the batch size, is in a scrape."""
    from baryon import metrics

    stats = metrics._RequestStats()
    for index in range(metrics._BACKLOG + 7):
        stats.record("GetEnvironment", "200" if index % 3 else "ResourceNotFoundException", 0.003)
    stats.record("ListEnvironments", "200", 2.0)
    families = {family.name: family for family in stats.collect()}
    counts = {
        (sample.labels["operation"], sample.labels["code"]): sample.value
        for sample in families["baryon_api_requests"].samples
    }
    missing = (metrics._BACKLOG + 7 + 2) // 3
    assert counts == {
        ("GetEnvironment", "200"): metrics._BACKLOG + 7 - missing,
        ("GetEnvironment", "ResourceNotFoundException"): missing,
        ("ListEnvironments", "200"): 1,
    }
    timing = {
        (sample.name, sample.labels["operation"], sample.labels.get("le")): sample.value
        for sample in families["baryon_api_request_duration_seconds"].samples
    }
    assert (
        timing[("baryon_api_request_duration_seconds_bucket", "GetEnvironment", "0.005")]
        == metrics._BACKLOG + 7
    )
    assert (
        timing[("baryon_api_request_duration_seconds_count", "GetEnvironment", None)] == metrics._BACKLOG + 7
    )
    assert timing[("baryon_api_request_duration_seconds_bucket", "ListEnvironments", "1.0")] == 0
    assert timing[("baryon_api_request_duration_seconds_bucket", "ListEnvironments", "2.5")] == 1
    assert timing[("baryon_api_request_duration_seconds_sum", "ListEnvironments", None)] == 2.0
