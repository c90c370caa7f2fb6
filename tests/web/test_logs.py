"""Structured logs: one line per API request and per job step, as JSON objects with their fields, never a
request body or a secret; BARYON_LOG_FORMAT picks the format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from baryon import logs
from baryon.runtime import Runtime
from baryon.store.credentials import Credential
from tests.api.test_environments import ROLE, SPEC, _published_env_template
from tests.conftest import ACCOUNT
from tests.support.api_server import ApiServer
from tests.support.clients import http_client
from tests.support.waiters import FAST


@pytest.fixture
def server(runtime: Runtime) -> Iterator[ApiServer]:
    api = ApiServer(runtime).start()
    yield api
    api.stop()


def _lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[dict[str, Any]]:
    formatter = logs.JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records if record.name == logger]


def test_each_request_is_one_json_line_with_its_fields(
    server: ApiServer, credential: Credential, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="baryon.api.requests")
    client = http_client(server.url, credential)
    client.create_environment_template(name="secretive", description="do-not-log-this-description")
    with pytest.raises(ClientError):
        client.get_environment(name="missing")

    lines = _lines(caplog, "baryon.api.requests")
    assert [(line["operation"], line["status"], line["code"]) for line in lines] == [
        ("CreateEnvironmentTemplate", 200, "200"),
        ("GetEnvironment", 400, "ResourceNotFoundException"),
    ]
    for line in lines:
        assert line["account"] == ACCOUNT
        assert line["region"] == "us-east-1"
        assert len(line["request_id"]) == 36
        assert line["duration_ms"] >= 0
        text = json.dumps(line)
        assert "do-not-log-this-description" not in text
        assert credential.secret_access_key not in text


def test_each_job_step_is_one_json_line_naming_its_deployment(
    server: ApiServer,
    credential: Credential,
    worker: Any,
    s3: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="baryon.engine.steps")
    client = http_client(server.url, credential)
    _published_env_template(client, s3)
    client.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    client.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    deployment_id = client.get_environment(name="dev")["environment"]["lastAttemptedDeploymentId"]
    worker.stop()  # its last step settles the job after the deployment: let it finish

    steps = [
        line for line in _lines(caplog, "baryon.engine.steps") if line.get("deployment") == deployment_id
    ]
    assert steps, "no step of the deployment was logged"
    assert {line["kind"] for line in steps} == {"deploy"}
    assert steps[-1]["outcome"] == "done"
    assert all(line["job"] and line["status"] in ("queued", "done", "failed") for line in steps)


def test_the_format_follows_baryon_log_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BARYON_LOG_FORMAT", "json")
    assert isinstance(logs.formatter(io.StringIO()), logs.JsonFormatter)
    monkeypatch.setenv("BARYON_LOG_FORMAT", "text")
    assert not isinstance(logs.formatter(io.StringIO()), logs.JsonFormatter)
    monkeypatch.delenv("BARYON_LOG_FORMAT")
    # Not a terminal: JSON.
    assert isinstance(logs.formatter(io.StringIO()), logs.JsonFormatter)
    monkeypatch.setenv("BARYON_LOG_FORMAT", "xml")
    with pytest.raises(ValueError) as refused:
        logs.formatter(io.StringIO())
    assert str(refused.value) == "BARYON_LOG_FORMAT must be one of json, text, not 'xml'."
