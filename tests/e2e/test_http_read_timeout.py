"""A real `baryon server` closes connections whose request does not arrive whole within
BARYON_HTTP_READ_TIMEOUT: half-sent headers, half-sent bodies, many of them at once; whole requests are
served as before."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SECRET_KEY, free_port
from tests.support.processes import Process, baryon_env, run, wait_for_port

pytestmark = pytest.mark.e2e

#: How long the test waits for the server to close a connection before it fails (the server's limit is 1 s).
PATIENCE = 30.0
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: 38\r\n\r\nThe request was not received in time.\n"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    env = baryon_env(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'data' / 'baryon.db'}",
        SECRET_KEY,
        {"BARYON_HTTP_READ_TIMEOUT": "1"},
    )
    port = free_port()
    process = Process(["server", "--port", str(port)], env, tmp_path / "server.log")
    try:
        wait_for_port(port, process=process.popen)
        yield port
    finally:
        process.stop()
        assert "Traceback" not in process.output()


def _send(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
    sock.sendall(data)
    return sock


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (fails loudly after PATIENCE)."""
    received = b""
    with sock:
        while True:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                raise AssertionError(f"the server kept the connection open for {PATIENCE} s") from None
            if not chunk:
                return received
            received += chunk


def test_half_sent_headers_are_answered_408_and_closed(server: int) -> None:
    sock = _send(server, b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AwsProton20200720.Li")
    assert _until_closed(sock) == TIMEOUT_RESPONSE


def test_a_half_sent_body_is_answered_408_and_closed(server: int) -> None:
    head = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.0\r\n"
    sock = _send(server, head + b"Content-Length: 100\r\n\r\n" + b'{"name": "')
    assert _until_closed(sock) == TIMEOUT_RESPONSE


def test_a_connection_that_sends_nothing_is_closed(server: int) -> None:
    assert _until_closed(_send(server, b"")) == TIMEOUT_RESPONSE


def test_many_half_sent_requests_are_all_closed_and_the_server_still_answers(server: int) -> None:
    sockets = [_send(server, b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n") for _ in range(300)]
    assert {_until_closed(sock) for sock in sockets} == {TIMEOUT_RESPONSE}
    answer = _until_closed(
        _send(server, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    )
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b'{"status":"ok"}')


def test_a_bad_read_timeout_is_one_line(tmp_path: Path) -> None:
    env = baryon_env(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'data' / 'baryon.db'}",
        SECRET_KEY,
        {"BARYON_HTTP_READ_TIMEOUT": "soon"},
    )
    result = run(["server", "--port", str(free_port())], env)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "Error: BARYON_HTTP_READ_TIMEOUT must be a number of seconds above 0, not 'soon'."
    ]


def test_an_overlong_request_head_is_answered_431_and_closed(server: int) -> None:
    sock = _send(server, b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 70_000)
    assert _until_closed(sock) == (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"connection: close\r\ncontent-length: 51\r\n\r\nThe request's headers are larger than 65536 bytes.\n"
    )


def test_large_headers_and_body_below_the_limits_are_read_whole(server: int) -> None:
    body = b"x" * 500_000
    head = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Pad: " + b"p" * 60_000 + b"\r\n"
    answer = _until_closed(_send(server, head + b"Content-Length: %d\r\n\r\n" % len(body) + body))
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert answer.endswith(
        b'{"__type":"com.amazon.coral.service#MissingAuthenticationTokenException",'
        b'"message":"Request is missing Authentication Token"}'
    )
