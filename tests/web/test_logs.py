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


@pytest.fixture
def bare_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[logging.Logger]:
    """The root logger, restored afterwards; a test empties its handlers (the runner's capture handler is
    added when the test starts) to have it as a Baryon process has it before `configure`."""
    monkeypatch.setenv("BARYON_LOG_FORMAT", "json")
    monkeypatch.setattr(logs, "_direct", None)
    root = logging.getLogger()
    requests = logging.getLogger("baryon.api.requests")
    handlers, level, own_level = root.handlers[:], root.level, requests.level
    requests.setLevel(logging.NOTSET)
    yield root
    root.handlers = handlers
    root.setLevel(level)
    requests.setLevel(own_level)


FIELDS = {
    "request_id": "r-1",
    "account": ACCOUNT,
    "operation": "ListEnvironments",
    "status": 200,
    "code": "200",
}


def test_emit_writes_the_line_logging_would(bare_root: logging.Logger) -> None:
    bare_root.handlers = []
    stream = io.StringIO()
    logs.configure("info", stream)
    logger = logging.getLogger("baryon.api.requests")
    assert logs._direct_handler(logger) is bare_root.handlers[0]
    logs.emit(logger, logging.INFO, "ListEnvironments 200 200", {**FIELDS, "body": "not-a-field"})
    direct = json.loads(stream.getvalue())
    record = logger.makeRecord(
        logger.name, logging.INFO, "f", 1, "ListEnvironments 200 200", (), None, extra=FIELDS
    )
    through_logging = json.loads(logs.JsonFormatter().format(record))
    assert direct.pop("time")[:19] <= through_logging.pop("time")[:19]
    assert direct == through_logging
    assert "not-a-field" not in stream.getvalue()

    logs.emit(logger, logging.DEBUG, "not at this level", FIELDS)
    assert len(stream.getvalue().splitlines()) == 1


def test_emit_goes_through_logging_when_another_handler_listens(bare_root: logging.Logger) -> None:
    bare_root.handlers = []
    stream = io.StringIO()
    logs.configure("info", stream)
    logger = logging.getLogger("baryon.api.requests")
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    extra = Keep()
    logging.getLogger("baryon.api").addHandler(extra)
    try:
        assert logs._direct_handler(logger) is None
        logs.emit(logger, logging.INFO, "ListEnvironments 200 200", FIELDS)
    finally:
        logging.getLogger("baryon.api").removeHandler(extra)
    assert [(record.getMessage(), record.__dict__["request_id"]) for record in seen] == [
        ("ListEnvironments 200 200", "r-1")
    ]
    line = json.loads(stream.getvalue())
    assert (line["message"], line["operation"], line["logger"]) == (
        "ListEnvironments 200 200",
        "ListEnvironments",
        "baryon.api.requests",
    )
