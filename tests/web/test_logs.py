"""Structured logs: one line per API request and per job step, as JSON objects with their fields, never a
request body or a secret; BARYON_LOG_FORMAT picks the format."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
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
    bare_root.handlers[0].flush()
    direct = json.loads(stream.getvalue())
    record = logger.makeRecord(
        logger.name, logging.INFO, "f", 1, "ListEnvironments 200 200", (), None, extra=FIELDS
    )
    through_logging = json.loads(logs.JsonFormatter().format(record))
    assert direct.pop("time")[:19] <= through_logging.pop("time")[:19]
    assert direct == through_logging
    assert "not-a-field" not in stream.getvalue()

    logs.emit(logger, logging.DEBUG, "not at this level", FIELDS)
    bare_root.handlers[0].flush()
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
    bare_root.handlers[0].flush()
    assert [(record.getMessage(), record.__dict__["request_id"]) for record in seen] == [
        ("ListEnvironments 200 200", "r-1")
    ]
    line = json.loads(stream.getvalue())
    assert (line["message"], line["operation"], line["logger"]) == (
        "ListEnvironments 200 200",
        "ListEnvironments",
        "baryon.api.requests",
    )


def _messages(stream: io.StringIO) -> list[str]:
    return [json.loads(line)["message"] for line in stream.getvalue().splitlines()]


def test_json_lines_are_written_in_batches_and_in_order(bare_root: logging.Logger) -> None:
    bare_root.handlers = []
    stream = io.StringIO()
    logs.configure("info", stream)
    (handler,) = bare_root.handlers
    assert isinstance(handler, logs.BatchedStreamHandler)
    logger = logging.getLogger("baryon.api.requests")
    written = threading.Event()
    original = handler._write_pending

    def noting() -> None:
        original()
        if stream.getvalue():
            written.set()

    handler._write_pending = noting  # type: ignore[method-assign]
    logs.emit(logger, logging.INFO, "first", FIELDS)
    logging.getLogger("baryon.engine").info("second")
    # The writer thread writes the batch a moment later, without anything else happening.
    assert written.wait(timeout=10)
    assert _messages(stream) == ["first", "second"]

    # A warning is written at once, after what waited before it.
    logs.emit(logger, logging.INFO, "third", FIELDS)
    logging.getLogger("baryon.engine").warning("fourth")
    assert _messages(stream) == ["first", "second", "third", "fourth"]

    # A full batch is written at once.
    for index in range(logs.MAX_PENDING):
        logs.emit(logger, logging.INFO, f"many-{index}", FIELDS)
    assert _messages(stream)[-1] == f"many-{logs.MAX_PENDING - 1}"


def test_a_process_that_exits_writes_every_line(tmp_path: Path) -> None:
    """Lines still waiting when a process ends (normally or by an uncaught exception) are written."""
    script = (
        "import logging, sys\n"
        "from baryon import logs\n"
        "logs.configure('info', sys.stderr)\n"
        "log = logging.getLogger('baryon.api.requests')\n"
        "for index in range(3):\n"
        "    logs.emit(log, logging.INFO, f'line-{index}', {'request_id': str(index)})\n"
        "if sys.argv[1] == 'raise':\n"
        "    raise SystemExit(3)\n"
    )
    for how, code in (("end", 0), ("raise", 3)):
        env = {**os.environ, "BARYON_LOG_FORMAT": "json"}
        done = subprocess.run(
            [sys.executable, "-c", script, how], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == code, done.stderr
        messages = [json.loads(line)["message"] for line in done.stderr.splitlines()]
        assert messages == ["line-0", "line-1", "line-2"]


def test_a_batch_as_old_as_the_interval_is_written_by_the_next_line() -> None:
    stream = io.StringIO()
    handler = logs.BatchedStreamHandler(stream, interval=3600.0)
    handler.write_line("one\n")
    assert stream.getvalue() == ""
    handler._since -= 3600.0
    handler.write_line("two\n")
    assert stream.getvalue() == "one\ntwo\n"
    handler.write_later(lambda word: f"{word}\n", "three")
    assert stream.getvalue() == "one\ntwo\n"
    handler.flush()
    assert stream.getvalue() == "one\ntwo\nthree\n"


def test_logging_never_fails_its_caller() -> None:
    """A line that cannot be formatted is replaced by one that says so; a stream that cannot be written to
    loses its batch, and the caller goes on."""

    def broken(_: str) -> str:
        raise ValueError("not a line")

    stream = io.StringIO()
    handler = logs.BatchedStreamHandler(stream, interval=3600.0)
    handler.write_later(broken, "x")
    handler.write_line("after\n", urgent=True)
    first, second = stream.getvalue().splitlines()
    assert json.loads(first)["message"] == "a log line could not be formatted: ValueError('not a line')"
    assert second == "after"

    class Full(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    handler = logs.BatchedStreamHandler(Full(), interval=3600.0)
    handler.write_line("lost\n", urgent=True)
    handler.write_line("lost too\n")
    handler.flush()
    assert handler._pending == []
